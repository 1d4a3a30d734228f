/**
 * The page of browser_idb_main_thread.ts: a 64 MiB model (four 2048×2048 dense layers, cpu backend)
 * with a weights-only `modelCheckpoint` to IndexedDB. `__save()` gives every weight new values (as a
 * step would: no shard is reused), then times `onEpochEnd` (what `fit` is held) and `flush()` (durable).
 */
import * as tf from '@tensorflow/tfjs';
import { modelCheckpoint } from '../src/universal.js';

declare global {
  interface Window {
    __ready?: boolean;
    __save?: () => Promise<{ heldMs: number; durableMs: number }>;
  }
}

await tf.setBackend('cpu');
const model = tf.sequential({
  layers: [0, 1, 2, 3].map((i) => tf.layers.dense({ units: 2048, ...(i === 0 ? { inputShape: [2048] } : {}), kernelInitializer: 'zeros' })),
});
for (const w of model.weights) (w.read().dataSync() as Float32Array).fill(0.5);
const checkpoint = modelCheckpoint({ filepath: 'indexeddb://bench-idb-main/w{epoch:02d}', saveWeightsOnly: true });
checkpoint.setModel(model);
await checkpoint.onTrainBegin({});
let epoch = 0;
window.__save = async () => {
  for (const w of model.weights) w.write(w.read().add(1));
  // Let the step's own work finish before the timed part.
  await new Promise((resolve) => setTimeout(resolve, 50));
  const t0 = performance.now();
  await checkpoint.onEpochEnd(epoch++, {});
  const heldMs = performance.now() - t0;
  await checkpoint.flush();
  return { heldMs, durableMs: performance.now() - t0 };
};
window.__ready = true;
