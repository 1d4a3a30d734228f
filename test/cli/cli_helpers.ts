/**
 * What the CLI tests share: the built CLI run as a subprocess (built first when this checkout has no
 * dist/), and checkpoints made by real, seeded training (shuffle: false), once per test file.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CheckpointManager, modelCheckpoint } from '../../src/index.js';
import { smallClassifier, toyData } from '../helpers.js';

export const CLI = join(process.cwd(), 'dist/esm/cli/main.js');

/** Builds dist/ when missing (.ci/run builds first; a bare `npm test` in a fresh clone does not). */
export function ensureBuilt(): void {
  if (existsSync(CLI)) return;
  const built = spawnSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
  assert.equal(built.status, 0, 'npm run build failed');
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI with `args`; stdout and stderr are pipes (not a terminal). */
export function runCli(args: string[], env: Record<string, string | undefined> = {}, cwd = process.cwd()): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const childEnv: Record<string, string | undefined> = { ...process.env, ...env };
    delete childEnv['NODE_TEST_CONTEXT'];
    delete childEnv['NODE_OPTIONS'];
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** util-linux `script`, which runs a command on a pseudo-terminal (for what the CLI does only on a terminal). */
export const NO_SCRIPT = existsSync('/usr/bin/script') ? undefined : 'no /usr/bin/script (util-linux) to run the CLI on a terminal';

/**
 * Runs the built CLI on a pseudo-terminal (stdin, stdout and stderr all a TTY), feeding `input` to
 * it; `output` is everything it wrote, stdout and stderr together, as the terminal received it.
 */
export function runOnTerminal(args: string[], env: Record<string, string> = {}, input = ''): Promise<{ code: number | null; output: string }> {
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const command = [process.execPath, CLI, ...args].map(quote).join(' ');
  return new Promise((resolve, reject) => {
    const childEnv: Record<string, string | undefined> = { ...process.env, ...env, TERM: 'xterm' };
    delete childEnv['NODE_TEST_CONTEXT'];
    delete childEnv['NODE_OPTIONS'];
    if (!('NO_COLOR' in env)) delete childEnv['NO_COLOR'];
    const child = spawn('/usr/bin/script', ['-qec', command, '/dev/null'], { env: childEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (output += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (output += s));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
    child.stdin.end(input);
  });
}

/** Asserts a failure is one clear line on stderr, with no stack trace. */
export function assertOneLineError(result: CliResult, pattern: RegExp): void {
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one stderr line expected, got:\n${result.stderr}`);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(result.stderr, /\n\s+at /);
}

export const ANSI = /\u001b\[/;

/**
 * Trains the small classifier for `epochs` epochs with a checkpoint per epoch at `filepath`
 * (monitor val_loss), returning the trained model. Seeded and unshuffled: the same every run.
 */
export async function trainWithCheckpoints(filepath: string, { epochs = 5, saveWeightsOnly = false, monitor = 'val_loss' } = {}): Promise<tf.LayersModel> {
  const model = smallClassifier(3);
  const { x, y } = toyData(48);
  await model.fit(x, y, {
    epochs,
    batchSize: 16,
    shuffle: false,
    verbose: 0,
    validationSplit: 0.25,
    callbacks: [modelCheckpoint({ filepath, monitor, saveWeightsOnly, asyncSave: false })],
  });
  x.dispose();
  y.dispose();
  return model;
}

export { CheckpointManager, smallClassifier, toyData };
