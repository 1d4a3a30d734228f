/**
 * Runs one bench case in this process and prints its result as one JSON line on stdout.
 * Usage: tsx bench/case.ts <case> <size> <reps> [dir]   (run.ts spawns it with --expose-gc)
 * Cases: ours-full ours-weights ours-frozen snapshot naive raw load-prep load-ceiling load-ours load-stock load-url fit crc32 s3-ceiling s3-ours s3-tier
 * (crc32 is run by hand, not by run.ts: see bench/cases/crc32.ts)
 */
import { join } from 'node:path';
import { runCrc32 } from './cases/crc32.js';
import { runFit } from './cases/fit.js';
import { runFrozen } from './cases/frozen.js';
import { runLoad, runLoadCeiling, runLoadPrep } from './cases/load.js';
import { runNaive } from './cases/naive.js';
import { runOursCallback } from './cases/ours_callback.js';
import { runRawDisk } from './cases/raw_disk.js';
import { runS3Ceiling, runS3Ours } from './cases/s3.js';
import { runSnapshot } from './cases/snapshot.js';
import { initTf } from './lib/model.js';
import type { CaseContext, CaseResult } from './lib/result.js';
import { sizeByKey } from './lib/sizes.js';
import { WORK_DIR, freshDir, removeDir } from './lib/workdir.js';

export const CASES: Record<string, (ctx: CaseContext) => Promise<CaseResult>> = {
  'ours-full': (ctx) => runOursCallback(ctx, false),
  'ours-weights': (ctx) => runOursCallback(ctx, true),
  'ours-frozen': runFrozen,
  snapshot: runSnapshot,
  naive: runNaive,
  raw: runRawDisk,
  'load-prep': runLoadPrep,
  'load-ours': (ctx) => runLoad(ctx, 'load-ours'),
  'load-stock': (ctx) => runLoad(ctx, 'load-stock'),
  'load-url': (ctx) => runLoad(ctx, 'load-url'),
  'load-ceiling': runLoadCeiling,
  fit: runFit,
  crc32: runCrc32,
  's3-ceiling': runS3Ceiling,
  's3-ours': (ctx) => runS3Ours(ctx, false),
  's3-tier': (ctx) => runS3Ours(ctx, true),
};

async function main(): Promise<void> {
  const [name, sizeKey, repsArg, dirArg] = process.argv.slice(2);
  const run = name ? CASES[name] : undefined;
  if (!run || !sizeKey) throw new Error(`Usage: tsx bench/case.ts <${Object.keys(CASES).join('|')}> <size> <reps> [dir]`);
  const reps = Number(repsArg ?? 3);
  if (!Number.isInteger(reps) || reps < 1) throw new Error(`reps must be a positive integer, got ${repsArg}`);
  // Loaders read what load-prep left in the given dir; every other case gets a fresh one of its own.
  const shared = name.startsWith('load-') && name !== 'load-prep';
  const dir = dirArg ?? join(WORK_DIR, `${sizeKey}-${name}-${process.pid}`);
  if (!shared) freshDir(dir);
  await initTf();
  try {
    const result = await run({ size: sizeByKey(sizeKey), reps, dir });
    process.stdout.write(JSON.stringify(result) + '\n');
  } finally {
    if (!shared && name !== 'load-prep') removeDir(dir);
  }
}

await main();
