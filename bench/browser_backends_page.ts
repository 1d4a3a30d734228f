/**
 * The page of bench/browser_backends.ts: `?backend=&mode=ckpt|none`. Trains a ~64 MiB model for a few
 * epochs, with a weights-only `modelCheckpoint` to IndexedDB every epoch (asynchronous, the default) or
 * without. Records what the page pays: the time `fit` is held in the checkpoint's `onEpochEnd`
 * (between two callbacks around it), the longest gap between animation frames, and the JS heap's peak.
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-backend-webgpu';
import { modelCheckpoint } from '../src/universal.js';

declare global {
  interface Window {
    __bench?: Record<string, unknown>;
  }
}

const params = new URLSearchParams(location.search);
const backend = params.get('backend')!;
const mode = params.get('mode')!;
const EPOCHS = 4;

let frameGap = 0;
let heapPeak = 0;
let last = performance.now();
let running = true;
const heap = () => (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize ?? 0;
function frame(now: number): void {
  frameGap = Math.max(frameGap, now - last);
  heapPeak = Math.max(heapPeak, heap());
  last = now;
  if (running) requestAnimationFrame(frame);
}

try {
  if (backend === 'wasm') setWasmPaths('/wasm/');
  if (!(await tf.setBackend(backend))) throw new Error(`${backend} did not initialize`);
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [2048], units: 2048, activation: 'relu' }),
      tf.layers.dense({ units: 2048, activation: 'relu' }),
      tf.layers.dense({ units: 2048, activation: 'relu' }),
      tf.layers.dense({ units: 2048, activation: 'relu' }),
      tf.layers.dense({ units: 10 }),
    ],
  });
  model.compile({ optimizer: tf.train.sgd(0.001), loss: 'meanSquaredError' });
  const x = tf.randomNormal([64, 2048]);
  const y = tf.randomNormal([64, 10]);
  await model.fit(x, y, { epochs: 1, batchSize: 32, verbose: 0 }); // warm-up (shader compilation)
  const heapBefore = heap();
  const blocked: number[] = [];
  let t0 = 0;
  const checkpoint = modelCheckpoint({ filepath: `indexeddb://bench-${backend}/w{epoch:02d}`, saveWeightsOnly: true });
  const callbacks: tf.CustomCallback[] = [];
  if (mode === 'ckpt') {
    callbacks.push(new tf.CustomCallback({ onEpochEnd: async () => void (t0 = performance.now()) }));
    callbacks.push(checkpoint as unknown as tf.CustomCallback);
    callbacks.push(new tf.CustomCallback({ onEpochEnd: async () => void blocked.push(performance.now() - t0) }));
  }
  frameGap = 0;
  heapPeak = heapBefore;
  last = performance.now();
  requestAnimationFrame(frame);
  const start = performance.now();
  await model.fit(x, y, { epochs: EPOCHS, batchSize: 32, verbose: 0, yieldEvery: 'batch', callbacks });
  const fitMs = performance.now() - start;
  running = false;
  const weightBytes = model.getWeights().reduce((n, w) => n + w.size * 4, 0);
  window.__bench = { backend: tf.getBackend(), mode, fitMs, blockedMs: blocked, maxFrameGapMs: frameGap, heapExtraMiB: (heapPeak - heapBefore) / 2 ** 20, weightMiB: weightBytes / 2 ** 20 };
} catch (e) {
  window.__bench = { error: String((e as Error)?.stack ?? e) };
}
