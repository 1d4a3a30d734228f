/**
 * Snapshot, then persist (issue: performance §1): the weights written are exactly those at the moment
 * of the save (optimizer state included) while training goes on; at most one save is in flight; a
 * failed background save surfaces; fit resolves only after every checkpoint is committed.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CheckpointError, CheckpointManager, modelCheckpoint, type FsOps } from '../src/index.js';
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
