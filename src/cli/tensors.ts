/**
 * The TF.js runtime and a checkpoint's weights, for the commands that look at values (inspect, diff,
 * export). TF.js is a peer dependency: `@tensorflow/tfjs` (or tfjs-core and tfjs-layers with the CPU
 * backend) must be installed beside the package. Loaded only by the commands that need it.
 */
import type { NamedTensorMap, Tensor } from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { loadCheckpoint } from '../index.js';
import { UsageError } from './errors.js';

type Tfjs = typeof import('@tensorflow/tfjs-core');

let runtime: Promise<Tfjs> | undefined;

/** tfjs-core with a backend: `@tensorflow/tfjs` where installed, else the CPU backend alone. */
export function tfjs(): Promise<Tfjs> {
  runtime ??= (async () => {
    const core = await import('@tensorflow/tfjs-core');
    // Production mode: no debug checks, and no "install the node backend" banner on our stderr.
    core.enableProdMode();
    if (core.engine().backendNames().length === 0) {
      try {
        await import('@tensorflow/tfjs');
      } catch {
        try {
          await import(/* a peer of @tensorflow/tfjs */ '@tensorflow/tfjs-backend-cpu' as string);
        } catch {
          throw new UsageError('this command needs TensorFlow.js: npm install @tensorflow/tfjs');
        }
      }
    }
    if (core.engine().backendNames().includes('cpu')) await core.setBackend('cpu');
    return core;
  })();
  return runtime;
}

export interface NamedWeight {
  /** The name the weight is stored under (`dense/kernel`): the same for a full model and a weights-only save of it. */
  name: string;
  tensor: Tensor;
}

export interface LoadedCheckpoint {
  model?: LayersModel;
  weights: NamedWeight[];
}

function isModel(value: LayersModel | NamedTensorMap): value is LayersModel {
  return typeof (value as LayersModel).getWeights === 'function' && Array.isArray((value as LayersModel).weights);
}

/** A checkpoint's weights by name: a full model's (rebuilt) or a weights-only checkpoint's tensors. */
export async function loadWeightsOf(url: string): Promise<LoadedCheckpoint> {
  await tfjs();
  const loaded = await loadCheckpoint(url);
  if (!isModel(loaded)) return { weights: Object.entries(loaded).map(([name, tensor]) => ({ name, tensor })) };
  // Two models in one process get uniquified variable names (`kernel_1`); originalName is the stored one.
  const weights = loaded.weights.map((w) => ({ name: (w as { originalName?: string }).originalName ?? w.name, tensor: w.read() }));
  return { model: loaded, weights };
}
