/**
 * Incremental checkpoints: fine-tuning with a frozen base writes only the head per checkpoint; the
 * base's shards are reused (the same inode on disk, the same bytes in memory), and every checkpoint
 * stays complete: it loads (also with stock TF.js), verifies, survives the deletion of the other, and
 * a corrupt shared shard shows in every checkpoint that holds it.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CheckpointManager, fileLoadHandler, loadModel, MemoryStore, modelCheckpoint, registerStore, saveModel, verify } from '../src/index.js';
import { tempDir, toyData } from './helpers.js';

/** A "pretrained" base (frozen) and a new head: the classic TF.js fine-tuning setup. */
function fineTuneModel(): tf.LayersModel {
  const base = [
    tf.layers.dense({ inputShape: [4], units: 64, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }), trainable: false }),
    tf.layers.dense({ units: 64, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }), trainable: false }),
  ];
  const head = tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) });
  const model = tf.sequential({ layers: [...base, head] });
  model.compile({ optimizer: tf.train.adam(0.05), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  return model;
}

// model.weights lists trained weights first (the head), then the others (the frozen base); the
// optimizer's state follows: three groups, in that order.
const FROZEN = 'group2-shard1of1.bin';
const HEAD = 'group1-shard1of1.bin';
const predict = (m: tf.LayersModel, x: tf.Tensor) => Array.from((m.predict(x) as tf.Tensor).dataSync());

describe('incremental checkpoints', () => {
  it('fine-tuning a frozen base: the base shard of consecutive checkpoints is one file (same inode); only the head is written', async () => {
    const dir = await tempDir();
    const { x, y } = toyData(32);
    const model = fineTuneModel();
    await model.fit(x, y, { epochs: 3, batchSize: 8, shuffle: false, verbose: 0, callbacks: [modelCheckpoint({ filepath: join(dir, 'ck-{epoch:02d}') })] });
    const [a, b, c] = ['ck-01', 'ck-02', 'ck-03'].map((n) => join(dir, n));
    const inode = async (path: string) => (await stat(path)).ino;
    assert.equal(await inode(join(b!, FROZEN)), await inode(join(a!, FROZEN)));
    assert.equal(await inode(join(c!, FROZEN)), await inode(join(a!, FROZEN)));
    assert.equal((await stat(join(c!, FROZEN))).nlink, 3);
    assert.notEqual(await inode(join(c!, HEAD)), await inode(join(b!, HEAD)), 'the head changed: written anew');

    // Bytes written for ck-03: the files it does not share, against the head's weights and Adam's state for them.
    const metadata = JSON.parse(await readFile(join(c!, 'checkpoint.json'), 'utf8')) as { files: { name: string; size: number }[] };
    let fresh = 0;
    for (const f of metadata.files) if ((await stat(join(c!, f.name))).nlink === 1) fresh += f.size;
    const headBytes = (64 * 3 + 3) * 4 * 3; // kernel and bias, and Adam's two slots for each
    const frozenBytes = (4 * 64 + 64 + 64 * 64 + 64) * 4;
    assert.equal((await stat(join(c!, FROZEN))).size, frozenBytes);
    const metadataBytes = (await stat(join(c!, 'model.json'))).size + (await stat(join(c!, 'checkpoint.json'))).size;
    assert.ok(fresh <= 1.1 * headBytes + metadataBytes + 64, `${fresh} bytes written, head ${headBytes}, metadata ${metadataBytes}`);

    // Complete on their own: each loads (ours and stock TF.js) and verifies; deleting one leaves the others whole.
    const expected = predict(model, x);
    assert.deepEqual(predict(await loadModel(c!), x), expected);
    assert.deepEqual(predict(await tf.loadLayersModel(fileLoadHandler(c!)), x), expected);
    await rm(a!, { recursive: true });
    for (const path of [b!, c!]) assert.equal((await verify(path)).checksums, 'verified');
    assert.deepEqual(predict(await loadModel(c!), x), expected);

    // A corrupt shared shard is found in every checkpoint that holds it.
    const shard = await readFile(join(c!, FROZEN));
    shard[100] = shard[100]! ^ 0xff;
    await writeFile(join(c!, FROZEN), shard, { flag: 'r+' });
    for (const path of [b!, c!]) await assert.rejects(verify(path), /checksum|CRC/i);
  });

  it('a previous checkpoint replaced by another writer is not reused from: the next save writes its shards', async () => {
    const dir = await tempDir();
    const model = fineTuneModel();
    const manager = new CheckpointManager({ directory: dir, name: 'ck-{step}', asyncSave: false });
    const first = await manager.save(1, model);
    // Another writer puts a different model (other frozen values) at the same name.
    const other = fineTuneModel();
    other.layers[0]!.setWeights(other.layers[0]!.getWeights().map((w) => tf.onesLike(w)));
    await saveModel(other, first);
    const second = await manager.save(2, model);
    assert.notEqual((await stat(join(second, FROZEN))).ino, (await stat(join(first, FROZEN))).ino);
    assert.equal((await verify(second)).checksums, 'verified');
    const { x } = toyData(8);
    assert.deepEqual(predict(await loadModel(second), x), predict(model, x));
  });

  it('one fixed filepath overwritten each epoch: the base shard is carried over from the checkpoint being replaced', async () => {
    const dir = await tempDir();
    const { x, y } = toyData(32);
    const model = fineTuneModel();
    const inodes: number[] = [];
    const path = join(dir, 'latest');
    await model.fit(x, y, {
      epochs: 3,
      batchSize: 8,
      shuffle: false,
      verbose: 0,
      callbacks: [modelCheckpoint({ filepath: path, saveWeightsOnly: true }), new tf.CustomCallback({ onEpochEnd: async () => void inodes.push((await stat(join(path, FROZEN)).catch(() => ({ ino: -1 }))).ino) })],
    });
    const final = (await stat(join(path, FROZEN))).ino;
    assert.ok(inodes.filter((i) => i !== -1).every((i) => i === final), `inodes ${inodes} then ${final}`);
    assert.equal((await verify(path)).checksums, 'verified');
  });

  it('a model with nothing frozen: one group, nothing shared', async () => {
    const dir = await tempDir();
    const { x, y } = toyData(32);
    const model = fineTuneModel();
    for (const layer of model.layers) layer.trainable = true;
    model.compile({ optimizer: tf.train.adam(0.05), loss: 'categoricalCrossentropy' });
    await model.fit(x, y, { epochs: 2, batchSize: 8, shuffle: false, verbose: 0, callbacks: [modelCheckpoint({ filepath: join(dir, 'ck-{epoch:02d}') })] });
    const manifest = JSON.parse(await readFile(join(dir, 'ck-02', 'model.json'), 'utf8')) as { weightsManifest: { paths: string[] }[] };
    assert.deepEqual(manifest.weightsManifest.map((g) => g.paths), [['weights.bin']]);
    assert.equal((await stat(join(dir, 'ck-02', 'weights.bin'))).nlink, 1);
  });

  it('the memory store shares the base shard\'s bytes between checkpoints', async () => {
    const store = new MemoryStore();
    registerStore('mem-incremental', store);
    const { x, y } = toyData(32);
    const model = fineTuneModel();
    await model.fit(x, y, { epochs: 2, batchSize: 8, shuffle: false, verbose: 0, callbacks: [modelCheckpoint({ filepath: 'mem-incremental://run/ck-{epoch:02d}' })] });
    const first = store.committedFile('/run/ck-01', FROZEN);
    assert.ok(first && first.byteLength > 0);
    assert.equal(store.committedFile('/run/ck-02', FROZEN), first, 'the same bytes, not a copy');
    assert.notEqual(store.committedFile('/run/ck-02', HEAD), store.committedFile('/run/ck-01', HEAD));
    assert.deepEqual(predict(await loadModel('mem-incremental://run/ck-02'), x), predict(model, x));
  });
});
