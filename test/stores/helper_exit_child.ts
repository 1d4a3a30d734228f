/**
 * Child of fs_helper.test.ts: saves a checkpoint on the fs store (its steps run on the save's helper
 * thread), looks for the latest (which reads only markers, so the load's helper thread must not
 * start), then opens the checkpoint's manifest as `inspect` does (which starts the load's helper
 * thread, to checksum weight files that are never read here) and simply ends. Neither thread may keep it alive.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsStore, latestCheckpoint, saveWeights } from '../../src/index.js';
import { helperStarted } from '../../src/stores/fs_worker.js';

await tf.setBackend('cpu');
const dir = mkdtempSync(join(tmpdir(), 'tfjs-ckpt-exit-'));
const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [600], units: 600 })] });
await saveWeights(model, join(dir, 'w01'));
const latest = await latestCheckpoint(join(dir, 'w{epoch:02d}'));
console.log(`latest found: ${latest !== undefined}; load helper started by it: ${helperStarted('waited')}`);
const reader = await new FsStore().open(join(dir, 'w01'));
const manifest = await reader?.open('weights.json');
await reader?.close();
console.log(`manifest found: ${manifest !== undefined}; load helper started by opening it: ${helperStarted('waited')}`);
console.log('done');
