/**
 * The Python peers (Keras 3 on JAX, Lightning on torch) in a cached venv at bench/.venv. If the venv or
 * the packages cannot be had, the peers are skipped with the reason; the bench itself still succeeds.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { CaseResult, Rep } from './result.js';
import { BENCH_DIR } from './workdir.js';

const VENV = join(BENCH_DIR, '.venv');
const PYTHON = join(VENV, 'bin', 'python');
const PIP_FLAGS = ['install', '--retries', '0', '--timeout', '2', '--disable-pip-version-check'];

export const PEER_ENV: NodeJS.ProcessEnv = { ...process.env, KERAS_BACKEND: 'jax', JAX_PLATFORMS: 'cpu', PYTHONUNBUFFERED: '1' };

interface PeerSpec {
  script: string;
  /** The fit-overhead script (bench/peers/fit_common.py): WIDTH DIR ROUNDS. */
  fitScript: string;
  /** Python that must import for the peer to run. */
  probe: string;
  /** pip requirement sets to try in order. */
  installs: string[][];
}

export const PEERS: Record<'keras' | 'lightning', PeerSpec> = {
  keras: { script: join(BENCH_DIR, 'peers', 'keras_ckpt.py'), fitScript: join(BENCH_DIR, 'peers', 'keras_fit.py'), probe: 'import keras, jax, h5py', installs: [['keras', 'jax', 'h5py']] },
  lightning: {
    script: join(BENCH_DIR, 'peers', 'lightning_ckpt.py'),
    fitScript: join(BENCH_DIR, 'peers', 'lightning_fit.py'),
    probe: 'import torch\ntry:\n import lightning.pytorch\nexcept ImportError:\n import pytorch_lightning',
    installs: [
      ['torch', 'lightning'],
      ['torch', 'pytorch-lightning'],
    ],
  },
};
export type PeerName = keyof typeof PEERS;

export interface PeerSetup {
  python?: string;
  /** Per peer: undefined when ready, else why it is skipped. */
  skipped: Partial<Record<PeerName, string>>;
  log: string[];
}

function run(cmd: string, args: string[], timeoutMs: number): { ok: boolean; output: string } {
  const r = spawnSync(cmd, args, { env: PEER_ENV, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}`.trim();
  return { ok: r.status === 0, output };
}

function lastLines(text: string, n = 3): string {
  return text.split('\n').slice(-n).join(' | ');
}

const imports = (peer: PeerName): boolean => run(PYTHON, ['-c', PEERS[peer].probe], 120_000).ok;

/** Creates the venv and installs only what is missing; cached between runs. */
export function preparePeers(wanted: PeerName[], say: (m: string) => void): PeerSetup {
  const setup: PeerSetup = { skipped: {}, log: [] };
  if (wanted.length === 0) return setup;
  if (!existsSync(PYTHON)) {
    say('peers: creating bench/.venv');
    const venv = run('python3', ['-m', 'venv', VENV], 300_000);
    if (!venv.ok) {
      for (const p of wanted) setup.skipped[p] = `python3 -m venv failed: ${lastLines(venv.output)}`;
      return setup;
    }
  }
  for (const peer of wanted) {
    if (imports(peer)) continue;
    let lastError = '';
    for (const reqs of PEERS[peer].installs) {
      say(`peers: pip install ${reqs.join(' ')} (for ${peer})`);
      const pip = run(PYTHON, ['-m', 'pip', ...PIP_FLAGS, ...reqs], 20 * 60_000);
      if (pip.ok && imports(peer)) {
        lastError = '';
        break;
      }
      lastError = pip.ok ? `installed ${reqs.join(' ')} but the import still fails` : `pip install ${reqs.join(' ')} failed: ${lastLines(pip.output)}`;
    }
    if (lastError) setup.skipped[peer] = lastError;
  }
  setup.python = PYTHON;
  return setup;
}

interface PeerJson {
  peer: string;
  params: number;
  blocked_ms: number[];
  extra_peak_mib: number[];
  first_blocked_ms: number;
  versions: Record<string, string>;
}

/** Turns a peer script's JSON into the same shape as a TF.js case. */
export function peerResult(name: PeerName, sizeKey: string, json: unknown): CaseResult {
  const j = json as PeerJson;
  if (!Array.isArray(j?.blocked_ms) || j.blocked_ms.length === 0) throw new Error(`peer ${name} printed no save times`);
  // A synchronous save in Python: the main thread's time per checkpoint is the save call's time.
  const reps: Rep[] = j.blocked_ms.map((ms, i) => ({ blocked_ms: ms, main_ms: ms, extra_peak_mib: j.extra_peak_mib[i] ?? NaN }));
  return {
    case: name,
    size: sizeKey,
    params: j.params,
    bytes: j.params * 4,
    reps,
    warmup: { blocked_ms: j.first_blocked_ms, main_ms: j.first_blocked_ms },
    info: { ...j.versions },
  };
}

interface PeerFitJson {
  params: number;
  save_ms: number;
  per_batch_ms: number;
  epochs: number;
  plans: { multiple: number; batches: number; rounds: { none: { wall_ms: number; epoch_ms: number }; ckpt: { wall_ms: number; epoch_ms: number } }[] }[];
  versions: Record<string, string>;
}

/**
 * Turns a peer fit script's JSON into the shape of bench/cases/fit.ts, its checkpoint as the 'weights'
 * variant (the peers save weights only); the multiple is of the peer's own save time.
 */
export function peerFitResult(name: PeerName, sizeKey: string, json: unknown): CaseResult {
  const j = json as PeerFitJson;
  if (!Array.isArray(j?.plans) || j.plans.length === 0) throw new Error(`peer ${name} printed no fit times`);
  const rounds = Math.min(...j.plans.map((p) => p.rounds.length));
  const reps: Rep[] = [];
  for (let r = 0; r < rounds; r++) {
    const rep: Rep = {};
    for (const plan of j.plans) {
      const { none, ckpt } = plan.rounds[r]!;
      const m = `x${plan.multiple}`;
      rep[`${m}_none_ms`] = none.wall_ms;
      rep[`${m}_epoch_ms`] = none.epoch_ms;
      rep[`${m}_multiple`] = none.epoch_ms / j.save_ms;
      rep[`${m}_weights_pct`] = (100 * (ckpt.wall_ms - none.wall_ms)) / none.wall_ms;
      rep[`${m}_weights_epoch_pct`] = (100 * (ckpt.epoch_ms - none.epoch_ms)) / none.epoch_ms;
    }
    reps.push(rep);
  }
  return {
    case: `${name}-fit`,
    size: sizeKey,
    params: j.params,
    bytes: j.params * 4,
    reps,
    info: {
      plans: j.plans.map((p) => p.multiple).join(','),
      ...Object.fromEntries(j.plans.map((p) => [`x${p.multiple}_batches`, p.batches])),
      epochs: j.epochs,
      saveMs: Number(j.save_ms.toFixed(1)),
      perBatchMs: Number(j.per_batch_ms.toFixed(2)),
      ...j.versions,
    },
  };
}
