/**
 * The scenarios of research/keras-spec.md §6 that apply to the seed version (TF 2.0/2.1), adapted
 * to TF.js. Each test name starts with its scenario number. Metric sequences are fed to the
 * callback's hooks directly (real model, real files); end-to-end fit runs live in fit.test.ts.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CheckpointError, ModelCheckpoint, modelCheckpoint, type ModelCheckpointArgs } from '../src/index.js';
import { captureLogger, smallClassifier, tempDir } from './helpers.js';

async function listing(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => !n.startsWith('.')).sort();
}

/** Runs the callback through epochs whose end-of-epoch logs are given. */
async function driveEpochs(cb: ModelCheckpoint, epochLogs: Record<string, number>[]): Promise<void> {
  cb.setModel(smallClassifier());
  await cb.onTrainBegin({});
  for (const [epoch, logs] of epochLogs.entries()) {
    await cb.onEpochBegin(epoch, {});
    await cb.onEpochEnd(epoch, logs);
  }
  await cb.onTrainEnd({});
}

/** Runs epochs of batches with the given batch sizes, logging `loss` per batch. */
async function driveBatches(cb: ModelCheckpoint, epochs: number, batchSizes: number[]): Promise<void> {
  cb.setModel(smallClassifier());
  await cb.onTrainBegin({});
  for (let epoch = 0; epoch < epochs; epoch++) {
    await cb.onEpochBegin(epoch, {});
    for (const [batch, size] of batchSizes.entries()) {
      await cb.onBatchBegin(batch, { batch, size });
      await cb.onBatchEnd(batch, { batch, size, loss: 0.5 });
    }
    await cb.onEpochEnd(epoch, { loss: 0.5, val_loss: 0.5 });
  }
  await cb.onTrainEnd({});
}

function make(dir: string, args: Partial<ModelCheckpointArgs> & { filepath: string }) {
  const logger = captureLogger();
  const cb = modelCheckpoint({ ...args, filepath: join(dir, args.filepath), logger });
  return { cb, logger };
}

describe('Keras spec §6 scenarios (seed version, TF.js adaptation)', () => {
  it('S1: mode auto, monitor val_loss, not best-only, 1 epoch → the checkpoint exists', async () => {
    const dir = await tempDir();
    const { cb } = make(dir, { filepath: 'checkpoint' });
    await driveEpochs(cb, [{ val_loss: 0.5, loss: 0.6 }]);
    assert.deepEqual(await listing(dir), ['checkpoint']);
  });

  it('S2: mode min, then mode max with val_acc → the checkpoint exists', async () => {
    for (const [mode, monitor] of [
      ['min', 'val_loss'],
      ['max', 'val_acc'],
    ] as const) {
      const dir = await tempDir();
      const { cb } = make(dir, { filepath: 'checkpoint', mode, monitor });
      await driveEpochs(cb, [{ val_loss: 0.5, val_acc: 0.5 }]);
      assert.deepEqual(await listing(dir), ['checkpoint'], mode);
    }
  });

  it('S3: best-only, mode max, val_acc, 1 epoch → saved (the first value beats -inf)', async () => {
    const dir = await tempDir();
    const { cb, logger } = make(dir, { filepath: 'checkpoint', mode: 'max', monitor: 'val_acc', saveBestOnly: true, verbose: 1 });
    await driveEpochs(cb, [{ val_acc: 0.25 }]);
    assert.deepEqual(await listing(dir), ['checkpoint']);
    assert.deepEqual(logger.lines, [`Epoch 1: val_acc improved from -inf to 0.25000, saving model to ${join(dir, 'checkpoint')}`]);
  });

  it('S4: best-only with an unknown monitor → a warning naming the available keys, and no checkpoint', async () => {
    const dir = await tempDir();
    const { cb, logger } = make(dir, { filepath: 'checkpoint', monitor: 'unknown', saveBestOnly: true });
    await driveEpochs(cb, [{ val_loss: 0.5, loss: 0.4 }]);
    assert.deepEqual(await listing(dir), []);
    assert.equal(logger.warnings.length, 1);
    assert.match(logger.warnings[0]!, /^Can save best model only with unknown available, skipping\. Available: loss, val_loss\.$/);
  });

  it('S5: period=2, 4 epochs → checkpoints for epochs 2 and 4 only, with the deprecation warning', async () => {
    const dir = await tempDir();
    const { cb, logger } = make(dir, { filepath: 'checkpoint.{epoch:02d}', period: 2 });
    await driveEpochs(cb, [{}, {}, {}, {}]);
    assert.deepEqual(await listing(dir), ['checkpoint.02', 'checkpoint.04']);
    assert.match(logger.warnings[0]!, /`period` argument is deprecated/);
  });

  it("S6: saveFreq 'epoch', period=5, 10 epochs → epochs 5 and 10 only", async () => {
    const dir = await tempDir();
    const { cb } = make(dir, { filepath: 'checkpoint.{epoch:02d}', saveFreq: 'epoch', period: 5 });
    await driveEpochs(cb, Array.from({ length: 10 }, () => ({})));
    assert.deepEqual(await listing(dir), ['checkpoint.05', 'checkpoint.10']);
  });

  it('S7: saveFreq=30 samples (period ignored), 10 samples per epoch in batches of 2, 10 epochs → epochs 3, 6 and 9', async () => {
    const dir = await tempDir();
    const { cb } = make(dir, { filepath: 'checkpoint.{epoch:02d}', saveFreq: 30, period: 100 });
    await driveBatches(cb, 10, [2, 2, 2, 2, 2]);
    assert.deepEqual(await listing(dir), ['checkpoint.03', 'checkpoint.06', 'checkpoint.09']);
  });

  it("S9: saveFreq 'invalid' throws 'Unrecognized saveFreq'; 'epoch' and 3 construct", () => {
    assert.throws(() => modelCheckpoint({ filepath: 'x', saveFreq: 'invalid_save_freq' as never }), (e: unknown) => {
      return e instanceof CheckpointError && e.code === 'INVALID_ARGUMENT' && /^Unrecognized saveFreq: invalid_save_freq\./.test(e.message);
    });
    assert.ok(modelCheckpoint({ filepath: 'x', saveFreq: 'epoch' }));
    assert.ok(modelCheckpoint({ filepath: 'x', saveFreq: 3 }));
  });

  it('S10: {epoch}/{batch} pattern, saveFreq = one batch of samples, 2 batches per epoch, 5 epochs → 10 checkpoints with 1-based batches', async () => {
    const dir = await tempDir();
    const { cb } = make(dir, { filepath: 'checkpoint.epoch{epoch:02d}batch{batch:02d}', saveFreq: 4 });
    await driveBatches(cb, 5, [4, 4]);
    const expected = [1, 2, 3, 4, 5].flatMap((e) => [1, 2].map((b) => `checkpoint.epoch0${e}batch0${b}`));
    assert.deepEqual(await listing(dir), expected);
  });

  it('S11: initialValueThreshold 0, mode max, val_acc → saved', async () => {
    const dir = await tempDir();
    const { cb } = make(dir, { filepath: 'checkpoint', monitor: 'val_acc', mode: 'max', saveBestOnly: true, initialValueThreshold: 0 });
    await driveEpochs(cb, [{ val_acc: 0.1 }]);
    assert.deepEqual(await listing(dir), ['checkpoint']);
  });

  it('S12: no threshold, mode auto, val_loss, best-only → saved', async () => {
    const dir = await tempDir();
    const { cb } = make(dir, { filepath: 'checkpoint', saveBestOnly: true });
    await driveEpochs(cb, [{ val_loss: 12.5 }]);
    assert.deepEqual(await listing(dir), ['checkpoint']);
  });

  it('S13: threshold 0, mode min (and auto), val_loss → not saved (a loss is never below 0)', async () => {
    for (const mode of ['min', 'auto'] as const) {
      const dir = await tempDir();
      const { cb } = make(dir, { filepath: 'checkpoint', mode, saveBestOnly: true, initialValueThreshold: 0 });
      await driveEpochs(cb, [{ val_loss: 0.2 }]);
      assert.deepEqual(await listing(dir), [], mode);
    }
  });

  it("S15: mode 'unknown' → a warning, no exception, and auto is used", () => {
    const logger = captureLogger();
    const cb = modelCheckpoint({ filepath: 'x', mode: 'unknown' as never, logger });
    assert.equal(cb.mode, 'auto');
    assert.deepEqual(logger.warnings, ['ModelCheckpoint mode unknown is unknown, fallback to auto mode.']);
  });

  it('S17: a {mape:.2f} field that is not logged → a TemplateError naming the pattern and the key', async () => {
    const dir = await tempDir();
    const { cb } = make(dir, { filepath: 'checkpoint.{mape:.2f}' });
    await assert.rejects(driveEpochs(cb, [{ loss: 0.5 }]), (e: unknown) => {
      return e instanceof CheckpointError && e.code === 'TEMPLATE_MISSING_KEY' && /Failed to format this callback filepath/.test(e.message) && /'mape'/.test(e.message);
    });
    assert.deepEqual(await listing(dir), []);
  });

  it('S18: the filepath is an existing directory that is not a checkpoint → an error, and the directory is untouched', async () => {
    const dir = await tempDir();
    const { mkdir, writeFile } = await import('node:fs/promises');
    await mkdir(join(dir, 'temp.ckpt'));
    await writeFile(join(dir, 'temp.ckpt', 'notes.txt'), 'mine');
    const { cb } = make(dir, { filepath: 'temp.ckpt' });
    await assert.rejects(driveEpochs(cb, [{ loss: 0.5 }]), (e: unknown) => e instanceof CheckpointError && e.code === 'PATH_CONFLICT' && /Please specify a non-directory filepath/.test(e.message));
    assert.deepEqual(await readdir(join(dir, 'temp.ckpt')), ['notes.txt']);
  });

  it('S19 (in samples): 7 samples in batches of 1, saveFreq=7, pattern ckpt_{epoch}_{batch}', async () => {
    const cases: [number, number, number, string[]][] = [
      [7, 7, 1, ['ckpt_1_7']],
      [7, 7, 2, ['ckpt_1_7', 'ckpt_2_7']],
      [7, 14, 2, ['ckpt_2_7']],
      [14, 7, 2, ['ckpt_1_14', 'ckpt_1_7', 'ckpt_2_14', 'ckpt_2_7']],
    ];
    for (const [samples, saveFreq, epochs, expected] of cases) {
      const dir = await tempDir();
      const { cb } = make(dir, { filepath: 'ckpt_{epoch}_{batch}', saveFreq });
      await driveBatches(cb, epochs, Array.from({ length: samples }, () => 1));
      assert.deepEqual(await listing(dir), expected, `${samples} samples, saveFreq ${saveFreq}, ${epochs} epochs`);
    }
  });

  it('S25: mode min, best-only, val_loss [0.5, 0.4, 0.45, 0.3] → saves after epochs 1, 2 and 4; best 0.3', async () => {
    const dir = await tempDir();
    const { cb, logger } = make(dir, { filepath: 'c{epoch}', mode: 'min', saveBestOnly: true, verbose: 1 });
    await driveEpochs(cb, [0.5, 0.4, 0.45, 0.3].map((v) => ({ val_loss: v })));
    assert.deepEqual(await listing(dir), ['c1', 'c2', 'c4']);
    assert.equal(cb.best, 0.3);
    assert.deepEqual(logger.lines, [
      `Epoch 1: val_loss improved from inf to 0.50000, saving model to ${join(dir, 'c1')}`,
      `Epoch 2: val_loss improved from 0.50000 to 0.40000, saving model to ${join(dir, 'c2')}`,
      'Epoch 3: val_loss did not improve from 0.40000',
      `Epoch 4: val_loss improved from 0.40000 to 0.30000, saving model to ${join(dir, 'c4')}`,
    ]);
  });

  it('S26: a tie [0.3, 0.3] → only epoch 1 is saved', async () => {
    const dir = await tempDir();
    const { cb } = make(dir, { filepath: 'c{epoch}', saveBestOnly: true });
    await driveEpochs(cb, [{ val_loss: 0.3 }, { val_loss: 0.3 }]);
    assert.deepEqual(await listing(dir), ['c1']);
  });

  it('S27: mode min, [NaN, 0.4] → epoch 1 "did not improve from inf", epoch 2 saved', async () => {
    const dir = await tempDir();
    const { cb, logger } = make(dir, { filepath: 'c{epoch}', mode: 'min', saveBestOnly: true, verbose: 1 });
    await driveEpochs(cb, [{ val_loss: NaN }, { val_loss: 0.4 }]);
    assert.deepEqual(await listing(dir), ['c2']);
    assert.equal(logger.lines[0], 'Epoch 1: val_loss did not improve from inf');
  });

  it('S28 (deliberate difference): mode auto, val_auc rising [0.7, 0.8] → auto is max here, so both epochs save', async () => {
    const dir = await tempDir();
    const { cb } = make(dir, { filepath: 'c{epoch}', monitor: 'val_auc', saveBestOnly: true });
    await driveEpochs(cb, [{ val_auc: 0.7 }, { val_auc: 0.8 }]);
    assert.equal(cb.monitorDirection, 'max');
    assert.deepEqual(await listing(dir), ['c1', 'c2']);
  });

  it('S33: batch sizes 4, 4, 2 per epoch and saveFreq=5 samples → saves after epoch 1 batch 2 (8) and epoch 2 batch 1 (2+4)', async () => {
    const dir = await tempDir();
    const { cb } = make(dir, { filepath: 'e{epoch}b{batch}', saveFreq: 5 });
    await driveBatches(cb, 2, [4, 4, 2]);
    assert.deepEqual(await listing(dir), ['e1b2', 'e2b1', 'e2b3']);
  });

  it('S38: period=2, best-only, min, [0.5, 0.4, 0.3, 0.35] → checked only at epochs 2 and 4; both save', async () => {
    const dir = await tempDir();
    const { cb } = make(dir, { filepath: 'c{epoch}', period: 2, saveBestOnly: true });
    await driveEpochs(cb, [0.5, 0.4, 0.3, 0.35].map((v) => ({ val_loss: v })));
    assert.deepEqual(await listing(dir), ['c2', 'c4']);
    assert.equal(cb.best, 0.35);
  });

  it('S38b: period=2 with best-only: an epoch that does not improve still uses up the period (keras#12576)', async () => {
    const dir = await tempDir();
    const { cb } = make(dir, { filepath: 'c{epoch}', period: 2, saveBestOnly: true });
    await driveEpochs(cb, [0.5, 0.4, 0.6, 0.7, 0.1, 0.2].map((v) => ({ val_loss: v })));
    // Checked at 2 (0.4 saved), 4 (0.7 no), 6 (0.2 saved); epoch 5's 0.1 is never evaluated.
    assert.deepEqual(await listing(dir), ['c2', 'c6']);
  });

  it('S40: verbose lines use the modern wording (no leading zeros on the epoch)', async () => {
    const dir = await tempDir();
    const { cb, logger } = make(dir, { filepath: 'c', verbose: 1 });
    await driveEpochs(cb, [{}, {}, {}]);
    assert.deepEqual(logger.lines, [1, 2, 3].map((e) => `Epoch ${e}: saving model to ${join(dir, 'c')}`));
  });

  it('S40b: verbose 0 prints nothing', async () => {
    const dir = await tempDir();
    const { cb, logger } = make(dir, { filepath: 'c{epoch}', saveBestOnly: true });
    await driveEpochs(cb, [{ val_loss: 1 }, { val_loss: 2 }]);
    assert.deepEqual(logger.lines, []);
  });

  it('templates without fields overwrite the same checkpoint every save', async () => {
    const dir = await tempDir();
    const { cb } = make(dir, { filepath: 'only' });
    await driveEpochs(cb, [{}, {}, {}]);
    assert.deepEqual(await listing(dir), ['only']);
  });

  it('the monitor accepts accuracy for TF.js acc, and the template too', async () => {
    const dir = await tempDir();
    const { cb } = make(dir, { filepath: 'c{epoch}-{val_accuracy:.2f}', monitor: 'val_accuracy', saveBestOnly: true });
    await driveEpochs(cb, [{ val_acc: 0.5 }, { val_acc: 0.25 }, { val_acc: 0.75 }]);
    assert.equal(cb.monitorDirection, 'max');
    assert.deepEqual(await listing(dir), ['c1-0.50', 'c3-0.75']);
  });

  it('scalar tensors in logs are read without being disposed', async () => {
    const dir = await tempDir();
    const { cb } = make(dir, { filepath: 'c{epoch}-{val_loss:.3f}', saveBestOnly: true });
    const logs = { val_loss: tf.scalar(0.125) };
    cb.setModel(smallClassifier());
    await cb.onEpochBegin(0, {});
    await cb.onEpochEnd(0, logs as never);
    await cb.onTrainEnd({});
    assert.equal(logs.val_loss.isDisposed, false);
    logs.val_loss.dispose();
    assert.deepEqual(await listing(dir), ['c1-0.125']);
  });
});
