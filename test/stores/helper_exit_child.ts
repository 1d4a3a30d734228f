/**
 * Child of fs_helper.test.ts: saves, opens, loads and verifies a checkpoint on the fs store (which
 * starts both helper threads) and then simply ends. The helper threads must not keep it alive.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { latestCheckpoint, loadWeights, saveWeights, verify } from '../../src/index.js';
import { startHelper } from '../../src/stores/fs_worker.js';

await tf.setBackend('cpu');
const dir = mkdtempSync(join(tmpdir(), 'tfjs-ckpt-exit-'));
const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [600], units: 600 })] });
await saveWeights(model, join(dir, 'w01'));
await latestCheckpoint(join(dir, 'w{epoch:02d}'));
await loadWeights(model, join(dir, 'w01'));
await verify(join(dir, 'w01'));
startHelper('waited');
startHelper('background');
console.log('done');
