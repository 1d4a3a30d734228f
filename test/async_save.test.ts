/**
 * Snapshot, then persist (issue: performance §1): the weights written are exactly those at the moment
 * of the save (optimizer state included) while training goes on; at most one save is in flight; a
 * failed background save surfaces; fit resolves only after every checkpoint is committed.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { backupAndRestore, CheckpointError, CheckpointManager, modelCheckpoint, type FsOps } from '../src/index.js';
import { BatchClock, giveTurns } from '../src/callbacks/event_loop_turn.js';
import { faultyFs, inCheckpoint } from './fault_fs.js';
import { maxAbsDiff, smallClassifier, tempDir, toyData } from './helpers.js';

/** The real file system, with every call recorded and each file write held back until the event loop has turned. */
function recordingFs(events: string[]): FsOps {
  const turn = () => new Promise((resolve) => setImmediate(resolve));
  return {
    ...fsp,
    mkdir: (async (path: string, options?: object) => {
      events.push(`mkdir ${path}`);
      return fsp.mkdir(path, options as never);
    }) as FsOps['mkdir'],
    open: (async (path: string, flags?: string | number, mode?: number) => {
      await turn();
      return fsp.open(path, flags, mode);
    }) as FsOps['open'],
    rename: async (from, to) => {
      await fsp.rename(from, to);
      events.push(`rename ${String(to)}`);
    },
  };
}

describe('async saves', () => {
  it('the checkpoint holds the weights and optimizer state of the moment of the save, while training continues', async () => {
    const dir = await tempDir();
    const model = smallClassifier(5, { batchNorm: true });
    const { x, y } = toyData(32);
    await model.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0 });
    const manager = new CheckpointManager({ directory: dir });
    const atSave = model.getWeights().map((t) => t.clone());
    const optimizerAtSave = (await model.optimizer.getWeights()).map((w) => ({ name: w.name, tensor: w.tensor.clone() }));
    await manager.save(1, model);
    // Training goes on (weights and Adam's moments change) before the background write has read anything.
    await model.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0 });
    assert.ok(maxAbsDiff(model.getWeights(), atSave) > 0, 'training changed the weights');
    await manager.wait();
    const restored = smallClassifier(99, { batchNorm: true });
    await manager.restore('latest', restored);
    assert.equal(maxAbsDiff(restored.getWeights(), atSave), 0);
    const restoredOptimizer = await restored.optimizer.getWeights();
    assert.equal(restoredOptimizer.length, optimizerAtSave.length);
    assert.equal(maxAbsDiff(restoredOptimizer.map((w) => w.tensor), optimizerAtSave.map((w) => w.tensor)), 0);
  });

  it('at most one save is in flight: the next save starts after the previous commit', async () => {
    const dir = await tempDir();
    const events: string[] = [];
    const manager = new CheckpointManager({ directory: dir, fs: recordingFs(events) });
    const model = smallClassifier();
    await manager.save(1, model);
    await manager.save(2, model);
    await manager.wait();
    const committed1 = events.indexOf(`rename ${join(dir, 'ckpt-00000001')}`);
    const staged2 = events.findIndex((e) => e.startsWith(`mkdir ${join(dir, '.ckpt-00000002.tmp-')}`));
    assert.ok(committed1 >= 0 && staged2 > committed1, events.join('\n'));
  });

  it('fit resolves only after the last checkpoint is committed', async () => {
    const dir = await tempDir();
    const events: string[] = [];
    const model = smallClassifier();
    const { x, y } = toyData(8);
    await model.fit(x, y, { epochs: 3, verbose: 0, callbacks: [modelCheckpoint({ filepath: join(dir, 'e{epoch}'), fs: recordingFs(events) })] });
    events.push('fit resolved');
    assert.deepEqual(events.filter((e) => e.startsWith('rename') || e === 'fit resolved'), [
      `rename ${join(dir, 'e1')}`,
      `rename ${join(dir, 'e2')}`,
      `rename ${join(dir, 'e3')}`,
      'fit resolved',
    ]);
  });

  it('flush() waits for pending saves mid-training', async () => {
    const dir = await tempDir();
    const events: string[] = [];
    const cb = modelCheckpoint({ filepath: join(dir, 'e{epoch}'), fs: recordingFs(events) });
    cb.setModel(smallClassifier());
    await cb.onTrainBegin({});
    await cb.onEpochBegin(0, {});
    await cb.onEpochEnd(0, {});
    await cb.flush();
    events.push('flushed');
    assert.deepEqual(events.filter((e) => e.startsWith('rename') || e === 'flushed'), [`rename ${join(dir, 'e1')}`, 'flushed']);
    await cb.onTrainEnd({});
  });

  it("a failed background save of the last epoch rejects fit at onTrainEnd (never swallowed)", async () => {
    const dir = await tempDir();
    const model = smallClassifier();
    const { x, y } = toyData(8);
    const fs = faultyFs({ at: 'write', code: 'EIO', match: inCheckpoint('e3') });
    await assert.rejects(
      model.fit(x, y, { epochs: 3, verbose: 0, callbacks: [modelCheckpoint({ filepath: join(dir, 'e{epoch}'), fs })] }),
      (e: unknown) => e instanceof CheckpointError && e.code === 'IO_ERROR' && e.message.includes('e3'),
    );
    assert.deepEqual((await fsp.readdir(dir)).sort(), ['e1', 'e2']);
  });

  it('asyncSave: false writes before the hook returns', async () => {
    const dir = await tempDir();
    const manager = new CheckpointManager({ directory: dir, asyncSave: false });
    await manager.save(1, smallClassifier());
    assert.deepEqual(await fsp.readdir(dir), ['ckpt-00000001', 'latest']);
  });

  it('loading decodes without copying and leaves tf.io.decodeWeights as it found it', async () => {
    const dir = await tempDir();
    const model = smallClassifier();
    const original = tf.io.decodeWeights;
    await new CheckpointManager({ directory: dir, asyncSave: false, maxShardBytes: 64 }).save(1, model);
    const [a, b] = await Promise.all([
      new CheckpointManager({ directory: dir }).restore('latest') as Promise<tf.LayersModel>,
      new CheckpointManager({ directory: dir }).restore('latest') as Promise<tf.LayersModel>,
    ]);
    assert.equal(tf.io.decodeWeights, original);
    assert.equal(maxAbsDiff(a.getWeights(), model.getWeights()), 0);
    assert.equal(maxAbsDiff(b.getWeights(), model.getWeights()), 0);
  });
});

describe('background saves during fit', () => {
  /**
   * A callback that gives the event loop no turn (a tf.Callback, like modelCheckpoint itself): with it
   * and the checkpointing callback alone, fit on the CPU backend never lets the event loop turn by
   * itself. It records the first batch after which `committed()` holds, and then stops training.
   */
  class WatchCommit extends tf.Callback {
    seenAfterBatch: number | undefined;
    constructor(private readonly committed: () => boolean) {
      super();
    }
    override async onBatchEnd(batch: number): Promise<void> {
      if (this.seenAfterBatch === undefined && this.committed()) {
        this.seenAfterBatch = batch;
        (this.model as tf.LayersModel).stopTraining = true;
      }
    }
  }

  // A save every EVERY batches. The first must commit before the second is due: the second would wait
  // for it (and that wait lets the event loop turn), so only a commit before it shows turns given
  // between batches. Without them, the first save's steps get no turn at all until then.
  const EVERY = 2000;

  it('modelCheckpoint: a save commits while the next batches train, though no callback yields', async () => {
    const dir = await tempDir();
    const model = smallClassifier(3);
    const { x, y } = toyData(5 * EVERY);
    const watch = new WatchCommit(() => existsSync(join(dir, `ckpt.01-${String(EVERY).padStart(5, '0')}`)));
    const cb = modelCheckpoint({ filepath: join(dir, 'ckpt.{epoch:02d}-{batch:05d}'), saveFreq: EVERY, verbose: 0 });
    await model.fit(x, y, { epochs: 1, batchSize: 1, shuffle: false, verbose: 0, callbacks: [watch, cb] });
    assert.ok(watch.seenAfterBatch !== undefined && watch.seenAfterBatch < 2 * EVERY - 1, `committed after batch ${watch.seenAfterBatch}, before the next save (after batch ${2 * EVERY - 1})`);
  });

  it('backupAndRestore: a backup commits while the next batches train, though no callback yields', async () => {
    const dir = await tempDir();
    const model = smallClassifier(3);
    const { x, y } = toyData(5 * EVERY);
    const watch = new WatchCommit(() => existsSync(dir) && readdirSync(dir).some((name) => name.startsWith('backup-')));
    const cb = backupAndRestore({ backupDir: dir, saveFreq: EVERY, deleteCheckpoint: false });
    await model.fit(x, y, { epochs: 1, batchSize: 1, shuffle: false, verbose: 0, callbacks: [watch, cb] });
    assert.ok(watch.seenAfterBatch !== undefined && watch.seenAfterBatch < 2 * EVERY - 1, `committed after batch ${watch.seenAfterBatch}, before the next backup (after batch ${2 * EVERY - 1})`);
  });

  it("a save's files are made and its bytes handed to the system before onEpochEnd returns: they reach the disk while the main thread is held", async () => {
    const dir = await tempDir();
    // One weight of 1.44 MB: past what the fs store hands its helper thread whole, so it is written
    // from this thread's thread pool and read back by the helper as it fills.
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [600], units: 600, useBias: false, kernelInitializer: 'ones' })] });
    const cb = modelCheckpoint({ filepath: join(dir, 'w{epoch:02d}'), saveWeightsOnly: true, verbose: 0 });
    cb.setModel(model);
    await cb.onTrainBegin();
    await cb.onEpochEnd(0, { loss: 1 });
    // From here until the check, this thread takes no turn of its event loop, as inside a batch of fit.
    const staging = readdirSync(dir).find((name) => name.startsWith('.w01.tmp-'));
    assert.ok(staging, `no staging folder yet: ${readdirSync(dir).join(', ')}`);
    const shard = join(dir, staging, 'weights.bin');
    const sleeper = new Int32Array(new SharedArrayBuffer(4));
    const deadline = Date.now() + 30_000;
    while (!(existsSync(shard) && statSync(shard).size === 600 * 600 * 4) && Date.now() < deadline) Atomics.wait(sleeper, 0, 0, 5);
    assert.equal(existsSync(shard) ? statSync(shard).size : -1, 600 * 600 * 4, `the shard was not written while the main thread was held: ${readdirSync(join(dir, staging)).join(', ')}`);
    await cb.onTrainEnd();
    assert.deepEqual(readdirSync(dir), ['w01']);
  });

  it('the turns after a batch take at most 1% of its time (and 250 ms), and stop when the work is done', async () => {
    const clock = new BatchClock();
    const t0 = performance.now();
    assert.equal(clock.budgetAfterBatch(), 0, 'the first batch: its start is unknown');
    for (const end = performance.now() + 50; performance.now() < end; ); // a 50 ms batch
    const budget = clock.budgetAfterBatch();
    const elapsed = performance.now() - t0;
    assert.ok(budget >= 0.5 && budget <= elapsed / 100, `budget ${budget} ms after a batch of at least 50 ms (${elapsed} ms in all)`);
    let fake = 0;
    const capped = new BatchClock(() => fake);
    capped.budgetAfterBatch();
    fake = 60_000; // a minute since the last batch (a pause between two fits, say)
    assert.equal(capped.budgetAfterBatch(), BatchClock.MAX_MS);
    fake += 2_000;
    assert.equal(capped.budgetAfterBatch(), 20, '1% of a 2 s batch');
    capped.reset();
    fake += 2_000;
    assert.equal(capped.budgetAfterBatch(), 0, 'after a reset (a new fit), the first batch has no budget');
    const t1 = performance.now();
    await giveTurns(() => true, 20);
    assert.ok(performance.now() - t1 >= 20, 'work still under way: turns for the whole budget');
    let turns = 0;
    await giveTurns(() => ++turns < 3, 10_000);
    assert.equal(turns, 3, 'no more turns once the work is done');
  });

  it('a batch gives the event loop a turn only while a save is under way', async () => {
    const dir = await tempDir();
    const model = smallClassifier(3);
    const cb = modelCheckpoint({ filepath: join(dir, 'ckpt.{epoch:02d}'), verbose: 0 });
    cb.setModel(model);
    await cb.onTrainBegin({});
    const turned = async (during: () => Promise<void>) => {
      let ran = false;
      setImmediate(() => (ran = true));
      await during();
      return ran;
    };
    assert.equal(await turned(() => cb.onBatchEnd(0, { size: 1 })), false, 'no save under way: no turn');
    await cb.onEpochEnd(0, { loss: 1 });
    assert.equal(cb.manager.working, true);
    assert.equal(await turned(() => cb.onBatchEnd(1, { size: 1 })), true, 'a save under way: a turn');
    await cb.flush();
    assert.equal(cb.manager.working, false);
    assert.equal(await turned(() => cb.onBatchEnd(2, { size: 1 })), false, 'the save committed: no turn');
    await cb.onTrainEnd({});
  });
});
