/** Shared test fixtures: temporary directories, small seeded models, a capturing logger. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import type { CheckpointLogger } from '../src/index.js';
import { maxAbsDiff, seededRandom, smallClassifier, toyData, weightsOf } from './model_helpers.js';

// The Node-free helpers live in model_helpers.ts (the browser pages use them); every test imports them from here as before.
export { maxAbsDiff, seededRandom, smallClassifier, toyData, weightsOf };

const made: string[] = [];
after(async () => {
  await Promise.all(made.map((d) => rm(d, { recursive: true, force: true })));
});

/** A fresh directory, removed when the test file ends. */
export async function tempDir(prefix = 'tfjs-ckpt-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

export interface CapturedLogger extends CheckpointLogger {
  lines: string[];
  warnings: string[];
}

export function captureLogger(): CapturedLogger {
  const lines: string[] = [];
  const warnings: string[] = [];
  return { lines, warnings, log: (m) => lines.push(m), warn: (m) => warnings.push(m) };
}

/** A promise with its resolver, to hold an operation until a test lets it go. */
export function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

/** The pid of a process that has exited: temporaries named with it are a dead writer's. */
export function deadPid(): string {
  return spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
}

/**
 * Asserts two byte arrays are equal, reporting the lengths and the first offset where they differ
 * (a failing `deepEqual` on megabytes prints every byte: millions of lines of test output).
 */
export function assertSameBytes(actual: Uint8Array, expected: Uint8Array, label = 'bytes'): void {
  const view = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (view(actual).equals(view(expected))) return;
  const length = Math.min(actual.byteLength, expected.byteLength);
  let at = 0;
  while (at < length && actual[at] === expected[at]) at++;
  assert.fail(`${label}: ${actual.byteLength} bytes where ${expected.byteLength} were expected; they first differ at offset ${at} (${actual[at] ?? 'end'} for ${expected[at] ?? 'end'})`);
}
