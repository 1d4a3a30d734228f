/**
 * Child of fs_helper.test.ts: saves a checkpoint on the fs store (its steps run on the save's helper
 * thread), then only looks for the latest (opening a checkpoint starts the load's helper thread,
 * which then has nothing to do) and simply ends. Neither thread may keep it alive.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { latestCheckpoint, saveWeights } from '../../src/index.js';

await tf.setBackend('cpu');
const dir = mkdtempSync(join(tmpdir(), 'tfjs-ckpt-exit-'));
const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [600], units: 600 })] });
await saveWeights(model, join(dir, 'w01'));
await latestCheckpoint(join(dir, 'w{epoch:02d}'));
console.log('done');
