/**
 * Who wrote a temporary, so leftover cleanup never deletes the work of a writer that is still
 * running, and never spares a crashed writer's leftovers because its pid was reused. A token is
 * `<pid>-<start>-<random>`: `<start>` is the process's start time in clock ticks since boot (Linux
 * `/proc/<pid>/stat`, field 22), which together with the pid names one process for the machine's
 * uptime. Where /proc is missing, `<start>` is 0 and only the pid is checked. Temporaries of this
 * process are alive exactly while they are registered here.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

function startTicks(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // The command name (field 2) is parenthesised and may hold spaces: count fields after its ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = fields[19];
    return ticks !== undefined && /^\d+$/.test(ticks) ? BigInt(ticks).toString(36) : undefined;
  } catch {
    return undefined;
  }
}

const selfStart = startTicks(process.pid) ?? '0';

/** Paths of this process's temporaries that are still being written, replaced or deleted. */
const liveTemporaries = new Set<string>();

export function uniqueToken(): string {
  return `${process.pid}-${selfStart}-${randomBytes(4).toString('hex')}`;
}

/** Marks a temporary as in use by this process until the returned function is called. */
export function holdTemporary(path: string): () => void {
  liveTemporaries.add(path);
  return () => liveTemporaries.delete(path);
}

const TOKEN = /(?:\.tmp-|\.old-)(\d+)-(?:([0-9a-z]+)-)?[0-9a-f]+$/;

/**
 * True when the temporary at `path` (named `entry`) may still belong to a running writer: one of this
 * process's live temporaries, or one whose writer process (same pid and start time) still runs.
 */
export function writerMayBeAlive(path: string, entry: string): boolean {
  const match = TOKEN.exec(entry);
  if (!match) return false;
  const pid = Number(match[1]);
  const start = match[2];
  if (pid === process.pid && (start === undefined || start === selfStart)) return liveTemporaries.has(path);
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  // The pid runs: it is the writer unless /proc says it started at another time (the pid was reused).
  if (start === undefined || start === '0') return true;
  const running = startTicks(pid);
  return running === undefined || running === start;
}
