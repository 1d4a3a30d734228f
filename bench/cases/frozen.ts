/**
 * Incremental checkpoints with a frozen base: the first 3 of the 4 layers are `trainable: false` and only
 * the head changes between saves, so their shards are reused by hard link (src/checkpoint/incremental.ts).
 * Per save (weights only): bytes written (shards not linked) against the bytes that changed, time to
 * durable and main-thread time, as in ours_callback.ts.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { modelCheckpoint } from '../../src/index.js';
import { buildModel, mutateLayers } from '../lib/model.js';
import { WARMUP_REPS, MB, type CaseContext, type CaseResult, type Rep } from '../lib/result.js';
import { timedCheckpoint } from '../lib/timed_checkpoint.js';
import { removeDir } from '../lib/workdir.js';

const silent = { log: () => {}, warn: () => {} };
const FROZEN = 3;

/** Bytes of the shard files in `dir` written for this checkpoint (a reused shard is a second link). */
function shardBytes(dir: string): { written: number; linked: number } {
  let written = 0;
  let linked = 0;
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.bin'))) {
    const st = statSync(join(dir, f));
    if (st.nlink > 1) linked += st.size;
    else written += st.size;
  }
  return { written, linked };
}

export async function runFrozen(ctx: CaseContext): Promise<CaseResult> {
  const { model, params, bytes, buildMs } = buildModel(ctx.size);
  for (let i = 0; i < FROZEN; i++) model.layers[i]!.trainable = false;
  const head = model.layers.slice(FROZEN).map((_, i) => FROZEN + i);
  const changedBytes = head.reduce((n, i) => n + model.layers[i]!.weights.reduce((m, w) => m + w.read().size * 4, 0), 0);
  const cb = modelCheckpoint({ filepath: join(ctx.dir, 'ckpt.{epoch:03d}'), saveWeightsOnly: true, logger: silent });
  cb.setModel(model);
  await cb.onTrainBegin({});
  const reps: Rep[] = [];
  let warmup: Rep | undefined;
  for (let epoch = 0; epoch < ctx.reps + WARMUP_REPS + 1; epoch++) {
    mutateLayers(model, head, epoch);
    await cb.onEpochBegin(epoch, {});
    const { blocked, doneAt: [durable], mainThread, extra } = await timedCheckpoint(cb, epoch, [() => cb.flush()]);
    const { written, linked } = shardBytes(join(ctx.dir, `ckpt.${String(epoch + 1).padStart(3, '0')}`));
    // Untimed, as in ours_callback.ts: the one before is deleted, the newest stays for the next save to reuse.
    if (epoch > 0) removeDir(join(ctx.dir, `ckpt.${String(epoch).padStart(3, '0')}`));
    const rep: Rep = { blocked_ms: blocked, main_ms: mainThread, durable_ms: durable, written_mb: written / MB, linked_mb: linked / MB, changed_mb: changedBytes / MB, extra_peak_mib: extra };
    // The first save has nothing to reuse; the next is the warm-up.
    if (epoch === 0) continue;
    if (epoch < 1 + WARMUP_REPS) warmup = rep;
    else reps.push(rep);
  }
  await cb.onTrainEnd({});
  model.dispose();
  return { case: 'ours-frozen', size: ctx.size.key, params, bytes, reps, ...(warmup ? { warmup } : {}), info: { buildMs: Math.round(buildMs), frozenLayers: FROZEN } };
}
