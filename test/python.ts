/**
 * The Python the live interop checks run (real Keras 3 with the JAX backend, h5py, safetensors):
 * `TFJS_CKPT_PYTHON`, else `<repo>/.venv-interop/bin/python`, else `<repo>/bench/.venv/bin/python`,
 * the first that exists and imports keras, h5py and safetensors. Found once per process.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../', import.meta.url));

/** Why the live checks were skipped, in words a CI log reader cannot miss. */
export const NO_PYTHON_MESSAGE = 'live Keras/safetensors cross-checks did NOT run: no Python with keras, h5py and safetensors (run bash .ci/run, or set TFJS_CKPT_PYTHON)';

const PYTHON_ENV = { ...process.env, KERAS_BACKEND: 'jax', TF_CPP_MIN_LOG_LEVEL: '3', PYTHONUNBUFFERED: '1' };

let found: { python: string | undefined } | undefined;
let warned = false;

function usable(python: string): boolean {
  if (!existsSync(python)) return false;
  const r = spawnSync(python, ['-c', 'import keras, h5py, safetensors, safetensors.numpy'], { env: PYTHON_ENV, encoding: 'utf8', timeout: 120_000 });
  return r.status === 0;
}

/** The Python to run live checks with, or undefined (and the skip message once on stderr). */
export function findPython(): string | undefined {
  if (!found) {
    const candidates = [process.env['TFJS_CKPT_PYTHON'], join(REPO, '.venv-interop/bin/python'), join(REPO, 'bench/.venv/bin/python')];
    found = { python: candidates.find((c): c is string => !!c && usable(c)) };
  }
  if (found.python === undefined && !warned) {
    warned = true;
    console.warn(NO_PYTHON_MESSAGE);
  }
  return found.python;
}

/**
 * Runs `script` with the found Python (`KERAS_BACKEND=jax`): `input` as JSON on stdin, the result as
 * JSON on the last line of stdout. Throws with the tail of stderr when Python fails.
 */
export function runPython(script: string, input: unknown, { timeout = 120_000 } = {}): unknown {
  const python = findPython();
  if (python === undefined) throw new Error(NO_PYTHON_MESSAGE);
  const r = spawnSync(python, ['-c', script], { env: PYTHON_ENV, input: JSON.stringify(input), encoding: 'utf8', timeout, maxBuffer: 1 << 28 });
  const tail = (s: string | null | undefined) => (s ?? '').split('\n').slice(-60).join('\n');
  if (r.error) throw new Error(`python failed to run (${r.error.message}):\n${tail(r.stderr)}`);
  if (r.status !== 0) throw new Error(`python exited with ${r.status ?? r.signal}:\n${tail(r.stderr)}`);
  const last = r.stdout.trimEnd().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(last);
  } catch {
    throw new Error(`python printed no JSON last line:\nstdout: ${tail(r.stdout)}\nstderr: ${tail(r.stderr)}`);
  }
}
