/** saveWeights / loadWeights / saveModel / loadModel and the file:// handlers, on real files. */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CheckpointError, loadModel, loadWeights, modelCheckpoint, saveModel, saveWeights } from '../src/index.js';
import { maxAbsDiff, smallClassifier, tempDir, toyData } from './helpers.js';

const isCode = (code: string, pattern?: RegExp) => (e: unknown) =>
  e instanceof CheckpointError && e.code === code && (pattern === undefined || pattern.test(e.message));

async function trained(seed = 1) {
  const model = smallClassifier(seed, { batchNorm: true });
  const { x, y } = toyData(16);
  await model.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0, shuffle: false });
  return { model, x };
}

describe('saveWeights / loadWeights', () => {
  it('round-trips by name into the same model', async () => {
    const dir = await tempDir();
    const { model } = await trained();
    const before = model.getWeights().map((t) => t.clone());
    await saveWeights(model, join(dir, 'w'));
    model.setWeights(model.getWeights().map((t) => tf.zerosLike(t)));
    await loadWeights(model, join(dir, 'w'));
    assert.equal(maxAbsDiff(model.getWeights(), before), 0);
  });

  it('falls back to weight order for a second instance whose auto-generated names differ', async () => {
    const dir = await tempDir();
    const { model, x } = await trained();
    await saveWeights(model, join(dir, 'w'));
    const other = smallClassifier(42, { batchNorm: true });
    await loadWeights(other, join(dir, 'w'));
    assert.equal(maxAbsDiff([other.predict(x) as tf.Tensor], [model.predict(x) as tf.Tensor]), 0);
  });

  it('a shape mismatch names the weight and leaves the model untouched', async () => {
    const dir = await tempDir();
    const { model } = await trained();
    await saveWeights(model, join(dir, 'w'));
    const wide = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 9 }), tf.layers.batchNormalization(), tf.layers.dense({ units: 3 })] });
    const before = wide.getWeights().map((t) => t.clone());
    await assert.rejects(loadWeights(wide, join(dir, 'w')), isCode('WEIGHT_MISMATCH', /kernel.*float32\[4, 9\].*float32\[4, 8\]/));
    assert.equal(maxAbsDiff(wide.getWeights(), before), 0);
  });

  it('a count mismatch is an error when strict, and a by-name partial load when not', async () => {
    const dir = await tempDir();
    const { model } = await trained();
    await saveWeights(model, join(dir, 'w'));
    const smaller = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 8 }), tf.layers.dense({ units: 3 })] });
    await assert.rejects(loadWeights(smaller, join(dir, 'w')), isCode('WEIGHT_MISMATCH', /holds 8 weights but the model has 4/));
    await assert.doesNotReject(loadWeights(smaller, join(dir, 'w'), { strict: false }));
  });

  it('a dtype mismatch (a hand-edited stock-format checkpoint) is a clear error', async () => {
    const dir = await tempDir();
    const { model } = await trained();
    await saveWeights(model, join(dir, 'w'));
    const manifest = JSON.parse(await readFile(join(dir, 'w', 'weights.json'), 'utf8'));
    manifest.weightsManifest[0].weights[0].dtype = 'int32';
    await writeFile(join(dir, 'w', 'weights.json'), JSON.stringify(manifest));
    await rm(join(dir, 'w', 'checkpoint.json'));
    await assert.rejects(loadWeights(model, join(dir, 'w')), isCode('WEIGHT_MISMATCH', /int32/));
  });

  it('accepts file:// URLs and creates missing parent directories', async () => {
    const dir = await tempDir();
    const { model } = await trained();
    await saveWeights(model, `file://${join(dir, 'a', 'b', 'c')}`);
    await loadWeights(model, `file://${join(dir, 'a', 'b', 'c')}`);
    assert.deepEqual((await readdir(join(dir, 'a', 'b', 'c'))).sort(), ['checkpoint.json', 'weights.bin', 'weights.json']);
  });

  it('a file where the checkpoint or its parent should be is a PATH_CONFLICT', async () => {
    const dir = await tempDir();
    const { model } = await trained();
    await writeFile(join(dir, 'plain'), 'x');
    await assert.rejects(saveWeights(model, join(dir, 'plain')), isCode('PATH_CONFLICT', /a file with that name exists/));
    await assert.rejects(saveWeights(model, join(dir, 'plain', 'sub')), isCode('PATH_CONFLICT'));
    assert.equal(await readFile(join(dir, 'plain'), 'utf8'), 'x');
  });

  it('single-file formats hold what Keras lets them hold: .weights.h5 weights only, .keras whole models; a missing file is NOT_FOUND', async () => {
    const { model } = await trained();
    await assert.rejects(saveModel(model, 'x.weights.h5'), isCode('INVALID_ARGUMENT', /holds no model.*saveWeightsOnly: true/));
    await assert.rejects(saveWeights(model, 'x.keras'), isCode('INVALID_ARGUMENT', /whole-model format/));
    assert.throws(() => modelCheckpoint({ filepath: 'ckpt/{epoch}.weights.h5' }), isCode('INVALID_ARGUMENT', /holds no model/));
    assert.throws(() => modelCheckpoint({ filepath: 'ckpt/{epoch}.keras', saveWeightsOnly: true }), isCode('INVALID_ARGUMENT', /whole-model format/));
    await assert.rejects(loadWeights(model, 'absent-dir/x.safetensors'), isCode('NOT_FOUND', /no such file/));
  });

  it('a missing checkpoint is NOT_FOUND', async () => {
    const dir = await tempDir();
    const { model } = await trained();
    await assert.rejects(loadWeights(model, join(dir, 'nope')), isCode('NOT_FOUND', /No checkpoint at/));
  });
});

describe('saveModel / loadModel / file:// handlers', () => {
  it('shards large models; stock tf.loadLayersModel reads the shards, including a weight split across two', async () => {
    const dir = await tempDir();
    const { model, x } = await trained();
    await saveModel(model, join(dir, 'm'), { maxShardBytes: 100 });
    const files = (await readdir(join(dir, 'm'))).sort();
    assert.ok(files.filter((f) => /^group1-shard\d+of\d+\.bin$/.test(f)).length > 3, files.join());
    const stock = await tf.loadLayersModel(`file://${join(dir, 'm')}/model.json`);
    assert.equal(maxAbsDiff([stock.predict(x) as tf.Tensor], [model.predict(x) as tf.Tensor]), 0);
    const ours = await loadModel(join(dir, 'm'));
    assert.equal(maxAbsDiff(ours.getWeights(), model.getWeights()), 0);
  });

  it("model.save('file://…') works in pure tfjs and writes the tfjs-node layout plus checkpoint.json", async () => {
    const dir = await tempDir();
    const { model, x } = await trained();
    const result = await model.save(`file://${join(dir, 'saved')}`);
    assert.ok(result.modelArtifactsInfo.weightDataBytes! > 0);
    assert.deepEqual((await readdir(join(dir, 'saved'))).sort(), ['checkpoint.json', 'model.json', 'weights.bin']);
    const json = JSON.parse(await readFile(join(dir, 'saved', 'model.json'), 'utf8'));
    assert.deepEqual(Object.keys(json).slice(0, 2), ['modelTopology', 'weightsManifest']);
    assert.deepEqual(json.weightsManifest[0].paths, ['weights.bin']);
    const loaded = await tf.loadLayersModel(`file://${join(dir, 'saved')}/model.json`);
    assert.equal(maxAbsDiff([loaded.predict(x) as tf.Tensor], [model.predict(x) as tf.Tensor]), 0);
  });

  it('steps aside when another file:// handler is registered (as tfjs-node does)', () => {
    const theirs: tf.io.IOHandler = { save: async () => ({ modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }) };
    tf.io.registerSaveRouter(((url: string) => (typeof url === 'string' && url.startsWith('file://other-owner/') ? theirs : null)) as never);
    assert.deepEqual(tf.io.getSaveHandlers('file://other-owner/model'), [theirs]);
    assert.equal(tf.io.getSaveHandlers('file://mine/model').length, 1);
  });

  it('loadModel of a weights-only checkpoint says to use loadWeights', async () => {
    const dir = await tempDir();
    const { model } = await trained();
    await saveWeights(model, join(dir, 'w'));
    await assert.rejects(loadModel(join(dir, 'w')), isCode('INVALID_ARGUMENT', /loadWeights/));
  });

  it('an optimizer that cannot export its state (adamax) is a clear error, and includeOptimizer:false works', async () => {
    const dir = await tempDir();
    const model = smallClassifier();
    model.compile({ optimizer: tf.train.adamax(0.01), loss: 'categoricalCrossentropy' });
    const { x, y } = toyData(8);
    await model.fit(x, y, { epochs: 1, verbose: 0 });
    await assert.rejects(saveModel(model, join(dir, 'm')), isCode('INVALID_ARGUMENT', /Adamax.*includeOptimizer: false/));
    assert.deepEqual(await readdir(dir), []);
    await saveModel(model, join(dir, 'm'), { includeOptimizer: false });
    assert.ok((await readdir(join(dir, 'm'))).includes('model.json'));
  });
});

describe('damaged checkpoints are typed errors, and nothing is half-loaded', () => {
  async function saved() {
    const dir = await tempDir();
    const { model } = await trained();
    await saveModel(model, join(dir, 'm'));
    return { dir, model, path: join(dir, 'm') };
  }

  it('a truncated weight file', async () => {
    const { model, path } = await saved();
    await truncate(join(path, 'weights.bin'), 10);
    const before = model.getWeights().map((t) => t.clone());
    await assert.rejects(loadWeights(model, path), isCode('CORRUPT_CHECKPOINT', /truncated/));
    assert.equal(maxAbsDiff(model.getWeights(), before), 0);
  });

  it('a flipped byte fails the checksum', async () => {
    const { model, path } = await saved();
    const bytes = await readFile(join(path, 'weights.bin'));
    bytes[5] ^= 0xff;
    await writeFile(join(path, 'weights.bin'), bytes);
    await assert.rejects(loadWeights(model, path), isCode('CORRUPT_CHECKPOINT', /checksum/));
  });

  it('malformed model.json: a checksum failure, or without checkpoint.json a JSON error', async () => {
    const { model, path } = await saved();
    await writeFile(join(path, 'model.json'), '{"modelTopology": ');
    await assert.rejects(loadWeights(model, path), isCode('CORRUPT_CHECKPOINT', /model\.json .*(checksum|bytes)/));
    await rm(join(path, 'checkpoint.json'));
    await assert.rejects(loadWeights(model, path), isCode('CORRUPT_CHECKPOINT', /not valid JSON/));
  });

  it('a manifest path that points outside the checkpoint', async () => {
    const { model, path } = await saved();
    const json = JSON.parse(await readFile(join(path, 'model.json'), 'utf8'));
    json.weightsManifest[0].paths = ['../../etc/passwd'];
    await writeFile(join(path, 'model.json'), JSON.stringify(json));
    await rm(join(path, 'checkpoint.json'));
    await assert.rejects(loadWeights(model, path), isCode('CORRUPT_CHECKPOINT', /plain file name/));
  });

  it('a directory without a manifest', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'empty'));
    const { model } = await trained();
    await assert.rejects(loadWeights(model, join(dir, 'empty')), isCode('NOT_FOUND', /neither model\.json nor weights\.json/));
  });
});
