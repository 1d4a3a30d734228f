/**
 * The page of browser_fit_held.ts: `fit` (cpu backend, `yieldEvery: 'batch'`) of a 64 MiB model, 4 short
 * epochs, with a weights-only `modelCheckpoint` to IndexedDB, or a no-op callback in its place. Records,
 * per epoch, how long the checkpoint's own `onEpochEnd` took inside `fit`, and the time between a
 * callback before it and one after it.
 */
import * as tf from '@tensorflow/tfjs';
import { modelCheckpoint } from '../src/universal.js';

declare global {
  interface Window {
    __ready?: boolean;
    __run?: (variant: 'ckpt' | 'none') => Promise<{ onEpochEndMs: number[]; betweenMs: number[] }>;
  }
}

await tf.setBackend('cpu');
window.__run = async (variant) => {
  const model = tf.sequential({
    layers: [0, 1, 2, 3].map((i) => tf.layers.dense({ units: 2048, ...(i === 0 ? { inputShape: [2048] } : {}), activation: 'relu' })),
  });
  model.compile({ optimizer: tf.train.sgd(0.001), loss: 'meanSquaredError' });
  const x = tf.randomNormal([64, 2048]);
  const y = tf.randomNormal([64, 2048]);
  const checkpoint = modelCheckpoint({ filepath: `indexeddb://bench-fit-held-${Date.now()}/w{epoch:02d}`, saveWeightsOnly: true });
  const onEpochEndMs: number[] = [];
  const betweenMs: number[] = [];
  const own = checkpoint.onEpochEnd.bind(checkpoint);
  checkpoint.onEpochEnd = async (epoch, logs) => {
    const started = performance.now();
    await own(epoch, logs);
    onEpochEndMs.push(performance.now() - started);
  };
  let t0 = 0;
  await model.fit(x, y, {
    epochs: 4,
    batchSize: 32,
    verbose: 0,
    yieldEvery: 'batch',
    callbacks: [
      new tf.CustomCallback({ onEpochEnd: async () => void (t0 = performance.now()) }),
      variant === 'ckpt' ? (checkpoint as unknown as tf.CustomCallback) : new tf.CustomCallback({}),
      new tf.CustomCallback({ onEpochEnd: async () => void betweenMs.push(performance.now() - t0) }),
    ],
  });
  await checkpoint.flush();
  tf.dispose([x, y]);
  model.dispose();
  return { onEpochEndMs, betweenMs };
};
window.__ready = true;
