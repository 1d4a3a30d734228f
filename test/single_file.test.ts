/**
 * Single-file checkpoints through the whole API, shown with safetensors (the codec every platform
 * has): modelCheckpoint writes `.safetensors` files with Keras's naming and semantics, retention and
 * versioned names work on them, latestCheckpoint/resume/restore read them, verify checks each
 * weight's CRC-32, loadModel rebuilds a full model from the file alone, and every store holds them.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { describe, it } from 'node:test';
import { CheckpointError, CheckpointManager, latestCheckpoint, loadModel, loadWeights, modelCheckpoint, saveModel, saveWeights, verify } from '../src/index.js';
import { readSafetensorsHeader } from '../src/formats/safetensors.js';
import { bytesFile } from '../src/stores/bytes.js';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { after, before } from 'node:test';
import { registerStore } from '../src/index.js';
import { S3Store } from '../src/stores/s3.js';
import { faultyFs } from './fault_fs.js';
import { captureLogger, maxAbsDiff, smallClassifier, tempDir, toyData, weightsOf } from './helpers.js';
import { S3RVER_CREDENTIALS, startS3Server, type S3TestServer } from './stores/s3_server.js';

const isCode = (code: string, pattern?: RegExp) => (e: unknown) => e instanceof CheckpointError && e.code === code && (!pattern || pattern.test(e.message));

async function fitWith(model: tf.LayersModel, callback: tf.CustomCallbackArgs | tf.Callback, epochs = 3) {
  const { x, y } = toyData(32);
  await model.fit(x, y, { epochs, batchSize: 16, shuffle: false, validationData: [x, y], callbacks: [callback as tf.Callback], verbose: 0 });
}

describe('single-file checkpoints (safetensors)', () => {
  it("modelCheckpoint writes the Keras example's names as files, keeps the best, and latestCheckpoint finds them", async () => {
    const dir = await tempDir();
    const model = smallClassifier(3);
    const logger = captureLogger();
    await fitWith(model, modelCheckpoint({ filepath: join(dir, 'weights.{epoch:02d}-{val_loss:.2f}.safetensors'), saveWeightsOnly: true, verbose: 1, logger }));
    const files = (await readdir(dir)).sort();
    assert.equal(files.length, 3);
    assert.ok(files.every((f) => /^weights\.0[1-3]-\d\.\d\d\.safetensors$/.test(f)), files.join());
    assert.match(logger.lines.join('\n'), /Epoch 3: saving model to .*weights\.03-.*\.safetensors/);
    const latest = await latestCheckpoint(join(dir, 'weights.{epoch:02d}-{val_loss:.2f}.safetensors'));
    assert.equal(latest, join(dir, files[2]!));
    const restored = smallClassifier(99);
    await loadWeights(restored, latest!);
    assert.equal(maxAbsDiff(weightsOf(restored), weightsOf(model)), 0);
    const checked = await verify(latest!);
    assert.equal(checked.checksums, 'verified');
    assert.equal(checked.metadata?.epoch, 3);
    assert.equal(checked.metadata?.container, 'safetensors');
  });

  it('the file is valid safetensors with TF.js names as keys, data 8-byte aligned, our metadata in __metadata__', async () => {
    const dir = await tempDir();
    const model = smallClassifier(4);
    await saveWeights(model, join(dir, 'w.safetensors'));
    const bytes = new Uint8Array(await readFile(join(dir, 'w.safetensors')));
    const header = await readSafetensorsHeader(bytesFile(bytes, 'w'), 'w');
    assert.equal(header.dataStart % 8, 0);
    assert.deepEqual(header.tensors.map((t) => t.name), model.weights.map((w) => w.originalName));
    const metadata = JSON.parse(header.metadata['tfjs_checkpoint']!);
    assert.equal(metadata.kind, 'weights');
    assert.equal(metadata.weights.length, model.weights.length);
  });

  for (const ext of ['.safetensors', '.h5', '.keras']) {
    it(`a full model in ${ext} keeps its topology and optimizer state; loadModel rebuilds it, and training resumes exactly`, async () => {
      const dir = await tempDir();
      const model = smallClassifier(5);
      await fitWith(model, {}, 1);
      await saveModel(model, join(dir, `m${ext}`));
      const loaded = await loadModel(join(dir, `m${ext}`));
      assert.equal(maxAbsDiff(weightsOf(loaded), weightsOf(model)), 0);
      assert.equal((await loaded.optimizer.getWeights()).length, (await model.optimizer.getWeights()).length);
      const { x, y } = toyData(32);
      const a = await model.fit(x, y, { epochs: 1, batchSize: 16, shuffle: false, verbose: 0 });
      const b = await loaded.fit(x, y, { epochs: 1, batchSize: 16, shuffle: false, verbose: 0 });
      assert.equal(b.history['loss']![0], a.history['loss']![0]);
    });
  }

  it('a damaged weight fails verify and loading with a clear error, and the model is left as it was', async () => {
    const dir = await tempDir();
    const model = smallClassifier(6);
    const path = join(dir, 'w.safetensors');
    await saveWeights(model, path);
    const bytes = await readFile(path);
    bytes[bytes.length - 3] ^= 0xff;
    await writeFile(path, bytes);
    await assert.rejects(verify(path), isCode('CORRUPT_CHECKPOINT', /fails its checksum/));
    const target = smallClassifier(7);
    const before = weightsOf(target).map((t) => t.clone());
    await assert.rejects(loadWeights(target, path), isCode('CORRUPT_CHECKPOINT'));
    assert.equal(maxAbsDiff(weightsOf(target), before), 0);
  });

  it('versioned names go before the extension, retention deletes files, and a manager resumes its best from them', async () => {
    const dir = await tempDir();
    const model = smallClassifier(8);
    const manager = new CheckpointManager({ directory: dir, name: 'ckpt-{epoch}.safetensors', monitor: 'loss', saveTopK: 2, saveWeightsOnly: true });
    for (let epoch = 0; epoch < 4; epoch++) await manager.save(epoch, model, { epoch, metrics: { loss: [0.5, 0.2, 0.4, 0.3][epoch]! } });
    await manager.wait();
    const files = (await readdir(dir)).filter((f) => f.endsWith('.safetensors')).sort();
    assert.deepEqual(files, ['ckpt-1.safetensors', 'ckpt-3.safetensors']);
    await manager.save(4, model, { epoch: 3, metrics: { loss: 0.9 } });
    await manager.wait();
    assert.ok((await readdir(dir)).includes('ckpt-3-v1.safetensors'));
    const resumed = new CheckpointManager({ directory: dir, name: 'ckpt-{epoch}.safetensors', monitor: 'loss', saveWeightsOnly: true });
    assert.equal((await resumed.best())?.path, join(dir, 'ckpt-1.safetensors'));
  });

  it('every store holds them: memory://', async () => {
    const model = smallClassifier(9);
    await saveModel(model, 'memory://single/m.safetensors');
    const loaded = await loadModel('memory://single/m.safetensors');
    assert.equal(maxAbsDiff(weightsOf(loaded), weightsOf(model)), 0);
    await assert.rejects(loadModel('memory://single/none.safetensors'), isCode('NOT_FOUND'));
  });

  it('a layer Keras 3 cannot compute the same way is a clear error naming it, and nothing is written', async () => {
    const dir = await tempDir();
    const model = tf.sequential({ layers: [tf.layers.lstm({ units: 2, inputShape: [3, 2], name: 'my_lstm' })] });
    for (const file of ['m.keras', 'm.h5']) {
      await assert.rejects(saveModel(model, join(dir, file)), isCode('UNSUPPORTED_LAYER', /my_lstm.*LSTM.*recurrentActivation: 'sigmoid'.*\.weights\.h5/s));
    }
    assert.deepEqual(await readdir(dir), []);
    await saveWeights(model, join(dir, 'w.weights.h5')); // weights translate whatever the activation
    const again = tf.sequential({ layers: [tf.layers.lstm({ units: 2, inputShape: [3, 2] })] });
    await loadWeights(again, join(dir, 'w.weights.h5'));
    assert.equal(maxAbsDiff(weightsOf(again), weightsOf(model)), 0);
  });

  // HDF5 data is written by h5wasm's own file calls, so for .h5 only the store's steps (sync, rename) can be faulted here.
  for (const [ext, points] of [['.safetensors', ['write', 'sync', 'rename']], ['.h5', ['sync', 'rename']]] as const) {
    for (const at of points) {
      it(`a full disk or I/O error at ${at} while replacing a ${ext} file: a clear error, the old file intact, no temporary left`, async () => {
        const dir = await tempDir();
        const path = join(dir, `best${ext}`);
        const model = smallClassifier(13);
        await saveWeights(model, path);
        const before = await readFile(path);
        const other = smallClassifier(14);
        const fs = faultyFs({ at, code: at === 'write' ? 'ENOSPC' : 'EIO', sticky: true, match: (p) => p.startsWith(join(dir, '.best')) || p === path });
        const failed = await saveWeights(other, path, { fs }).then(() => undefined, (e: unknown) => e);
        assert.ok(fs.triggered > 0, 'the fault was reached');
        assert.ok(failed instanceof CheckpointError && failed.code === 'IO_ERROR' && /untouched/.test(failed.message), String(failed));
        assert.deepEqual(await readFile(path), before);
        assert.deepEqual((await readdir(dir)).sort(), [`best${ext}`]);
      });
    }
  }

  it('saves stay asynchronous in every format: each epoch\'s file holds exactly the weights at that epoch\'s end, though training went on', async () => {
    const dir = await tempDir();
    const model = smallClassifier(15);
    const atEpochEnd: Float32Array[][] = [];
    const record = new tf.CustomCallback({ onEpochEnd: async () => void atEpochEnd.push(model.getWeights().map((w) => w.dataSync().slice() as Float32Array)) });
    const formats = ['.safetensors', '.h5', '.weights.h5', '.keras'];
    const { x, y } = toyData(32);
    await model.fit(x, y, {
      epochs: 3,
      batchSize: 16,
      shuffle: false,
      verbose: 0,
      callbacks: [record, ...formats.map((ext) => modelCheckpoint({ filepath: join(dir, `e{epoch}${ext}`), saveWeightsOnly: ext === '.weights.h5' }))],
    });
    for (const ext of formats) {
      for (let epoch = 1; epoch <= 3; epoch++) {
        const fresh = smallClassifier(99);
        await loadWeights(fresh, join(dir, `e${epoch}${ext}`));
        fresh.getWeights().forEach((w, i) => assert.deepEqual(w.dataSync(), atEpochEnd[epoch - 1]![i], `${ext} epoch ${epoch} weight ${i}`));
      }
    }
  });

  it('loadWeights from HDF5 with strict: false loads the layers both have by name, and nothing else', async () => {
    const dir = await tempDir();
    const source = tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [2], name: 'shared' }), tf.layers.dense({ units: 2, name: 'old_head' })] });
    for (const file of ['w.h5', 'w.weights.h5']) {
      await saveWeights(source, join(dir, file));
      const target = tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [2], name: 'shared' }), tf.layers.dense({ units: 4, name: 'new_head' })] });
      const head = target.layers[1]!.getWeights().map((w) => w.clone());
      await assert.rejects(loadWeights(target, join(dir, file)), isCode('WEIGHT_MISMATCH'));
      await loadWeights(target, join(dir, file), { strict: false });
      assert.equal(maxAbsDiff(target.layers[0]!.getWeights(), source.layers[0]!.getWeights()), 0, file);
      assert.equal(maxAbsDiff(target.layers[1]!.getWeights(), head), 0, `${file}: the new head is untouched`);
    }
  });

  it('a torn safetensors file (shorter than its header promises) is skipped by latestCheckpoint', async () => {
    const dir = await tempDir();
    const model = smallClassifier(10);
    await saveWeights(model, join(dir, 'w-1.safetensors'));
    const bytes = await readFile(join(dir, 'w-1.safetensors'));
    await writeFile(join(dir, 'w-2.safetensors'), bytes.subarray(0, bytes.length - 4));
    assert.equal(await latestCheckpoint(join(dir, 'w-{epoch}.safetensors')), join(dir, 'w-1.safetensors'));
  });
});

describe('single-file checkpoints on S3', () => {
  let server: S3TestServer;
  let scheme: string;
  before(async () => {
    server = await startS3Server({ buckets: ['bucket'] });
    scheme = `s3single${process.pid}`;
    registerStore(scheme, new S3Store({ endpoint: server.endpoint, forcePathStyle: true, credentials: S3RVER_CREDENTIALS, region: 'us-east-1' }));
  });
  after(() => server.stop());

  const keys = async (prefix: string) =>
    ((await server.client().send(new ListObjectsV2Command({ Bucket: 'bucket', Prefix: prefix }))).Contents ?? []).map((o) => o.Key!).sort();

  it('every format saves to and loads from s3://, as one object each, with nothing else left behind', async () => {
    const model = smallClassifier(11);
    await fitWith(model, {}, 1);
    for (const ext of ['.safetensors', '.h5', '.keras']) {
      await saveModel(model, `${scheme}://bucket/formats/m${ext}`);
      const loaded = await loadModel(`${scheme}://bucket/formats/m${ext}`);
      assert.equal(maxAbsDiff(weightsOf(loaded), weightsOf(model)), 0, ext);
      assert.equal((await verify(`${scheme}://bucket/formats/m${ext}`)).checksums, 'verified');
    }
    assert.deepEqual(await keys('formats/'), ['formats/m.h5', 'formats/m.keras', 'formats/m.safetensors']);
    // HDF5 went through local temporary files (written, then copied out to read): none is left.
    assert.deepEqual((await readdir(tmpdir())).filter((f) => f.startsWith(`tfjs-checkpoint-${process.pid}-`)), []);
  });

  it('with localCache, single files go straight to the remote store', async () => {
    const cache = await tempDir();
    const model = smallClassifier(12);
    await fitWith(model, modelCheckpoint({ filepath: `${scheme}://bucket/cached/w-{epoch}.weights.h5`, saveWeightsOnly: true, localCache: cache }), 2);
    assert.deepEqual(await keys('cached/'), ['cached/w-1.weights.h5', 'cached/w-2.weights.h5']);
    assert.equal(await latestCheckpoint(`${scheme}://bucket/cached/w-{epoch}.weights.h5`), `${scheme}://bucket/cached/w-2.weights.h5`);
  });
});
