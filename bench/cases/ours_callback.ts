/**
 * Ours, the way training sees it: the ModelCheckpoint callback's onEpochEnd is what holds training
 * ("blocked"); the checkpoint is durable once any pending background work has finished.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { modelCheckpoint, type ModelCheckpoint } from '../../src/index.js';
import { buildModel, mutateWeights } from '../lib/model.js';
import { WARMUP_REPS, mbPerSec, type CaseContext, type CaseResult, type Rep } from '../lib/result.js';
import { timedCheckpoint } from '../lib/timed_checkpoint.js';
import { nowMs } from '../lib/stats.js';
import { removeDir } from '../lib/workdir.js';
import { rawChunk, writeDurably } from './raw_disk.js';

const silent = { log: () => {}, warn: () => {} };

interface PendingWaiter {
  via: string;
  /** Resolves when every save started so far is committed. */
  wait(): Promise<void>;
  /** Called (untimed) after wait(), to continue "training". */
  resume(): Promise<void>;
}

/**
 * Today saves finish inside onEpochEnd. If the callback grows a way to await background saves, use it;
 * otherwise onTrainEnd must resolve only after every checkpoint is committed, so end and restart "fit".
 */
function pendingWaiter(cb: ModelCheckpoint): PendingWaiter {
  const anyCb = cb as unknown as Record<string, unknown>;
  for (const name of ['flush', 'waitForPendingSaves']) {
    if (typeof anyCb[name] === 'function') {
      return { via: name, wait: async () => void (await (anyCb[name] as () => Promise<unknown>).call(cb)), resume: async () => {} };
    }
  }
  return { via: 'onTrainEnd', wait: () => cb.onTrainEnd({}), resume: () => cb.onTrainBegin({}) };
}

/**
 * The raw-disk ceiling written in this process beside each save, alternately just before and just
 * after it (ABBA), so each pair meets the same page cache and the same disk minutes: on this VM the
 * disk's speed drifts several-fold between one case process and the next.
 */
async function pairedRawMs(dir: string, chunk: Buffer, bytes: number): Promise<number> {
  const t0 = nowMs();
  const file = await writeDurably(dir, 'paired-raw.bin', chunk, bytes);
  const ms = nowMs() - t0;
  await rm(file);
  return ms;
}

export async function runOursCallback(ctx: CaseContext, saveWeightsOnly: boolean): Promise<CaseResult> {
  const { model, params, bytes, buildMs } = buildModel(ctx.size);
  const cb = modelCheckpoint({ filepath: join(ctx.dir, 'ckpt.{epoch:03d}'), saveWeightsOnly, logger: silent });
  cb.setModel(model);
  await cb.onTrainBegin({});
  const waiter = pendingWaiter(cb);
  const chunk = rawChunk();
  const reps: Rep[] = [];
  let warmup: Rep | undefined;
  for (let epoch = 0; epoch < ctx.reps + WARMUP_REPS; epoch++) {
    mutateWeights(model, epoch);
    const rawFirst = epoch % 2 === 1;
    let raw = rawFirst ? await pairedRawMs(ctx.dir, chunk, bytes) : 0;
    await cb.onEpochBegin(epoch, {});
    const { blocked, doneAt: [durable], mainThread, extra } = await timedCheckpoint(cb, epoch, [() => waiter.wait()]);
    const saved = join(ctx.dir, `ckpt.${String(epoch + 1).padStart(3, '0')}`);
    if (!existsSync(join(saved, 'checkpoint.json'))) throw new Error(`No committed checkpoint at ${saved} after waiting via ${waiter.via}`);
    // A shard hard-linked from the previous checkpoint was not written: the step left a weight unchanged.
    const linked = readdirSync(saved).filter((f) => f.endsWith('.bin') && statSync(join(saved, f)).nlink > 1);
    if (linked.length) throw new Error(`Shards reused by hard link, not written: ${linked.join(', ')}; mutateWeights must change every weight`);
    removeDir(saved);
    if (!rawFirst) raw = await pairedRawMs(ctx.dir, chunk, bytes);
    await waiter.resume();
    const rep = {
      blocked_ms: blocked,
      main_ms: mainThread,
      durable_ms: durable,
      mbps: mbPerSec(bytes, durable),
      extra_peak_mib: extra,
      paired_raw_ms: raw,
      durable_vs_raw: durable / raw,
    };
    if (epoch < WARMUP_REPS) warmup = rep;
    else reps.push(rep);
  }
  const t = nowMs();
  if (waiter.via !== 'onTrainEnd') await cb.onTrainEnd({});
  const trainEndMs = nowMs() - t;
  model.dispose();
  return {
    case: saveWeightsOnly ? 'ours-weights' : 'ours-full',
    size: ctx.size.key,
    params,
    bytes,
    reps,
    warmup,
    info: { durableVia: waiter.via, buildMs: Math.round(buildMs), finalTrainEndMs: Number(trainEndMs.toFixed(2)) },
  };
}
