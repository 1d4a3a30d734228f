/**
 * End-to-end `fit` overhead: real `model.fit` on the CPU backend, EPOCHS epochs with our ModelCheckpoint
 * every epoch (weights only, and full) and without, on the same data, alternated round by round (the
 * order rotates) so drift hits every variant alike. Epoch lengths: the fewest batches that make an epoch
 * last at least 1.2 × (1×, 3× and 10×) our time to durable, measured first in this process. One step of this
 * backend can already exceed 1× (an SGD step touches every weight more than once, a save once), so
 * multiples that need the same batch count are merged and the measured multiple is reported.
 *
 * Reported per epoch length `x{m}` (m = the multiple aimed at), per round:
 * - `x{m}_none_ms`: the whole fit without a checkpoint (the baseline);
 * - `x{m}_{weights,full}_pct`: the whole fit's overhead, onTrainEnd included (it waits until the last
 *   checkpoint is durable: what the user pays);
 * - `x{m}_{weights,full}_epoch_pct`: steady state, median epoch 2..N against the baseline's;
 * - `x{m}_multiple`: the baseline's median epoch over our time to durable;
 * - where the overhead goes, per checkpointing fit: `x{m}_{weights,full}_held_ms` (median time a save
 *   held `onEpochEnd`), `x{m}_{weights,full}_turns_ms` (time per epoch in the callback's `onBatchEnd`:
 *   the event-loop turns it gives while a save works, event_loop_turn.ts) and
 *   `x{m}_{weights,full}_end_ms` (`onTrainEnd` waiting for the last checkpoint to be durable). The
 *   rest of the overhead is training itself running slower beside the background persist.
 */
import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { modelCheckpoint } from '../../src/index.js';
import { buildModel } from '../lib/model.js';
import { fitRounds } from '../lib/sizes.js';
import type { CaseContext, CaseResult, Rep } from '../lib/result.js';
import { collectGarbage } from '../lib/rss.js';
import { median, nowMs } from '../lib/stats.js';
import { freshDir, removeDir } from '../lib/workdir.js';

/** Six epochs (five steady ones for the median) keep the 100M fits near ten minutes per library. */
export const FIT_EPOCHS = 6;
export const FIT_MULTIPLES = [1, 3, 10] as const;
/** One sample per batch: the shortest step, so epoch lengths can be set finely. */
const BATCH = 1;
const VARIANTS = ['none', 'weights', 'full'] as const;
/** Epochs aim 20% past each multiple, so the calibration's noise rarely leaves one short of it. */
export const AIM_MARGIN = 1.2;
type Variant = (typeof VARIANTS)[number];

const silent = { log: () => {}, warn: () => {} };

interface FitTiming {
  wallMs: number;
  /** Median of epochs 2..N (the first pays onTrainBegin and warm-up). */
  epochMs: number;
  loss: number;
  costs?: CallbackCosts;
}

/** Time a checkpoint callback held `fit` in each of its hooks during one fit. */
interface CallbackCosts {
  heldMs: number[];
  turnsMs: number;
  endMs: number;
}

/** Times the callback's hooks in place (the instance's own methods, so fit calls it as usual). */
function timeHooks(cb: tf.Callback): CallbackCosts {
  const costs: CallbackCosts = { heldMs: [], turnsMs: 0, endMs: 0 };
  const timed = <A extends unknown[]>(hook: (...args: A) => Promise<void>, add: (ms: number) => void) =>
    async (...args: A): Promise<void> => {
      const t0 = nowMs();
      try {
        await hook(...args);
      } finally {
        add(nowMs() - t0);
      }
    };
  cb.onEpochEnd = timed(cb.onEpochEnd.bind(cb), (ms) => costs.heldMs.push(ms));
  cb.onBatchEnd = timed(cb.onBatchEnd.bind(cb), (ms) => (costs.turnsMs += ms));
  cb.onTrainEnd = timed(cb.onTrainEnd.bind(cb), (ms) => (costs.endMs += ms));
  return costs;
}

/** Records when each epoch ends, and gives the event loop no turn (see timedFit). */
class EpochEnds extends tf.Callback {
  constructor(private readonly ends: number[]) {
    super();
  }
  override async onEpochEnd(): Promise<void> {
    this.ends.push(nowMs());
  }
}

async function timedFit(model: tf.LayersModel, x: tf.Tensor, variant: Variant, dir: string): Promise<FitTiming> {
  const ckptDir = freshDir(join(dir, variant));
  const ends: number[] = [];
  // First in the list, so epoch k's time includes checkpoint k-1's blocked part, as training sees it.
  // A plain tf.Callback: a CustomCallback would give the event loop a turn every 125 ms or so, which a
  // user's fit with only modelCheckpoint() in its callbacks does not have.
  const callbacks: tf.Callback[] = [new EpochEnds(ends)];
  let costs: CallbackCosts | undefined;
  if (variant !== 'none') {
    // Every checkpoint is kept during the fit (deleted untimed after it), as the peers' fits do.
    const cb = modelCheckpoint({ filepath: join(ckptDir, 'ckpt.{epoch:03d}'), saveWeightsOnly: variant === 'weights', logger: silent });
    costs = timeHooks(cb);
    callbacks.push(cb);
  }
  collectGarbage();
  const t0 = nowMs();
  const history = await model.fit(x, x, { batchSize: BATCH, epochs: FIT_EPOCHS, shuffle: false, verbose: 0, callbacks });
  const wallMs = nowMs() - t0;
  removeDir(ckptDir);
  const epochs = ends.slice(1).map((t, i) => t - ends[i]!);
  const loss = Number(history.history['loss']?.at(-1));
  return { wallMs, epochMs: median(epochs), loss, ...(costs ? { costs } : {}) };
}

/** Our time to durable for a full-model save of this model (the larger of the two variants), median of 3. */
async function timeToDurable(model: tf.LayersModel, dir: string): Promise<number> {
  const ckptDir = freshDir(join(dir, 'calibrate'));
  const cb = modelCheckpoint({ filepath: join(ckptDir, 'ckpt.{epoch:03d}'), logger: silent });
  cb.setModel(model);
  await cb.onTrainBegin({});
  const times: number[] = [];
  for (let epoch = 0; epoch < 4; epoch++) {
    // A step between saves, so no weight is reused by hard link.
    await model.fit(x1(model), x1(model), { batchSize: BATCH, epochs: 1, verbose: 0 });
    collectGarbage();
    const t0 = nowMs();
    await cb.onEpochEnd(epoch, { loss: 0 });
    await cb.flush();
    if (epoch > 0) times.push(nowMs() - t0);
    // Untimed, as in ours_callback.ts; the newest stays (a save may reuse from it).
    if (epoch > 0) removeDir(join(ckptDir, `ckpt.${String(epoch).padStart(3, '0')}`));
  }
  await cb.onTrainEnd({});
  removeDir(ckptDir);
  return median(times);
}

let oneSample: tf.Tensor | undefined;
function x1(model: tf.LayersModel): tf.Tensor {
  oneSample ??= tf.ones([1, model.inputs[0]!.shape[1]!]);
  return oneSample;
}

/** Milliseconds per batch of a fit without callbacks (after a warm-up fit). */
async function timePerBatch(model: tf.LayersModel, x: tf.Tensor): Promise<number> {
  const probe = x.slice(0, Math.min(4, x.shape[0]!) * BATCH);
  await model.fit(probe, probe, { batchSize: BATCH, epochs: 1, verbose: 0 });
  const t0 = nowMs();
  await model.fit(probe, probe, { batchSize: BATCH, epochs: 1, verbose: 0 });
  const ms = (nowMs() - t0) / (probe.shape[0]! / BATCH);
  probe.dispose();
  return ms;
}

export async function runFit(ctx: CaseContext): Promise<CaseResult> {
  const { model, params, bytes, buildMs } = buildModel(ctx.size);
  // A small rate keeps the values finite (and off denormals) over every fit of the run.
  model.compile({ optimizer: tf.train.sgd(1e-6), loss: 'meanSquaredError' });
  const width = ctx.size.width;
  const durableMs = await timeToDurable(model, ctx.dir);
  const seedData = tf.randomUniform([4 * BATCH, width], 0, 1, 'float32', 13);
  const perBatchMs = await timePerBatch(model, seedData);
  seedData.dispose();
  const plans: { m: number; batches: number }[] = [];
  for (const m of FIT_MULTIPLES) {
    const batches = Math.max(1, Math.ceil((AIM_MARGIN * m * durableMs) / perBatchMs));
    const same = plans.find((p) => p.batches === batches);
    if (same) same.m = m; // merged: labelled by the largest multiple it reaches
    else plans.push({ m, batches });
  }
  const data = tf.randomUniform([Math.max(...plans.map((p) => p.batches)) * BATCH, width], 0, 1, 'float32', 42);
  const reps: Rep[] = [];
  let lastLoss = NaN;
  for (let round = 0; round < fitRounds(ctx.size, ctx.reps); round++) {
    const rep: Rep = {};
    for (const plan of plans) {
      const x = data.slice(0, plan.batches * BATCH);
      // Untimed, so the first timed fit of an epoch length pays no first-time cost the others skip.
      if (round === 0) await model.fit(x, x, { batchSize: BATCH, epochs: 1, shuffle: false, verbose: 0 });
      const got = new Map<Variant, FitTiming>();
      for (let k = 0; k < VARIANTS.length; k++) {
        const variant = VARIANTS[(k + round) % VARIANTS.length]!;
        got.set(variant, await timedFit(model, x, variant, ctx.dir));
      }
      x.dispose();
      const none = got.get('none')!;
      rep[`x${plan.m}_none_ms`] = none.wallMs;
      rep[`x${plan.m}_epoch_ms`] = none.epochMs;
      rep[`x${plan.m}_multiple`] = none.epochMs / durableMs;
      for (const v of ['weights', 'full'] as const) {
        const t = got.get(v)!;
        rep[`x${plan.m}_${v}_pct`] = (100 * (t.wallMs - none.wallMs)) / none.wallMs;
        rep[`x${plan.m}_${v}_epoch_pct`] = (100 * (t.epochMs - none.epochMs)) / none.epochMs;
        if (t.costs) {
          rep[`x${plan.m}_${v}_held_ms`] = median(t.costs.heldMs);
          rep[`x${plan.m}_${v}_turns_ms`] = t.costs.turnsMs / FIT_EPOCHS;
          rep[`x${plan.m}_${v}_end_ms`] = t.costs.endMs;
        }
        lastLoss = t.loss;
      }
    }
    reps.push(rep);
  }
  data.dispose();
  model.dispose();
  if (!Number.isFinite(lastLoss)) throw new Error(`fit diverged (loss ${lastLoss}); the timings would not be of ordinary training`);
  return {
    case: 'fit',
    size: ctx.size.key,
    params,
    bytes,
    reps,
    info: {
      plans: plans.map((p) => p.m).join(','),
      ...Object.fromEntries(plans.map((p) => [`x${p.m}_batches`, p.batches])),
      epochs: FIT_EPOCHS,
      batchSize: BATCH,
      durableMs: Number(durableMs.toFixed(1)),
      perBatchMs: Number(perBatchMs.toFixed(1)),
      buildMs: Math.round(buildMs),
    },
  };
}
