/** State derived from disk, and resuming whole training runs (issue: durable checkpoints §2). */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { backupAndRestore, CheckpointError, modelCheckpoint, restoreTraining, type ModelCheckpoint } from '../src/index.js';
import { faultyFs, inCheckpoint } from './fault_fs.js';
import { captureLogger, maxAbsDiff, smallClassifier, tempDir, toyData } from './helpers.js';

async function drive(cb: ModelCheckpoint, values: number[], firstEpoch = 0): Promise<void> {
  cb.setModel(smallClassifier());
  await cb.onTrainBegin({});
  for (const [i, v] of values.entries()) {
    await cb.onEpochBegin(firstEpoch + i, {});
    await cb.onEpochEnd(firstEpoch + i, { val_loss: v });
  }
  await cb.onTrainEnd({});
}

describe('ModelCheckpoint recovers its state from disk', () => {
  it('keras#11420 / #17012: a resumed best-only run knows its best and never overwrites it with a worse model', async () => {
    const dir = await tempDir();
    const filepath = join(dir, 'best');
    await drive(modelCheckpoint({ filepath, saveBestOnly: true }), [0.5, 0.3]);
    const logger = captureLogger();
    const resumed = modelCheckpoint({ filepath, saveBestOnly: true, verbose: 1, logger });
    await drive(resumed, [0.4], 2);
    assert.deepEqual(logger.lines, [
      `Resuming: 1 checkpoint(s) of ${filepath} on disk; best val_loss so far 0.30000 (${filepath}).`,
      'Epoch 3: val_loss did not improve from 0.30000',
    ]);
    assert.equal(resumed.best, 0.3);
    assert.equal((await resumed.manager.latest())!.metadata.monitor!.value, 0.3);
  });

  it('a crash in the middle of replacing a fixed-path best loses nothing: the set-aside copy is put back before its best is read', async () => {
    const dir = await tempDir();
    const filepath = join(dir, 'best');
    await drive(modelCheckpoint({ filepath, saveBestOnly: true }), [0.5, 0.3]);
    // As if killed between "rename best aside" and "rename the new one into place".
    const { rename, readdir } = await import('node:fs/promises');
    await rename(filepath, join(dir, `.best.old-${2 ** 22 + 7}-0000beef`));
    const resumed = modelCheckpoint({ filepath, saveBestOnly: true });
    await drive(resumed, [0.4], 2);
    assert.equal(resumed.best, 0.3);
    assert.deepEqual(await readdir(dir), ['best']);
    assert.equal((await resumed.manager.latest())!.metadata.monitor!.value, 0.3);
  });

  it('initialValueThreshold, if given, still wins over the recovered best', async () => {
    const dir = await tempDir();
    const filepath = join(dir, 'best');
    await drive(modelCheckpoint({ filepath, saveBestOnly: true }), [0.3]);
    const resumed = modelCheckpoint({ filepath, saveBestOnly: true, initialValueThreshold: 0.45 });
    await drive(resumed, [0.4], 1);
    assert.equal((await resumed.manager.latest())!.metadata.monitor!.value, 0.4);
  });

  it('resume: false starts fresh', async () => {
    const dir = await tempDir();
    const filepath = join(dir, 'best');
    await drive(modelCheckpoint({ filepath, saveBestOnly: true }), [0.3]);
    const fresh = modelCheckpoint({ filepath, saveBestOnly: true, resume: false });
    await drive(fresh, [0.4], 1);
    assert.equal(fresh.best, 0.4);
  });

  it('the step and sample counters continue from the newest checkpoint', async () => {
    const dir = await tempDir();
    const { x, y } = toyData(16);
    const model = smallClassifier();
    const filepath = join(dir, 'e{epoch}');
    await model.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0, callbacks: [modelCheckpoint({ filepath })] });
    const second = modelCheckpoint({ filepath });
    await model.fit(x, y, { epochs: 3, initialEpoch: 2, batchSize: 8, verbose: 0, callbacks: [second] });
    const steps = (await second.manager.list()).map((r) => [r.metadata.epoch, r.metadata.step, r.metadata.samplesSeen]);
    assert.deepEqual(steps, [
      [1, 2, 16],
      [2, 4, 32],
      [3, 6, 48],
    ]);
  });
});

describe('backupAndRestore + restoreTraining', () => {
  const build = () => smallClassifier(21, { batchNorm: true });

  it('an interrupted run continues to the same weights as an uninterrupted one (bit-identical)', async () => {
    const dir = await tempDir();
    const backupDir = join(dir, 'backup');
    const { x, y } = toyData(32, 3);
    const fitArgs = { batchSize: 8, shuffle: false, verbose: 0 } as const;
    const reference = build();
    await reference.fit(x, y, { ...fitArgs, epochs: 5 });

    // Run 1 "crashes" at the end of epoch 3. A backup is taken at the event after the one it is due at
    // (so it commits after every other callback's saves of its epoch): epoch 3's never happens.
    const crash = new tf.CustomCallback({
      onEpochEnd: async (epoch) => {
        if (epoch === 2) throw new Error('simulated crash');
      },
    });
    const first = await restoreTraining(backupDir, build);
    assert.equal(first.initialEpoch, 0);
    const backup1 = backupAndRestore({ backupDir });
    await assert.rejects(first.model.fit(x, y, { ...fitArgs, epochs: 5, callbacks: [backup1, crash] }), /simulated crash/);
    await backup1.manager.wait();

    const second = await restoreTraining(backupDir, build);
    assert.equal(second.initialEpoch, 2);
    assert.ok(second.restoredFrom);
    await second.model.fit(x, y, { ...fitArgs, epochs: 5, initialEpoch: second.initialEpoch, callbacks: [backupAndRestore({ backupDir })] });
    assert.equal(maxAbsDiff(second.model.getWeights(), reference.getWeights()), 0);
    assert.deepEqual(await readdir(backupDir), [], 'backups are deleted after a normal end');
  });

  it('keeps the previous good backup until the new one is committed', async () => {
    const dir = await tempDir();
    const backupDir = join(dir, 'backup');
    const { x, y } = toyData(16);
    const fs = faultyFs({ at: 'write', code: 'EIO', nth: 0, match: inCheckpoint('backup-000000000004') });
    const model = build();
    const cb = backupAndRestore({ backupDir, fs });
    await assert.rejects(model.fit(x, y, { epochs: 3, batchSize: 8, verbose: 0, callbacks: [cb] }), (e: unknown) => e instanceof CheckpointError && e.code === 'IO_ERROR');
    const restored = await restoreTraining(backupDir, build);
    assert.equal(restored.initialEpoch, 1);
    assert.deepEqual((await readdir(backupDir)).sort(), ['backup-000000000002', 'latest']);
  });

  it('saveOnPageHide needs a page: in Node it is refused with the option to use instead', () => {
    assert.throws(() => backupAndRestore({ backupDir: 'unused', saveOnPageHide: true }), (e: unknown) => e instanceof CheckpointError && e.code === 'INVALID_ARGUMENT' && /saveOnPageHide.*needs a page.*saveOnSignal/.test(e.message));
  });

  it('on SIGTERM: backs up at the next batch end, stops training cleanly, and (afterSignal: return) lets fit resolve', async () => {
    const dir = await tempDir();
    const backupDir = join(dir, 'backup');
    const { x, y } = toyData(40);
    const logger = captureLogger();
    const cb = backupAndRestore({ backupDir, saveOnSignal: true, afterSignal: 'return', logger });
    const sender = new tf.CustomCallback({
      onBatchEnd: async (batch, _logs) => {
        if (batch !== 1) return;
        // Wait until the signal is delivered (to this listener and the callback's), not a fixed time.
        // (Signal watchers do not keep the event loop alive; the interval does, until delivery.)
        const keepAlive = setInterval(() => undefined, 1000);
        const delivered = new Promise((resolve) => process.once('SIGTERM', resolve));
        process.kill(process.pid, 'SIGTERM');
        await delivered;
        clearInterval(keepAlive);
      },
    });
    const model = build();
    const history = await model.fit(x, y, { epochs: 3, batchSize: 4, verbose: 0, callbacks: [sender, cb] });
    assert.equal(cb.interruptedBy, 'SIGTERM');
    assert.equal(history.epoch.length, 1, 'training stopped in the first epoch');
    const latest = await cb.manager.latest();
    assert.equal(latest?.metadata.batch, 2, 'the backup was taken at the end of batch 2 (1-based) and records it');
    assert.equal(latest!.metadata.epoch, 0);
    assert.match(logger.warnings[0]!, /Received SIGTERM/);
    assert.equal(process.listenerCount('SIGTERM'), 0, 'our listener is removed');
    const restored = await restoreTraining(backupDir, build);
    assert.equal(restored.initialEpoch, 0);
  });
});
