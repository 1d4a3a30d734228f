/**
 * Where a checkpoint's main-thread time goes, beyond what the bench's event-loop figure says. Drives
 * the callback (weights only, or `full`) over N saves of one size, as the bench does, to local disk,
 * or with `s3` / `s3-cache` to a local s3rver (as the bench's `s3-ours` / `s3-tier`; durable means
 * committed in the bucket there), and per
 * save prints the held time, the event-loop active time until durable (the bench's measure), and the
 * kernel's run-queue counters for the main thread alone (/proc/self/task/<pid>/schedstat: time on a
 * core, time waiting for one, wake-ups). Each save's window is printed in CLOCK_MONOTONIC seconds, so
 * a `perf record -k CLOCK_MONOTONIC -g -t <pid>` of the same run can be cut to the saves
 * (bench/probes/perf_windows.py). Linux only.
 *
 *   node --perf-basic-prof --expose-gc --import tsx bench/probes/main_thread_cpu.ts 100 [weights|full] [saves] [disk|s3|s3-cache]
 *   perf record -k CLOCK_MONOTONIC -F 3999 -g -t <pid it prints> -o perf.data   # while it runs, in another shell
 */
import { readFileSync, rmSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { modelCheckpoint, type CheckpointManager } from '../../src/index.js';
import { probeTarget } from '../lib/probe_target.js';
import { buildModel, mutateWeights } from '../lib/model.js';
import { busyMs, mainThreadMark } from '../lib/main_thread.js';
import { collectGarbage } from '../lib/rss.js';
import { sizeByKey } from '../lib/sizes.js';

const [sizeKey = '100', kind = 'weights', savesArg = '7', where = 'disk'] = process.argv.slice(2);
const { work, dir, options, stop } = await probeTarget(where, 'main-thread-cpu');
const schedstat = () => readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').trim().split(' ').map(Number);
const { model } = buildModel(sizeByKey(sizeKey));
const cb = modelCheckpoint({
  filepath: `${dir}/ckpt.{epoch:03d}`,
  saveWeightsOnly: kind !== 'full',
  logger: { log() {}, warn() {} },
  ...options,
});
cb.setModel(model);
await cb.onTrainBegin({});
const manager = (cb as unknown as { manager: CheckpointManager }).manager;
console.log(`pid ${process.pid}, ${sizeKey}, ${kind === 'full' ? 'full model' : 'weights only'}, ${where}; the first save warms up`);
try {
  for (let epoch = 0; epoch < Number(savesArg); epoch++) {
    mutateWeights(model, epoch);
    await cb.onEpochBegin(epoch, {});
    collectGarbage();
    const startNs = process.hrtime.bigint();
    const [run0, wait0, slices0] = schedstat();
    const t0 = performance.now();
    await cb.onEpochEnd(epoch, { loss: 0.1 });
    const held = performance.now() - t0;
    const mark = mainThreadMark();
    await manager.wait();
    await cb.flush(); // with localCache: until committed in the bucket
    const active = held + busyMs(mark);
    const durable = performance.now() - t0;
    const [run1, wait1, slices1] = schedstat();
    const endNs = process.hrtime.bigint();
    console.log(
      `window ${Number(startNs) / 1e9} ${Number(endNs) / 1e9} save ${epoch}: held ${held.toFixed(1)} ms, event loop active ${active.toFixed(1)} ms, durable ${durable.toFixed(0)} ms; main thread on a core ${((run1 - run0) / 1e6).toFixed(1)} ms, waiting for one ${((wait1 - wait0) / 1e6).toFixed(1)} ms, ${slices1 - slices0} wake-ups`,
    );
    // Each save writes anew (a fresh folder), as in the bench; the disk keeps one copy.
    await manager.delete(`${dir}/ckpt.${String(epoch + 1).padStart(3, '0')}`);
    await cb.flush();
  }
  await cb.onTrainEnd({});
} finally {
  await stop();
  rmSync(work, { recursive: true, force: true });
}
