/**
 * The test helpers that need nothing of Node (small seeded models, weight comparison, the seeded PRNG),
 * so the browser pages (test/browser/) bundle them too. test/helpers.ts re-exports them with the Node ones.
 */
import * as tf from '@tensorflow/tfjs';
import { seedGlorotUniformKernel } from './seeded_init.js';

tf.enableProdMode();

/** A small classifier with seeded initializers, compiled with adam and accuracy. */
export function smallClassifier(seed = 1, { batchNorm = false } = {}): tf.Sequential {
  const layers: tf.layers.Layer[] = [
    tf.layers.dense({ inputShape: [4], units: 8, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed }) }),
  ];
  if (batchNorm) layers.push(tf.layers.batchNormalization());
  layers.push(tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }));
  const model = tf.sequential({ layers });
  seedGlorotUniformKernel(layers[0]!, seed);
  seedGlorotUniformKernel(layers.at(-1)!, seed + 1);
  model.compile({ optimizer: tf.train.adam(0.05), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  return model;
}

/** Deterministic toy data: n samples of 4 features and one-hot labels from 3 classes. */
export function toyData(n: number, seed = 7): { x: tf.Tensor2D; y: tf.Tensor2D } {
  const x = tf.randomNormal([n, 4], 0, 1, 'float32', seed) as tf.Tensor2D;
  const labels = tf.tidy(() => x.slice([0, 0], [n, 1]).add(x.slice([0, 1], [n, 1])).reshape([n]).step().add(x.slice([0, 2], [n, 1]).reshape([n]).step()).toInt());
  const y = tf.oneHot(labels as tf.Tensor1D, 3).toFloat() as tf.Tensor2D;
  labels.dispose();
  return { x, y };
}

export function maxAbsDiff(a: tf.Tensor[], b: tf.Tensor[]): number {
  return Math.max(0, ...a.map((t, i) => tf.tidy(() => t.sub(b[i]!).abs().max().dataSync()[0]!)));
}

export function weightsOf(model: tf.LayersModel): tf.Tensor[] {
  return model.getWeights();
}

/** mulberry32: the one seeded PRNG of the tests, so a failing random case can be replayed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Deterministic numbers in [-0.5, 0.5) from a 32-bit LCG: the same in a page and in Node, so both sides of a browser test see the same data. */
export function lcgNumbers(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  return out;
}
