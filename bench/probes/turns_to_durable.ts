/**
 * How many event-loop turns a save needs before it is durable, when training holds the main thread
 * between turns, as `fit` does between batches. Each "batch" keeps the thread busy for `batchMs`
 * (a spin, standing in for a synchronous backend's kernels), then the callback's onBatchEnd gives one
 * turn (event_loop_turn.ts). The count is the number of steps of the save that wait on each other
 * through the main thread; with long batches, it is how many batches a checkpoint takes to be durable.
 *
 *   node --expose-gc --import tsx bench/probes/turns_to_durable.ts [size=25] [weights|full] [batchMs=20] [saves=5] [disk|s3|s3-cache]
 */
import { rmSync } from 'node:fs';
import { modelCheckpoint } from '../../src/index.js';
import { probeTarget } from '../lib/probe_target.js';
import { buildModel, mutateWeights } from '../lib/model.js';
import { sizeByKey } from '../lib/sizes.js';
import { nowMs } from '../lib/stats.js';

const [sizeKey = '25', kind = 'weights', batchArg = '20', savesArg = '5', where = 'disk'] = process.argv.slice(2);
const batchMs = Number(batchArg);
const { work, dir, options, stop } = await probeTarget(where, 'turns');
const { model } = buildModel(sizeByKey(sizeKey));
const cb = modelCheckpoint({
  filepath: `${dir}/ckpt.{epoch:03d}`,
  saveWeightsOnly: kind !== 'full',
  logger: { log: () => {}, warn: () => {} },
  ...options,
});
cb.setModel(model);
await cb.onTrainBegin({});
const spin = (ms: number) => {
  const end = nowMs() + ms;
  while (nowMs() < end);
};
for (let epoch = 0; epoch < Number(savesArg); epoch++) {
  mutateWeights(model, epoch);
  const t0 = nowMs();
  await cb.onEpochEnd(epoch, { loss: 1 });
  const held = nowMs() - t0;
  let turns = 0;
  let done = false;
  const flushed = cb.flush().then(() => {
    done = true;
  });
  while (!done) {
    spin(batchMs);
    await cb.onBatchEnd(turns, { size: 1 });
    turns++;
  }
  await flushed;
  console.log(`save ${epoch}: held ${held.toFixed(1)} ms, ${turns} batches of ${batchMs} ms until durable (${(nowMs() - t0).toFixed(0)} ms)`);
}
await cb.onTrainEnd({});
await stop();
rmSync(work, { recursive: true, force: true });
