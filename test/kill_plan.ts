/**
 * What the kill harnesses share: the plan of where to SIGKILL a child, and running a tsx child that
 * is killed as planned. A plan aims at a window (`OP <kind> <scope>` lines, see
 * fixtures/announcing_fs.ts) or at a random time; plans come from the tests' seeded PRNG, so a
 * failing campaign replays its plans from the seed it prints.
 */
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';

export type KillPlan =
  /** Kill `delayMs` after the `occurrence`-th `OP <window>` line; `hold` stops the child's save right there meanwhile. */
  | { type: 'window'; window: string; occurrence: number; hold: boolean; delayMs: number }
  /** Kill `delayMs` after READY. */
  | { type: 'time'; delayMs: number };

export interface ChildResult {
  lines: string[];
  /** True when our SIGKILL ended it. */
  killed: boolean;
  /** The last `OP` window announced before the end (where a kill landed). */
  lastOp: string | undefined;
  /** True when the watchdog had to end it (a bug: a held child never killed, or a hang). */
  hung: boolean;
  code: number | null;
  stderr: string;
}

export interface ChildOptions {
  script: string;
  args: string[];
  plan?: KillPlan | undefined;
  /** Ends a child that runs longer than this (reported as hung). */
  watchdogMs?: number;
  /** Called for every stdout line as it arrives. */
  onLine?: (line: string) => void;
}

/** The arguments that make a child hold at the planned window (see announcing_fs.ts). */
export function holdArgs(plan: KillPlan | undefined): string[] {
  if (plan?.type !== 'window' || !plan.hold) return [];
  const [kind, scope] = plan.window.split(' ');
  return [kind!, scope!, String(plan.occurrence)];
}

/** Runs a tsx child, SIGKILLing it as planned (if it still runs by then). */
export function runChild(options: ChildOptions): { done: Promise<ChildResult>; kill: () => boolean; pid: number | undefined } {
  const { plan } = options;
  const child = spawn(process.execPath, ['--import', 'tsx', options.script, ...options.args, ...holdArgs(plan)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const result: ChildResult = { lines: [], killed: false, lastOp: undefined, hung: false, code: null, stderr: '' };
  let buffer = '';
  let timer: NodeJS.Timeout | undefined;
  let aimed = 0;
  const kill = () => (result.killed = child.kill('SIGKILL'));
  const arm = (delayMs: number) => {
    timer ??= setTimeout(kill, delayMs);
  };
  const watchdog = setTimeout(() => {
    result.hung = true;
    child.kill('SIGKILL');
  }, options.watchdogMs ?? 300_000);
  child.stdout.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    for (let at = buffer.indexOf('\n'); at >= 0; at = buffer.indexOf('\n')) {
      const line = buffer.slice(0, at);
      buffer = buffer.slice(at + 1);
      result.lines.push(line);
      if (line.startsWith('OP ')) result.lastOp = line.slice(3);
      options.onLine?.(line);
      if (plan?.type === 'time' && line === 'READY') arm(plan.delayMs);
      if (plan?.type === 'window' && line === `OP ${plan.window}` && ++aimed === plan.occurrence) arm(plan.delayMs);
    }
  });
  child.stderr.on('data', (chunk: Buffer) => (result.stderr += chunk.toString()));
  const done = new Promise<ChildResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      clearTimeout(watchdog);
      result.code = code;
      result.killed = result.killed && code === null && !result.hung;
      resolve(result);
    });
  });
  return { done, kill, pid: child.pid };
}

/** Names of this library's temporaries (`.name.tmp-*`, `.name.old-*`) in `dir`. */
export async function temporariesIn(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return names.filter((n) => n.startsWith('.') && (n.includes('.tmp-') || n.includes('.old-')));
}

/** Adds one to `counts[key]`. */
export function tally(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}
