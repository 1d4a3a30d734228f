/** Builds the bench model on the CPU backend and simulates training steps between saves. */
import * as tf from '@tensorflow/tfjs';
import { crc32 } from 'node:zlib';
import { nowMs } from './stats.js';
import { paramsOf, type SizeSpec } from './sizes.js';

export interface BenchModel {
  model: tf.Sequential;
  params: number;
  bytes: number;
  buildMs: number;
}

export async function initTf(): Promise<void> {
  tf.enableProdMode();
  await tf.setBackend('cpu');
  await tf.ready();
}

/**
 * Zeros initializers build fast, but calloc'd zero pages are not resident and read as the shared zero
 * page, which would flatter every copy and every RSS number. So each weight is filled once in place
 * (the CPU backend's dataSync() returns the backing array) with a per-weight pattern.
 */
export function buildModel(size: SizeSpec): BenchModel {
  const t0 = nowMs();
  const model = tf.sequential();
  for (let i = 0; i < 4; i++) {
    model.add(
      tf.layers.dense({
        units: size.width,
        ...(i === 0 ? { inputShape: [size.width] } : {}),
        activation: i === 3 ? 'linear' : 'relu',
        kernelInitializer: 'zeros',
        biasInitializer: 'zeros',
      }),
    );
  }
  model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
  model.weights.forEach((w, k) => {
    const values = w.read().dataSync() as Float32Array;
    values.fill(0.001 * (k + 1));
    values[0] = k + 0.25;
    values[values.length - 1] = -(k + 0.75);
  });
  const params = model.countParams();
  if (params !== paramsOf(size)) throw new Error(`Model has ${params} params, expected ${paramsOf(size)}`);
  return { model, params, bytes: params * 4, buildMs: nowMs() - t0 };
}

/**
 * One "training step": gives every weight new values, as an optimizer step would (new data ids). Every
 * weight, not one layer: unchanged weights are reused between checkpoints by hard link
 * (src/checkpoint/incremental.ts), so a save after a partial step would write only part of the model.
 * The replaced arrays become garbage here; cases collect it (gc(), run.ts passes --expose-gc) before
 * timing, so it is not charged to the save.
 */
export function mutateWeights(model: tf.LayersModel, step: number): void {
  mutateLayers(model, model.layers.map((_, i) => i), step);
}

/** Gives new values to the weights of the given layers only (the others keep their data ids). */
export function mutateLayers(model: tf.LayersModel, layers: readonly number[], step: number): void {
  for (const i of layers) {
    for (const w of model.layers[i]!.weights) {
      tf.tidy(() => {
        w.write(w.read().add(step % 2 === 0 ? 1 : -1));
      });
    }
  }
}

/** CRC-32 of every weight's bytes, in model.weights order, to check that a load returned the same values. */
export function weightChecksums(model: tf.LayersModel): number[] {
  return model.weights.map((w) => {
    const v = w.read().dataSync();
    return crc32(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  });
}
