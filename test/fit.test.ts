/** End-to-end: ModelCheckpoint inside real model.fit / fitDataset runs on the CPU backend. */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CheckpointError, loadModel, loadWeights, modelCheckpoint } from '../src/index.js';
import { captureLogger, maxAbsDiff, smallClassifier, tempDir, toyData } from './helpers.js';

async function listing(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => !n.startsWith('.')).sort();
}

/** The 1-based epochs at which a best-only run should save, given the values it saw. */
function improvingEpochs(values: number[], direction: 'min' | 'max'): number[] {
  let best = direction === 'min' ? Infinity : -Infinity;
  const out: number[] = [];
  values.forEach((v, i) => {
    if (direction === 'min' ? v < best : v > best) {
      best = v;
      out.push(i + 1);
    }
  });
  return out;
}

describe('ModelCheckpoint in model.fit', () => {
  it('saves every epoch; each checkpoint loads with stock tf.loadLayersModel', async () => {
    const dir = await tempDir();
    const model = smallClassifier();
    const { x, y } = toyData(24);
    await model.fit(x, y, { epochs: 3, batchSize: 8, shuffle: false, verbose: 0, callbacks: [modelCheckpoint({ filepath: join(dir, 'e{epoch:02d}') })] });
    assert.deepEqual(await listing(dir), ['e01', 'e02', 'e03']);
    const loaded = await tf.loadLayersModel(`file://${join(dir, 'e03')}/model.json`);
    assert.equal(maxAbsDiff(loaded.getWeights(), model.getWeights()), 0);
    const p1 = model.predict(x) as tf.Tensor;
    const p2 = loaded.predict(x) as tf.Tensor;
    assert.equal(maxAbsDiff([p1], [p2]), 0);
  });

  it('a Sequential (which fit runs as an inner functional model) is saved and loads back as a Sequential', async () => {
    const dir = await tempDir();
    const model = smallClassifier();
    const { x, y } = toyData(8);
    await model.fit(x, y, { epochs: 1, verbose: 0, callbacks: [modelCheckpoint({ filepath: join(dir, 'c') })] });
    const loaded = await loadModel(join(dir, 'c'));
    assert.equal(loaded.getClassName(), 'Sequential');
    assert.deepEqual(loaded.layers.map((l) => l.name), model.layers.map((l) => l.name));
    let stock: tf.io.ModelArtifacts | undefined;
    await model.save(tf.io.withSaveHandler(async (a) => ((stock = a), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } })));
    const { readFile } = await import('node:fs/promises');
    assert.deepEqual(JSON.parse(await readFile(join(dir, 'c', 'model.json'), 'utf8')).modelTopology, stock!.modelTopology);
  });

  for (const [monitor, mode, direction] of [
    ['val_loss', 'min', 'min'],
    ['val_acc', 'max', 'max'],
    ['val_loss', 'auto', 'min'],
    ['val_acc', 'auto', 'max'],
  ] as const) {
    it(`best-only, monitor ${monitor}, mode ${mode}: saves exactly at the strict improvements`, async () => {
      const dir = await tempDir();
      const model = smallClassifier(3);
      const { x, y } = toyData(40, 11);
      const cb = modelCheckpoint({ filepath: join(dir, 'e{epoch:02d}'), monitor, mode, saveBestOnly: true });
      const history = await model.fit(x, y, { epochs: 6, batchSize: 8, validationSplit: 0.25, shuffle: false, verbose: 0, callbacks: [cb] });
      const values = history.history[monitor] as number[];
      const expected = improvingEpochs(values, direction).map((e) => `e0${e}`);
      assert.deepEqual(await listing(dir), expected);
      assert.equal(cb.best, direction === 'min' ? Math.min(...values) : Math.max(...values));
    });
  }

  it('saveFreq in samples carries across epochs, with a short last batch (sizes 4, 4, 2)', async () => {
    const dir = await tempDir();
    const model = smallClassifier();
    const { x, y } = toyData(10);
    await model.fit(x, y, { epochs: 2, batchSize: 4, shuffle: false, verbose: 0, callbacks: [modelCheckpoint({ filepath: join(dir, 'e{epoch}b{batch}'), saveFreq: 5 })] });
    assert.deepEqual(await listing(dir), ['e1b2', 'e2b1', 'e2b3']);
  });

  it('period=2 saves every second epoch', async () => {
    const dir = await tempDir();
    const model = smallClassifier();
    const { x, y } = toyData(8);
    const logger = captureLogger();
    await model.fit(x, y, { epochs: 5, batchSize: 8, verbose: 0, callbacks: [modelCheckpoint({ filepath: join(dir, 'e{epoch}'), period: 2, logger })] });
    assert.deepEqual(await listing(dir), ['e2', 'e4']);
  });

  it('weights-only round trip into a fresh instance (different auto-generated names): predictions equal', async () => {
    const dir = await tempDir();
    const model = smallClassifier(5, { batchNorm: true });
    const { x, y } = toyData(16);
    await model.fit(x, y, { epochs: 2, batchSize: 8, shuffle: false, verbose: 0, callbacks: [modelCheckpoint({ filepath: join(dir, 'w{epoch}'), saveWeightsOnly: true })] });
    assert.deepEqual(await readdir(join(dir, 'w2')).then((f) => f.sort()), ['checkpoint.json', 'weights.bin', 'weights.json']);
    const fresh = smallClassifier(99, { batchNorm: true });
    assert.notEqual(fresh.weights[0]!.originalName, model.weights[0]!.originalName);
    await loadWeights(fresh, join(dir, 'w2'));
    assert.equal(maxAbsDiff([fresh.predict(x) as tf.Tensor], [model.predict(x) as tf.Tensor]), 0);
  });

  it('full model with optimizer: a resumed run ends bit-identical to an uninterrupted one', async () => {
    const dir = await tempDir();
    const { x, y } = toyData(32, 5);
    const model = smallClassifier(7, { batchNorm: true });
    await model.fit(x, y, { epochs: 2, batchSize: 8, shuffle: false, verbose: 0, callbacks: [modelCheckpoint({ filepath: join(dir, 'full{epoch}') })] });
    await model.fit(x, y, { epochs: 3, batchSize: 8, shuffle: false, verbose: 0 });
    const resumed = await loadModel(join(dir, 'full2'));
    assert.equal(resumed.optimizer.getClassName(), 'Adam');
    await resumed.fit(x, y, { epochs: 3, batchSize: 8, shuffle: false, verbose: 0 });
    assert.equal(maxAbsDiff(resumed.getWeights(), model.getWeights()), 0);
  });

  it('S20: loadWeightsOnRestart (deprecated) restores the newest checkpoint, so 3 epochs + 1 equals 4 epochs', async () => {
    const dir = await tempDir();
    const { x, y } = toyData(16);
    const filepath = join(dir, 'checkpoint.epoch{epoch:02d}');
    const first = smallClassifier(4);
    await first.fit(x, y, { epochs: 3, batchSize: 8, shuffle: false, verbose: 0, callbacks: [modelCheckpoint({ filepath })] });
    const reference = await loadModel(join(dir, 'checkpoint.epoch03'));
    await reference.fit(x, y, { epochs: 1, batchSize: 8, shuffle: false, verbose: 0 });
    const logger = captureLogger();
    const second = await loadModel(join(dir, 'checkpoint.epoch03'));
    second.setWeights(smallClassifier(9).getWeights());
    await second.fit(x, y, { epochs: 1, batchSize: 8, shuffle: false, verbose: 0, callbacks: [modelCheckpoint({ filepath, loadWeightsOnRestart: true, logger })] });
    assert.match(logger.warnings[0]!, /`loadWeightsOnRestart` argument is deprecated/);
    assert.equal(maxAbsDiff(second.getWeights(), reference.getWeights()), 0);
  });

  it('a template type error ({loss:d}) rejects fit with a TemplateError and writes nothing', async () => {
    const dir = await tempDir();
    const model = smallClassifier();
    const { x, y } = toyData(8);
    await assert.rejects(
      model.fit(x, y, { epochs: 1, verbose: 0, callbacks: [modelCheckpoint({ filepath: join(dir, 'c{loss:d}') })] }),
      (e: unknown) => e instanceof CheckpointError && e.code === 'TEMPLATE_TYPE_MISMATCH' && /Unknown format code 'd' for object of type 'float'/.test(e.message),
    );
    assert.deepEqual(await listing(dir), []);
  });

  it('best-only on val_loss without validation data: warns each epoch and saves nothing', async () => {
    const dir = await tempDir();
    const model = smallClassifier();
    const { x, y } = toyData(8);
    const logger = captureLogger();
    await model.fit(x, y, { epochs: 2, verbose: 0, callbacks: [modelCheckpoint({ filepath: join(dir, 'c{epoch}'), saveBestOnly: true, logger })] });
    assert.deepEqual(await listing(dir), []);
    assert.equal(logger.warnings.length, 2);
    assert.match(logger.warnings[0]!, /^Can save best model only with val_loss available, skipping\. Available: acc, loss\.$/);
  });

  it("monitor 'val_accuracy' and template {val_accuracy} find TF.js's val_acc", async () => {
    const dir = await tempDir();
    const model = smallClassifier();
    const { x, y } = toyData(20);
    const cb = modelCheckpoint({ filepath: join(dir, 'c{epoch}-{val_accuracy:.2f}'), monitor: 'val_accuracy', saveBestOnly: true, verbose: 0 });
    const history = await model.fit(x, y, { epochs: 2, validationSplit: 0.2, shuffle: false, verbose: 0, callbacks: [cb] });
    const first = (history.history['val_acc'] as number[])[0]!;
    assert.ok((await listing(dir)).includes(`c1-${first.toFixed(2)}`));
  });

  it('works under fitDataset (params.samples is null)', async () => {
    const dir = await tempDir();
    const model = smallClassifier();
    const { x, y } = toyData(12);
    const dataset = tf.data.zip({ xs: tf.data.array(x.unstack()), ys: tf.data.array(y.unstack()) }).batch(4);
    await model.fitDataset(dataset as never, { epochs: 2, verbose: 0, callbacks: [modelCheckpoint({ filepath: join(dir, 'e{epoch}b{batch}'), saveFreq: 8 })] });
    assert.deepEqual(await listing(dir), ['e1b2', 'e2b1', 'e2b3']);
  });

  it('beside CustomCallbacks before and after it: History stays intact and no tensor leaks', async () => {
    const dir = await tempDir();
    const { x, y } = toyData(16);
    const seen: number[] = [];
    const before = new tf.CustomCallback({ onEpochEnd: async (_e, logs) => void seen.push(logs!['loss'] as number) });
    const after = new tf.CustomCallback({ onEpochEnd: async (_e, logs) => void seen.push(logs!['loss'] as number) });
    const run = async (withCheckpoint: boolean) => {
      const model = smallClassifier();
      const callbacks = withCheckpoint ? [modelCheckpoint({ filepath: join(dir, 'c{epoch}-{loss:.3f}'), saveBestOnly: true, monitor: 'loss' })] : [];
      const startTensors = tf.memory().numTensors;
      const history = await model.fit(x, y, { epochs: 3, batchSize: 8, validationSplit: 0.25, shuffle: false, verbose: 0, callbacks });
      const grown = tf.memory().numTensors - startTensors;
      model.dispose();
      return { history, grown };
    };
    const baseline = await run(false);
    const checked = await run(true);
    assert.equal(checked.grown, baseline.grown, 'the callback leaks no tensors');
    for (const key of ['loss', 'acc', 'val_loss', 'val_acc']) {
      assert.ok((checked.history.history[key] as number[]).every((v) => typeof v === 'number' && Number.isFinite(v)), key);
    }
    // Now in the middle of other callbacks that resolve logs in place.
    const model = smallClassifier();
    const cb = modelCheckpoint({ filepath: join(dir, 'mid{epoch}'), saveBestOnly: true });
    const history = await model.fit(x, y, { epochs: 2, batchSize: 8, validationSplit: 0.25, shuffle: false, verbose: 0, callbacks: [before, cb, after] });
    assert.equal(seen.length, 4);
    assert.deepEqual(history.history['val_loss']!.length, 2);
    assert.ok((await listing(dir)).includes('mid1'));
  });
});
