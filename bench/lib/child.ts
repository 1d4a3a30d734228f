/**
 * Runs a case in a child process, under /usr/bin/time when present for the whole-process peak RSS,
 * and takes the last JSON line of its stdout as the result.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { nowMs } from './stats.js';
import { WORK_DIR } from './workdir.js';

const TIME = '/usr/bin/time';

export interface ChildOutcome {
  json?: unknown;
  error?: string;
  maxRssMiB?: number;
  wallMs: number;
}

function lastJsonLine(stdout: string): unknown {
  const lines = stdout.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('{'));
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      return JSON.parse(lines[i]!);
    } catch {
      // not ours; keep looking
    }
  }
  return undefined;
}

/** The thrown error's own line(s) when there is one, else the end of the output. */
function summary(text: string): string {
  const lines = text.trim().split('\n');
  const at = lines.findIndex((l) => /^\s*(\w*Error|Error)\b.*:/.test(l) || /^\s*\w+Error:/.test(l));
  if (at >= 0) return lines.slice(at, at + 2).join('\n').trim();
  return lines.slice(-12).join('\n');
}

export function runChild(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<ChildOutcome> {
  const timeFile = join(WORK_DIR, `time-${process.pid}-${Math.random().toString(36).slice(2)}.txt`);
  const useTime = existsSync(TIME);
  const [cmd, argv] = useTime ? [TIME, ['-f', '%M', '-o', timeFile, command, ...args]] : [command, args];
  const t0 = nowMs();
  return new Promise((resolve) => {
    // Own process group, so a timeout can stop the case and anything it started, and nothing else.
    const child = spawn(cmd, argv, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }, options.timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const wallMs = nowMs() - t0;
      let maxRssMiB: number | undefined;
      if (useTime && existsSync(timeFile)) {
        const kb = Number(readFileSync(timeFile, 'utf8').trim().split('\n').pop());
        if (Number.isFinite(kb) && kb > 0) maxRssMiB = kb / 1024;
        rmSync(timeFile, { force: true });
      }
      const json = lastJsonLine(stdout);
      if (code === 0 && json !== undefined) return resolve({ json, maxRssMiB, wallMs });
      const why = timedOut ? `timed out after ${Math.round(options.timeoutMs / 1000)} s` : `exited with ${signal ?? `code ${code}`}`;
      resolve({ error: `${why}: ${summary(stderr) || summary(stdout) || '(no output)'}`, maxRssMiB, wallMs });
    });
  });
}
