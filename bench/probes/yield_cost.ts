/**
 * Whole fits back to back, each variant in turn (order rotated each round): no checkpoint, a callback
 * that only gives the event loop a turn after each batch, a weights-only checkpoint every epoch, and
 * both. Prints each fit's wall time, each epoch's, and the process's minor page faults. It shows how much whole fits
 * vary on a machine, apart from any checkpoint, and whether turns alone slow training.
 *
 *   node --expose-gc --import tsx bench/probes/yield_cost.ts [size=25] [batches=4] [variants=none,yield,weights,weights+yield] [epochs=6] [rounds=4]
 */
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { modelCheckpoint } from '../../src/index.js';
import { buildModel, initTf } from '../lib/model.js';
import { sizeByKey } from '../lib/sizes.js';
import { nowMs } from '../lib/stats.js';
import { freshDir, removeDir } from '../lib/workdir.js';
await initTf();
const size = process.argv[2] ?? '25';
const batches = Number(process.argv[3] ?? '4');
const { model } = buildModel(sizeByKey(size));
model.compile({ optimizer: tf.train.sgd(1e-6), loss: 'meanSquaredError' });
const width = model.inputs[0]!.shape[1]!;
const x = tf.randomUniform([batches, width], 0, 1, 'float32', 42);
await model.fit(x, x, { batchSize: 1, epochs: 1, verbose: 0 });
const work = freshDir(join(import.meta.dirname, '..', '.work', `yield-cost-${process.pid}`));
class Yield extends tf.Callback { override async onBatchEnd() { await new Promise((r) => setImmediate(r)); } }
/** Records epoch ends; a plain tf.Callback, so it gives no turn. */
class EpochEnds extends tf.Callback {
  constructor(readonly ends: number[]) { super(); }
  override async onEpochEnd() { this.ends.push(nowMs()); }
}
const VS = (process.argv[4] ?? 'none,yield,weights,weights+yield').split(',') as ('none' | 'yield' | 'weights' | 'weights+yield')[];
const EPOCHS = Number(process.argv[5] ?? '6');
const ROUNDS = Number(process.argv[6] ?? '4');
const faults = () => Number(readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ')[7]);
for (let round = 0; round < ROUNDS; round++) {
  for (let k = 0; k < VS.length; k++) {
    const v = VS[(k + round) % VS.length]!;
    const ends: number[] = [];
    const cbs: tf.Callback[] = [new EpochEnds(ends)];
    if (v.includes('yield')) cbs.push(new Yield());
    if (v.startsWith('weights')) cbs.push(modelCheckpoint({ filepath: join(work, v, 'c.{epoch:02d}'), saveWeightsOnly: true, logger: { log() {}, warn() {} } }));
    if (typeof globalThis.gc === 'function') globalThis.gc();
    const f0 = faults();
    const t0 = nowMs();
    await model.fit(x, x, { batchSize: 1, epochs: EPOCHS, shuffle: false, verbose: 0, callbacks: cbs });
    const epochs = ends.map((t, i) => (t - (i === 0 ? t0 : ends[i - 1]!)).toFixed(0)).join(' ');
    console.log(round, v, (nowMs() - t0).toFixed(0), 'ms', faults() - f0, 'faults; epochs', epochs);
    removeDir(join(work, v));
  }
}
removeDir(work);
