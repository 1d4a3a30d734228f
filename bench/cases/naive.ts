/** The naive TF.js save (see lib/naive_save.ts): training is blocked for all of it, and it never fsyncs. */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildModel, mutateWeights } from '../lib/model.js';
import { naiveSave } from '../lib/naive_save.js';
import { WARMUP_REPS, mbPerSec, type CaseContext, type CaseResult, type Rep } from '../lib/result.js';
import { memoryWindow } from '../lib/rss.js';
import { nowMs } from '../lib/stats.js';
import { removeDir } from '../lib/workdir.js';

export async function runNaive(ctx: CaseContext): Promise<CaseResult> {
  const { model, params, bytes, buildMs } = buildModel(ctx.size);
  const reps: Rep[] = [];
  let warmup: Rep | undefined;
  for (let rep = 0; rep < ctx.reps + WARMUP_REPS; rep++) {
    mutateWeights(model, rep);
    const dir = join(ctx.dir, `naive-${rep}`);
    mkdirSync(dir, { recursive: true });
    const mem = memoryWindow();
    const t0 = nowMs();
    await naiveSave(model, dir);
    const blocked = nowMs() - t0;
    const extra = mem.extra();
    removeDir(dir);
    const rec = { blocked_ms: blocked, blocked_mbps: mbPerSec(bytes, blocked), extra_peak_mib: extra };
    if (rep < WARMUP_REPS) warmup = rec;
    else reps.push(rec);
  }
  model.dispose();
  return { case: 'naive', size: ctx.size.key, params, bytes, reps, warmup, info: { buildMs: Math.round(buildMs) } };
}
