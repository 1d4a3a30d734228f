/** Shard planning (pure) and reading shards back so that every weight is a view of one buffer. */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readCheckpoint, readGroupShards } from '../src/checkpoint/read.js';
import { resolveLocation } from '../src/index.js';
import { planShards } from '../src/formats/shards.js';
import { decodesBufferLists, joinBuffers } from '../src/formats/weight_data.js';
import { loadModel, saveModel } from '../src/index.js';
import { maxAbsDiff, tempDir } from './helpers.js';

describe('planShards', () => {
  it('one shard keeps the name weights.bin; an empty model still gets one file', () => {
    assert.deepEqual(planShards([8, 4], 100).map((s) => s.fileName), ['weights.bin']);
    assert.deepEqual(planShards([], 100).map((s) => [s.fileName, s.byteLength]), [['weights.bin', 0]]);
  });

  it('cuts only at weight boundaries; a weight larger than a shard gets shards of its own', () => {
    const plan = planShards([60, 60, 250, 10, 30], 100);
    assert.deepEqual(plan.map((s) => s.byteLength), [60, 60, 100, 100, 50, 40]);
    assert.deepEqual(plan.map((s) => s.fileName), ['group1-shard1of6.bin', 'group1-shard2of6.bin', 'group1-shard3of6.bin', 'group1-shard4of6.bin', 'group1-shard5of6.bin', 'group1-shard6of6.bin']);
    assert.deepEqual(plan[4]!.pieces, [{ entry: 2, start: 200, end: 250 }]);
    assert.deepEqual(plan[5]!.pieces, [{ entry: 3, start: 0, end: 10 }, { entry: 4, start: 0, end: 30 }]);
  });
});

/** The buffers as this tfjs's stock loader takes them: a list from 4.6 on, one ArrayBuffer before. */
function stockWeightData(buffers: ArrayBuffer[]): ArrayBuffer | ArrayBuffer[] {
  return decodesBufferLists() ? buffers : joinBuffers(buffers);
}

describe('reading shards', () => {
  it('a weight stored across its own shards is read into one buffer; stock and our loaders agree', async () => {
    const dir = await tempDir();
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [10], units: 20, kernelInitializer: tf.initializers.randomNormal({ seed: 3 }) }), tf.layers.dense({ units: 2 })] });
    await saveModel(model, join(dir, 'm'), { maxShardBytes: 256, includeOptimizer: false });
    const { checkpoint, buffers } = await readCheckpoint(resolveLocation(join(dir, 'm')), async (c) => ({ checkpoint: c, buffers: await readGroupShards(c, c.groups[0]!) }));
    const group = checkpoint.groups[0]!;
    assert.ok(group.paths.length > 4);
    // The 10×20 kernel (800 bytes) was written as 4 shards; it comes back as one buffer.
    assert.equal(buffers[0]!.byteLength, 800);
    assert.ok(buffers.length < group.paths.length);
    const ours = await loadModel(join(dir, 'm'));
    const stock = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: checkpoint.modelJson!.modelTopology, weightSpecs: group.weights as tf.io.WeightsManifestEntry[], weightData: stockWeightData(buffers.map((b) => b.slice().buffer)) }));
    assert.equal(maxAbsDiff(ours.getWeights(), model.getWeights()), 0);
    assert.equal(maxAbsDiff(stock.getWeights(), model.getWeights()), 0);
  });
});
