/**
 * The floor for "blocked": reading the weights. On the CPU backend dataSync() hands out the backend's own
 * arrays (no copy); a defensive copy into a reused, already-resident pool is the cheapest true copy.
 */
import { buildModel, mutateWeights } from '../lib/model.js';
import { WARMUP_REPS, type CaseContext, type CaseResult, type Rep } from '../lib/result.js';
import { memoryWindow } from '../lib/rss.js';
import { nowMs } from '../lib/stats.js';

export async function runSnapshot(ctx: CaseContext): Promise<CaseResult> {
  const { model, params, bytes, buildMs } = buildModel(ctx.size);
  // Filled once so its pages are resident before anything is timed.
  const pool = model.getWeights().map((t) => new Float32Array(t.size).fill(1));
  const reps: Rep[] = [];
  let warmup: Rep | undefined;
  let checksum = 0;
  for (let rep = 0; rep < ctx.reps + WARMUP_REPS; rep++) {
    mutateWeights(model, rep);
    const mem = memoryWindow();
    const t0 = nowMs();
    const views = model.getWeights().map((t) => t.dataSync());
    const t1 = nowMs();
    model.getWeights().forEach((t, k) => pool[k]!.set(t.dataSync() as Float32Array));
    const t2 = nowMs();
    const extra = mem.extra();
    // Keeps the reads observable, so nothing can be optimised away.
    checksum += views.length + pool[0]![0]!;
    const rec = { ref_ms: t1 - t0, pool_ms: t2 - t1, extra_peak_mib: extra };
    if (rep < WARMUP_REPS) warmup = rec;
    else reps.push(rec);
  }
  model.dispose();
  return { case: 'snapshot', size: ctx.size.key, params, bytes, reps, warmup, info: { buildMs: Math.round(buildMs), checksum } };
}
