/**
 * What a checkpoint costs a training epoch, measured inside one `fit`: the checkpoint callback saves
 * only on some epochs (pattern save, skip, skip, save, … so drift hits both kinds alike), and each
 * epoch's length is compared by what happened at the end of the one before it (a save's held part
 * and its background persist fall into the next epoch). One fit gives many paired samples, where the
 * bench's fit case compares whole fits run one after another. Per epoch it also prints the main
 * thread's run-queue counters (/proc/self/task/<pid>/schedstat: time on a core, time waiting for one),
 * which say whether a slower epoch ran longer on its core (memory, a busy sibling core) or waited
 * for one (two cores shared with the save's threads). Linux only.
 *
 *   node --expose-gc --import tsx bench/probes/fit_pairs.ts [size=100] [weights|full|raw] [epochs=24] [batches]
 *
 * `raw` is the control: on the same epochs, instead of a checkpoint, a worker thread writes as many
 * bytes as a weights-only checkpoint from its own reused 16 MiB buffer, fsyncs them, then reads them
 * back through a CRC-32, with no step on the main thread at all. Training slower beside it is the
 * cost of the kernel's and the disk's work on this machine, whoever asks for it.
 *
 * `batches` per epoch defaults to the fewest that make an epoch last 12× a save's time to durable
 * (as the bench's ≥ 10× case aims).
 */
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { modelCheckpoint } from '../../src/index.js';
import { buildModel, initTf } from '../lib/model.js';
import { sizeByKey } from '../lib/sizes.js';
import { median, nowMs } from '../lib/stats.js';
import { freshDir, removeDir } from '../lib/workdir.js';

const [sizeKey = '100', kind = 'weights', epochsArg = '24', batchesArg] = process.argv.slice(2);
await initTf();
const schedstat = () => readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').trim().split(' ').map(Number) as [number, number, number];
const work = freshDir(join(import.meta.dirname, '..', '.work', `fit-pairs-${process.pid}`));
const { model } = buildModel(sizeByKey(sizeKey));
model.compile({ optimizer: tf.train.sgd(1e-6), loss: 'meanSquaredError' });
const width = model.inputs[0]!.shape[1]!;
const silent = { log: () => {}, warn: () => {} };
const cb = modelCheckpoint({ filepath: join(work, 'ckpt.{epoch:03d}'), saveWeightsOnly: kind !== 'full', logger: silent });
cb.setModel(model);

/** The control's writer: a worker thread that writes, fsyncs and reads back `bytes` bytes at `path`. */
const RAW_WRITER = `
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const { crc32 } = require('node:zlib');
const buffer = Buffer.alloc(16 * 1024 * 1024, 7);
parentPort.on('message', ({ path, bytes }) => {
  const fd = fs.openSync(path, 'w+');
  for (let at = 0; at < bytes; ) at += fs.writeSync(fd, buffer, 0, Math.min(buffer.length, bytes - at));
  fs.fsyncSync(fd);
  let crc = 0;
  for (let at = 0; at < bytes; ) {
    const n = fs.readSync(fd, buffer, 0, Math.min(buffer.length, bytes - at), at);
    crc = crc32(buffer.subarray(0, n), crc);
    at += n;
  }
  fs.closeSync(fd);
  parentPort.postMessage(crc);
});`;
const rawWriter = kind === 'raw' ? new Worker(RAW_WRITER, { eval: true }) : undefined;
rawWriter?.unref();
const weightBytes = model.getWeights().reduce((sum, w) => sum + w.size * 4, 0);
let rawSaves = 0;
/** Stands in for a save in the control: posts the write and returns at once. */
const rawSave = () => rawWriter!.postMessage({ path: join(work, `raw-${rawSaves++}.bin`), bytes: weightBytes });

// Calibrate: a save's time to durable, and a batch's time.
const one = tf.ones([1, width]);
await model.fit(one, one, { batchSize: 1, epochs: 1, verbose: 0 });
let t = nowMs();
await model.fit(one, one, { batchSize: 1, epochs: 1, verbose: 0 });
const batchMs = nowMs() - t;
await cb.onTrainBegin({});
const durable: number[] = [];
for (let e = 0; e < 3; e++) {
  await model.fit(one, one, { batchSize: 1, epochs: 1, verbose: 0 });
  t = nowMs();
  await cb.onEpochEnd(1000 + e, { loss: 0 });
  await cb.flush();
  durable.push(nowMs() - t);
}
const durableMs = median(durable.slice(1));
const batches = batchesArg ? Number(batchesArg) : Math.max(1, Math.ceil((12 * durableMs) / batchMs));
const epochs = Number(epochsArg);
console.log(`pid ${process.pid}, ${sizeKey}, ${kind === 'full' ? 'full model' : kind === 'raw' ? 'control: raw writes from a worker' : 'weights only'}: durable ${durableMs.toFixed(0)} ms, batch ${batchMs.toFixed(0)} ms, ${batches} batches an epoch, ${epochs} epochs`);

// Epoch 0 warms up; then save, skip, skip, save, … from epoch 1.
const saves = (epoch: number) => epoch >= 1 && [true, false, false, true][(epoch - 1) % 4]!;
const ends: { at: number; run: number; wait: number; faults: number; turns: number }[] = [];
// Minor page faults of the main thread (field 10 of /proc/self/task/<pid>/stat): memory touched for the first time.
const minorFaults = () => Number(readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[7]);
const held = new Map<number, number>();
/** Time spent in the checkpoint's onBatchEnd (the event-loop turns it gives while a save is under way), per epoch. */
let turnsMs = 0;
// tfjs-layers gives the event loop a turn between batches only through a CustomCallback (it yields
// every 125 ms or so); with NO_YIELD=1 the gate is a plain tf.Callback, as when a user passes only
// tf.Callback instances (modelCheckpoint(), earlyStopping()), and nothing yields during an epoch.
const gateHooks = {
  onBatchEnd: async (batch: number, logs?: tf.Logs) => {
    const t0 = nowMs();
    await cb.onBatchEnd(batch, logs);
    turnsMs += nowMs() - t0;
  },
  onEpochEnd: async (epoch: number, logs?: tf.Logs) => {
    const [run, wait] = schedstat();
    ends.push({ at: nowMs(), run: run / 1e6, wait: wait / 1e6, faults: minorFaults(), turns: turnsMs });
    turnsMs = 0;
    if (!saves(epoch)) return;
    const t0 = nowMs();
    if (rawWriter) rawSave();
    else await cb.onEpochEnd(epoch, logs);
    held.set(epoch, nowMs() - t0);
  },
};
class PlainGate extends tf.Callback {
  override onBatchEnd = gateHooks.onBatchEnd;
  override onEpochEnd = gateHooks.onEpochEnd;
}
const gate = process.env['NO_YIELD'] === '1' ? new PlainGate() : new tf.CustomCallback(gateHooks);
const x = tf.randomUniform([batches, width], 0, 1, 'float32', 42);
await model.fit(x, x, { batchSize: 1, epochs: epochs + 1, shuffle: false, verbose: 0, callbacks: [gate] });
await cb.onTrainEnd({});

const after = { save: [] as number[], skip: [] as number[] };
const run = { save: [] as number[], skip: [] as number[] };
const wait = { save: [] as number[], skip: [] as number[] };
for (let k = 2; k < ends.length; k++) {
  const kindOf = saves(k - 1) ? 'save' : 'skip';
  const ms = ends[k]!.at - ends[k - 1]!.at;
  after[kindOf].push(ms);
  run[kindOf].push(ends[k]!.run - ends[k - 1]!.run);
  wait[kindOf].push(ends[k]!.wait - ends[k - 1]!.wait);
  const heldMs = held.get(k - 1);
  console.log(`epoch ${k}: ${ms.toFixed(0)} ms after a ${kindOf}${heldMs === undefined ? '' : ` (held ${heldMs.toFixed(1)} ms)`}; main thread on a core ${(ends[k]!.run - ends[k - 1]!.run).toFixed(0)} ms, waiting ${(ends[k]!.wait - ends[k - 1]!.wait).toFixed(1)} ms, ${ends[k]!.faults - ends[k - 1]!.faults} page faults, ${ends[k]!.turns.toFixed(1)} ms in turns after batches`);
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs: number[]) => Math.sqrt(xs.reduce((a, b) => a + (b - mean(xs)) ** 2, 0) / (xs.length - 1));
const diff = mean(after.save) - mean(after.skip);
// Welch's standard error of the difference of two means; ±2 of them is about a 95% interval.
const se = Math.sqrt(sd(after.save) ** 2 / after.save.length + sd(after.skip) ** 2 / after.skip.length);
const base = mean(after.skip);
console.log(
  `epoch after a save ${mean(after.save).toFixed(0)} ms (n ${after.save.length}), after none ${base.toFixed(0)} ms (n ${after.skip.length}): ` +
    `${diff >= 0 ? '+' : ''}${diff.toFixed(0)} ms = ${((100 * diff) / base).toFixed(2)}% (±${((200 * se) / base).toFixed(2)}%); ` +
    `epoch ${(base / durableMs).toFixed(1)}× durable; main thread on a core ${(mean(run.save) - mean(run.skip)).toFixed(1)} ms more, waiting ${(mean(wait.save) - mean(wait.skip)).toFixed(1)} ms more`,
);
removeDir(work);
