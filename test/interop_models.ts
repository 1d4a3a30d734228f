/**
 * The interop fixtures' architectures (test/fixtures/interop, made by make_fixtures.py with Keras 3)
 * built in TF.js with Keras's layer names, and what Keras predicted with them.
 */
import * as tf from '@tensorflow/tfjs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURES = fileURLToPath(new URL('./fixtures/interop/', import.meta.url));

export interface Expected {
  input: { dtype: string; shape: number[]; values: number[] };
  output: { shape: number[]; values: number[] };
  weights: { name: string; shape: number[]; dtype: string }[];
}

export async function expected(name: string): Promise<Expected> {
  return JSON.parse(await readFile(join(FIXTURES, `${name}.expected.json`), 'utf8'));
}

/** The fixtures' architectures in TF.js, with Keras's layer names (and Keras 3's LSTM recurrent activation). */
export const BUILD: Record<string, () => tf.LayersModel> = {
  dense_bn: () =>
    tf.sequential({
      layers: [
        tf.layers.dense({ units: 8, activation: 'relu', inputShape: [4], name: 'dense' }),
        tf.layers.batchNormalization({ name: 'batch_normalization' }),
        tf.layers.dropout({ rate: 0.2, name: 'dropout' }),
        tf.layers.dense({ units: 3, activation: 'softmax', name: 'dense_1' }),
      ],
    }),
  conv: () =>
    tf.sequential({
      layers: [
        tf.layers.conv2d({ filters: 4, kernelSize: 3, activation: 'relu', inputShape: [8, 8, 1], name: 'conv2d' }),
        tf.layers.maxPooling2d({ poolSize: 2, name: 'max_pooling2d' }),
        tf.layers.flatten({ name: 'flatten' }),
        tf.layers.dense({ units: 2, name: 'dense' }),
      ],
    }),
  embed_lstm: () => {
    const tokens = tf.input({ shape: [6], dtype: 'int32', name: 'tokens' });
    const embedded = tf.layers.embedding({ inputDim: 10, outputDim: 4, name: 'embedding' }).apply(tokens) as tf.SymbolicTensor;
    const sequence = tf.layers.lstm({ units: 5, returnSequences: true, recurrentActivation: 'sigmoid', name: 'lstm' }).apply(embedded) as tf.SymbolicTensor;
    const pooled = tf.layers.globalAveragePooling1d({ name: 'global_average_pooling1d' }).apply(sequence) as tf.SymbolicTensor;
    const skip = tf.layers.globalAveragePooling1d({ name: 'global_average_pooling1d_1' }).apply(embedded) as tf.SymbolicTensor;
    const joined = tf.layers.concatenate({ name: 'concatenate' }).apply([pooled, skip]) as tf.SymbolicTensor;
    return tf.model({ inputs: tokens, outputs: tf.layers.dense({ units: 2, name: 'dense' }).apply(joined) as tf.SymbolicTensor });
  },
};

export function predict(model: tf.LayersModel, e: Expected): Float32Array {
  const x = tf.tensor(e.input.values, e.input.shape, e.input.dtype === 'int32' ? 'int32' : 'float32');
  const y = model.predict(x) as tf.Tensor;
  const values = y.dataSync() as Float32Array;
  x.dispose();
  y.dispose();
  return values;
}
