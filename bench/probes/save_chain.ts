/**
 * The steps of one save's background persist on the fs store, each with the time it started and
 * ended (ms from the start of `onEpochEnd`), with the event loop free. Every step that waits on the
 * one before it through the main thread costs a whole batch inside `fit` on a synchronous backend,
 * where the loop turns only between batches (src/callbacks/event_loop_turn.ts): the long ones
 * (writes, fsyncs) are what a save's time to durable is made of, batch by batch.
 *
 *   node --expose-gc --import tsx bench/probes/save_chain.ts [size=100] [weights|full]
 *
 * It wraps the store's file-system calls (stores/fs_ops.ts: `nodeFsNow`'s are marked "now") and the helper thread's steps
 * (node/helper_thread.ts) in place; the third save is printed (the first two start the helper thread
 * and warm the caches).
 */
import { join } from 'node:path';
import { modelCheckpoint } from '../../src/index.js';
import { HelperThread } from '../../src/node/helper_thread.js';
import { nodeFs, nodeFsNow } from '../../src/stores/fs_ops.js';
import { buildModel, initTf, mutateWeights } from '../lib/model.js';
import { sizeByKey } from '../lib/sizes.js';
import { nowMs } from '../lib/stats.js';
import { freshDir, removeDir } from '../lib/workdir.js';

const [sizeKey = '100', kind = 'weights'] = process.argv.slice(2);
await initTf();
let origin = nowMs();
const steps: string[] = [];
const at = () => (nowMs() - origin).toFixed(1);
const shortPath = (p: unknown) => (typeof p === 'string' ? p.split('/').slice(-2).join('/') : '');

/** Replaces `obj[name]` with a version that records when each call started and settled. */
function record(obj: object, name: string, label: string): void {
  const target = obj as Record<string, (...args: unknown[]) => unknown>;
  const original = target[name]!;
  target[name] = function (this: unknown, ...args: unknown[]) {
    const started = at();
    const result = original.apply(this, args);
    const note = (how: string) => steps.push(`${started} → ${at()} ms  ${label}${how} ${shortPath(args[0])}`);
    Promise.resolve(result).then(() => note(''), () => note(' (failed)'));
    return result;
  };
}
// nodeFsNow: the calls a save makes before its bytes go out, done before they return (fs_ops.ts).
for (const [ops, how] of [
  [nodeFs, ''],
  [nodeFsNow, ' (now)'],
] as const) {
  for (const name of ['mkdir', 'rename', 'rm', 'readdir', 'stat', 'link']) record(ops, name, name + how);
  const open = ops.open;
  (ops as { open: typeof open }).open = (async (...args: Parameters<typeof open>) => {
    const started = at();
    const handle = await open(...args);
    steps.push(`${started} → ${at()} ms  open${how} ${shortPath(args[0])}`);
    for (const name of ['write', 'writev', 'sync', 'close', 'read']) record(handle, name, name);
    return handle;
  }) as typeof open;
}
record(HelperThread.prototype, 'run', 'helper thread');

const { model } = buildModel(sizeByKey(sizeKey));
const work = freshDir(join(import.meta.dirname, '..', '.work', `save-chain-${process.pid}`));
const cb = modelCheckpoint({ filepath: join(work, 'ckpt.{epoch:03d}'), saveWeightsOnly: kind !== 'full', logger: { log() {}, warn() {} } });
cb.setModel(model);
await cb.onTrainBegin({});
for (let epoch = 0; epoch < 3; epoch++) {
  mutateWeights(model, epoch);
  steps.length = 0;
  origin = nowMs();
  await cb.onEpochEnd(epoch, { loss: 1 });
  steps.push(`${at()} ms  onEpochEnd returned`);
  await cb.flush();
  steps.push(`${at()} ms  durable`);
}
await cb.onTrainEnd({});
console.log(`${sizeKey}, ${kind === 'full' ? 'full model' : 'weights only'}: the third save's steps (helper thread steps are named by their op)\n${steps.join('\n')}`);
removeDir(work);
