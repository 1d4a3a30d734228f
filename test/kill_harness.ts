/**
 * The kill campaign: runs the kill child, SIGKILLs it at random moments, restarts it, and after every
 * kill checks the promises of durable checkpoints. Used by kill.test.ts (a few dozen kills) and by
 * `npm run stress` (hundreds).
 */
import * as tf from '@tensorflow/tfjs';
import { spawn } from 'node:child_process';
import { readdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CheckpointManager, loadWeights, verify } from '../src/index.js';
import { buildKillModel } from './fixtures/kill_child.js';

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'kill_child.ts');

interface ChildResult {
  lines: string[];
  killed: boolean;
  code: number | null;
  stderr: string;
}

/** When to kill: `delayMs` after the child's `afterWrites`-th WRITE line (0: after READY). */
interface KillPlan {
  afterWrites: number;
  delayMs: number;
}

/** Runs the child, SIGKILLing it as planned (if it is still running then). */
function runChild(workDir: string, epochs: number, plan?: KillPlan): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, workDir, String(epochs)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    let stderr = '';
    let buffer = '';
    let killed = false;
    let timer: NodeJS.Timeout | undefined;
    let writeLines = 0;
    const arm = () => {
      timer = setTimeout(() => {
        killed = child.kill('SIGKILL');
      }, plan!.delayMs);
    };
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      let at: number;
      while ((at = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, at);
        buffer = buffer.slice(at + 1);
        lines.push(line);
        if (line === 'WRITE') writeLines += 1;
        if (plan && timer === undefined && ((line === 'READY' && plan.afterWrites === 0) || (line === 'WRITE' && writeLines === plan.afterWrites))) arm();
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ lines, killed: killed && code === null, code, stderr });
    });
  });
}

/** A deterministic pseudo-random sequence, so a failing campaign can be replayed. */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

export interface CampaignReport {
  kills: number;
  killsLeavingTemporaries: number;
  restarts: number;
  completedRuns: number;
  checkpointsVerified: number;
  failures: string[];
}

export interface CampaignOptions {
  workDir: string;
  kills: number;
  epochs: number;
  seed: number;
  log?: (line: string) => void;
}

async function hasTemporaries(dir: string): Promise<boolean> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return names.some((n) => n.includes('.tmp-') || n.includes('.old-'));
}

/** Checks every committed checkpoint of a run directory; returns how many it verified. */
async function checkCommitted(runDir: string, failures: string[]): Promise<{ verified: number; newestEpoch: number; bestOnDisk: number }> {
  const managers = [
    new CheckpointManager({ filepath: join(runDir, 'ckpt', 'e{epoch:03d}-{loss:.6f}'), monitor: 'loss' }),
    new CheckpointManager({ directory: join(runDir, 'backup'), name: 'backup-{step:012d}' }),
  ];
  let verified = 0;
  let newestEpoch = 0;
  let bestOnDisk = Infinity;
  for (const [i, manager] of managers.entries()) {
    const records = await manager.list();
    const latest = await manager.latest();
    for (const path of [...records.map((r) => r.path), ...(latest ? [latest.path] : [])]) {
      if (path.includes('.tmp-') || path.includes('.old-')) failures.push(`list()/latest() returned a temporary: ${path}`);
    }
    for (const record of records) {
      try {
        await verify(record.path);
        const model = buildKillModel();
        await loadWeights(model, record.path);
        model.dispose();
        verified += 1;
      } catch (e) {
        failures.push(`committed checkpoint ${record.path} does not verify/load: ${(e as Error).message}`);
      }
      if (i === 0) {
        newestEpoch = Math.max(newestEpoch, record.metadata.epoch ?? 0);
        const value = record.metadata.monitor?.value;
        if (typeof value === 'number') bestOnDisk = Math.min(bestOnDisk, value);
      }
    }
  }
  return { verified, newestEpoch, bestOnDisk };
}

/** The uninterrupted reference: per-epoch losses and final weights. */
async function reference(workDir: string, epochs: number): Promise<{ losses: number[]; finalWeights: tf.Tensor[] }> {
  const dir = join(workDir, 'reference');
  await rm(dir, { recursive: true, force: true });
  const result = await runChild(dir, epochs);
  if (result.code !== 0 || !result.lines.includes('DONE')) throw new Error(`reference run failed: ${result.stderr}`);
  const losses = result.lines.filter((l) => l.startsWith('EPOCH ')).map((l) => Number(l.split(' ')[2]));
  const model = buildKillModel();
  await loadWeights(model, join(dir, 'final'));
  return { losses, finalWeights: model.getWeights() };
}

export async function runKillCampaign(options: CampaignOptions): Promise<CampaignReport> {
  const { workDir, epochs, log = () => undefined } = options;
  const random = seeded(options.seed);
  const ref = await reference(workDir, epochs);
  const report: CampaignReport = { kills: 0, killsLeavingTemporaries: 0, restarts: 0, completedRuns: 0, checkpointsVerified: 0, failures: [] };
  let run = 0;
  let newestOnDisk = 0;
  let runDir = join(workDir, `run-${run}`);
  while (report.kills < options.kills && report.failures.length === 0) {
    // Most kills are aimed inside saves (just after a checkpoint file starts), some anywhere.
    const plan = random() < 0.2 ? { afterWrites: 0, delayMs: Math.floor(random() * 600) } : { afterWrites: 1 + Math.floor(random() * 12), delayMs: Math.floor(random() * 3) };
    const result = await runChild(runDir, epochs, plan);
    report.restarts += 1;
    const resumedLine = result.lines.find((l) => l.startsWith('RESUMED '));
    const before = resumedLine?.split(' ');
    if (before) {
      // The resumed run must report the true best so far: the best loss up to the newest epoch on disk.
      const initialEpoch = Number(before[1]);
      const reported = Number(before[2]);
      const upTo = Math.max(initialEpoch, newestOnDisk);
      const expected = upTo === 0 ? Infinity : Math.min(...ref.losses.slice(0, upTo));
      if (Math.fround(reported) !== Math.fround(expected)) failures(report, `run ${run}: resumed at epoch ${initialEpoch} reporting best ${reported}, expected ${expected}`);
    }
    if (!result.killed && result.code !== 0) failures(report, `run ${run}: child failed: ${result.stderr.slice(0, 2000)}`);
    if (result.killed) {
      report.kills += 1;
      if ((await hasTemporaries(join(runDir, 'ckpt'))) || (await hasTemporaries(join(runDir, 'backup')))) report.killsLeavingTemporaries += 1;
    }
    const state = await checkCommitted(runDir, report.failures);
    report.checkpointsVerified += state.verified;
    newestOnDisk = state.newestEpoch;
    if (state.newestEpoch > 0) {
      const expectedBest = Math.min(...ref.losses.slice(0, state.newestEpoch));
      if (Math.fround(state.bestOnDisk) !== Math.fround(expectedBest)) failures(report, `run ${run}: best on disk ${state.bestOnDisk}, expected ${expectedBest}`);
    }
    if (result.lines.includes('DONE')) {
      const model = buildKillModel();
      await loadWeights(model, join(runDir, 'final'));
      const diff = Math.max(...model.getWeights().map((t, i) => tf.tidy(() => t.sub(ref.finalWeights[i]!).abs().max().dataSync()[0]!)));
      if (diff !== 0) failures(report, `run ${run}: final weights differ from the uninterrupted run by ${diff}`);
      model.dispose();
      report.completedRuns += 1;
      log(`run ${run} completed after ${report.kills} kills in total`);
      await rm(runDir, { recursive: true, force: true });
      run += 1;
      runDir = join(workDir, `run-${run}`);
      newestOnDisk = 0;
    }
  }
  // Finish the last run without kills: it must end where the uninterrupted run ended.
  if (report.failures.length === 0) {
    const result = await runChild(runDir, epochs);
    if (result.code !== 0 || !result.lines.includes('DONE')) failures(report, `final run failed: ${result.stderr.slice(0, 2000)}`);
    else {
      const model = buildKillModel();
      await loadWeights(model, join(runDir, 'final'));
      const diff = Math.max(...model.getWeights().map((t, i) => tf.tidy(() => t.sub(ref.finalWeights[i]!).abs().max().dataSync()[0]!)));
      if (diff !== 0) failures(report, `final run: weights differ from the uninterrupted run by ${diff}`);
      report.completedRuns += 1;
    }
  }
  return report;
}

function failures(report: CampaignReport, message: string): void {
  report.failures.push(message);
}
