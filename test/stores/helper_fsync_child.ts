/**
 * Child of helper_fsync.test.ts, run with fs_trace_preload.cjs, which records the fsyncs, renames,
 * links and creations of every thread. Fine-tuning with a frozen base saves two checkpoints on the real
 * file system through `modelCheckpoint`: the first writes the base's shard (over 1 MiB, so the helper
 * thread follows its write, checksums and fsyncs it), the head's and optimizer's small shards and the
 * small files; the second links the base's shard from the first. Prints the folder they are in.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { modelCheckpoint } from '../../src/index.js';

await tf.setBackend('cpu');
const dir = mkdtempSync(join(tmpdir(), 'tfjs-ckpt-helper-fsync-'));
const model = tf.sequential({
  layers: [
    tf.layers.dense({ inputShape: [600], units: 600, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }), trainable: false }),
    tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
  ],
});
model.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy' });
const x = tf.randomUniform([8, 600], 0, 1, 'float32', 3);
const y = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1], 'int32'), 3);
await model.fit(x, y, { epochs: 2, batchSize: 8, shuffle: false, verbose: 0, callbacks: [modelCheckpoint({ filepath: join(dir, 'ck-{epoch:02d}') })] });
console.log(JSON.stringify({ dir }));
