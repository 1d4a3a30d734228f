/**
 * The page of resume.test.ts: `?store=indexeddb|opfs&backend=cpu|wasm|webgl|webgpu&phase=train|resume`.
 *
 * train: a seeded model trains 3 epochs with `modelCheckpoint` (best only, on val_loss, whole model)
 * and `backupAndRestore`. At every epoch where the best improved, the page records what the model
 * predicts right then (the values the snapshot must hold, though training goes on while it persists).
 * resume (after a reload, so nothing survives but the store): loads the best model and predicts;
 * `restoreTraining` gives the backed-up model and its epoch; a new `modelCheckpoint` on the same
 * template must know the best score when training begins, and the run continues 2 epochs.
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-backend-webgpu';
import { backupAndRestore, fileLoadHandler, latestCheckpoint, loadModel, modelCheckpoint, restoreTraining, verify } from '../../src/universal.js';
import { lcgNumbers } from '../model_helpers.js';

declare global {
  interface Window {
    __resume?: Record<string, unknown>;
  }
}

const params = new URLSearchParams(location.search);
const store = params.get('store')!;
const backend = params.get('backend')!;
const phase = params.get('phase')!;
const dir = `${store}://resume-${backend}`;

const numbers = lcgNumbers;

function build(): tf.LayersModel {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [6], units: 16, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
      tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
    ],
  });
  model.compile({ optimizer: tf.train.adam(0.02), loss: 'meanSquaredError' });
  return model;
}

// Made once the backend is set (tensors belong to a backend).
let x: tf.Tensor2D, y: tf.Tensor2D, vx: tf.Tensor2D, vy: tf.Tensor2D, probe: tf.Tensor2D;
function makeData(): void {
  x = tf.tensor2d(numbers(64 * 6, 11), [64, 6]);
  y = tf.tensor2d(numbers(64 * 3, 12), [64, 3]);
  vx = tf.tensor2d(numbers(16 * 6, 13), [16, 6]);
  vy = tf.tensor2d(numbers(16 * 3, 14), [16, 3]);
  probe = tf.tensor2d(numbers(4 * 6, 15), [4, 6]);
}

// Asynchronous reads only: a synchronous one stalls WebGL and breaks WebGPU on SwiftShader.
const predict = async (model: tf.LayersModel) => Array.from(await (model.predict(probe) as tf.Tensor).data());

async function train(): Promise<Record<string, unknown>> {
  const model = build();
  const checkpoint = modelCheckpoint({ filepath: `${dir}/best`, monitor: 'val_loss', saveBestOnly: true });
  let best = Infinity;
  let atBest: number[] = [];
  const bestEpochs: number[] = [];
  await model.fit(x, y, {
    epochs: 3,
    batchSize: 16,
    shuffle: false,
    validationData: [vx, vy],
    callbacks: [
      checkpoint,
      // After the checkpoint's onEpochEnd, before the next batch changes the weights.
      new tf.CustomCallback({
        onEpochEnd: async (epoch) => {
          if (checkpoint.best < best) {
            best = checkpoint.best;
            atBest = await predict(model);
            bestEpochs.push(epoch + 1);
          }
        },
      }),
      backupAndRestore({ backupDir: `${dir}/backup`, deleteCheckpoint: false }),
    ],
  });
  return { best: checkpoint.best, bestEpochs, atBest, trained: await predict(model), verified: (await verify(`${dir}/best`)).checksums };
}

async function resume(): Promise<Record<string, unknown>> {
  const bestModel = await loadModel(`${dir}/best`);
  // Before training on (which may save a new best). Stock TF.js: our checkpoint through an IOHandler, and its own indexeddb:// handler, untouched by ours.
  const stock = await tf.loadLayersModel(fileLoadHandler(`${dir}/best`));
  let stockIndexedDb: number[] | undefined;
  let stockByName: number[] | undefined;
  if (store === 'indexeddb') {
    stockByName = await predict(await tf.loadLayersModel(`${dir}/best`));
    await stock.save(`indexeddb://stock-${backend}`);
    stockIndexedDb = await predict(await tf.loadLayersModel(`indexeddb://stock-${backend}`));
  }
  const { model, initialEpoch } = await restoreTraining(`${dir}/backup`, build);
  const restored = await predict(model);
  const checkpoint = modelCheckpoint({ filepath: `${dir}/best`, monitor: 'val_loss', saveBestOnly: true });
  let bestAtStart: number | undefined;
  await model.fit(x, y, {
    epochs: initialEpoch + 2,
    initialEpoch,
    batchSize: 16,
    shuffle: false,
    validationData: [vx, vy],
    callbacks: [checkpoint, new tf.CustomCallback({ onTrainBegin: async () => void (bestAtStart = checkpoint.best) }), backupAndRestore({ backupDir: `${dir}/backup` })],
  });
  return { stockPredictions: await predict(stock), stockIndexedDb, stockByName, bestPredictions: await predict(bestModel), initialEpoch, restored, bestAtStart, bestAfter: checkpoint.best, latest: await latestCheckpoint(`${dir}/best`) };
}

try {
  if (backend === 'wasm') setWasmPaths('/wasm/');
  if (!(await tf.setBackend(backend))) throw new Error(`the ${backend} backend did not initialize`);
  await tf.ready();
  makeData();
  const result = phase === 'train' ? await train() : await resume();
  window.__resume = { backend: tf.getBackend(), ...result };
} catch (e) {
  window.__resume = { error: String((e as Error)?.stack ?? e) };
}
