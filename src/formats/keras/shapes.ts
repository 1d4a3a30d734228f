/**
 * Output shapes of the supported layers, from their (snake_case) config and input shapes. Keras 3
 * writes every functional edge as a `__keras_tensor__` with its shape, and a `build_config` with
 * each built layer's input shape; a TF.js topology has neither, so they are computed here, the way
 * both libraries compute them. `null` is an unknown dimension (the batch, or a free sequence length).
 */
import { snake, unsupported, type Json, type JsonObject } from './json.js';

export type Shape = (number | null)[];

const list = (v: Json | undefined, rank: number, fallback: number): number[] => {
  if (typeof v === 'number') return Array(rank).fill(v);
  if (Array.isArray(v) && v.every((x) => typeof x === 'number')) return v as number[];
  return Array(rank).fill(fallback);
};

const channelsFirst = (config: JsonObject) => snake(String(config['data_format'] ?? 'channels_last')) === 'channels_first';

/** Spatial length after a window (conv or pool): Keras's conv_output_length. */
function windowed(n: number | null, size: number, stride: number, padding: string, dilation = 1): number | null {
  if (n === null) return null;
  const extent = (size - 1) * dilation + 1;
  if (padding === 'same' || padding === 'causal') return Math.ceil(n / stride);
  return Math.ceil((n - extent + 1) / stride);
}

function spatial(config: JsonObject, input: Shape, rank: number, channels: (c: number | null) => number | null, size: number[], strides: number[], dilation: number[]): Shape {
  const first = channelsFirst(config) && rank === 2;
  const dims = first ? input.slice(2) : input.slice(1, 1 + rank);
  const padding = String(config['padding'] ?? 'valid');
  const out = dims.map((n, i) => windowed(n, size[i]!, strides[i]!, padding, dilation[i] ?? 1));
  const c = channels(first ? input[1]! : input[input.length - 1]!);
  return first ? [input[0]!, c, ...out] : [input[0]!, ...out, c];
}

const product = (dims: Shape): number | null => (dims.some((d) => d === null) ? null : (dims as number[]).reduce((a, b) => a * b, 1));

/** The output shape(s) of one call of a layer on inputs of these shapes. */
export function outputShapes(className: string, config: JsonObject, inputs: Shape[]): Shape[] {
  const x = inputs[0]!;
  const rank = className.endsWith('1D') ? 1 : 2;
  switch (className) {
    case 'Dense':
      return [[...x.slice(0, -1), config['units'] as number]];
    case 'Conv1D':
    case 'Conv2D': {
      const size = list(config['kernel_size'], rank, 1);
      return [spatial(config, x, rank, () => config['filters'] as number, size, list(config['strides'], rank, 1), list(config['dilation_rate'], rank, 1))];
    }
    case 'MaxPooling1D':
    case 'MaxPooling2D':
    case 'AveragePooling1D':
    case 'AveragePooling2D': {
      const size = list(config['pool_size'], rank, 2);
      const strides = config['strides'] === null || config['strides'] === undefined ? size : list(config['strides'], rank, 1);
      return [spatial(config, x, rank, (c) => c, size, strides, [])];
    }
    case 'GlobalAveragePooling1D':
    case 'GlobalMaxPooling1D':
    case 'GlobalAveragePooling2D':
    case 'GlobalMaxPooling2D':
      return [[x[0]!, channelsFirst(config) ? x[1]! : x[x.length - 1]!]];
    case 'BatchNormalization':
    case 'LayerNormalization':
    case 'Dropout':
    case 'Activation':
      return [x];
    case 'Embedding':
      return [[...x, config['output_dim'] as number]];
    case 'LSTM':
    case 'GRU':
    case 'SimpleRNN': {
      const units = config['units'] as number;
      const out: Shape = config['return_sequences'] ? [x[0]!, x[1]!, units] : [x[0]!, units];
      if (!config['return_state']) return [out];
      const states: Shape[] = Array(className === 'LSTM' ? 2 : 1).fill([x[0]!, units]);
      return [out, ...states];
    }
    case 'Flatten':
      return [[x[0]!, product(x.slice(1))]];
    case 'Reshape': {
      const target = config['target_shape'] as number[];
      const known = product(x.slice(1));
      const rest = target.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
      return [[x[0]!, ...target.map((d) => (d === -1 ? (known === null ? null : known / rest) : d))]];
    }
    case 'Concatenate': {
      const r = x.length;
      const axis = (((config['axis'] as number | undefined) ?? -1) + r) % r;
      const out = [...x];
      out[axis] = inputs.some((s) => s[axis] === null) ? null : inputs.reduce((sum, s) => sum + (s[axis] as number), 0);
      return [out];
    }
    case 'Add':
    case 'Multiply':
    case 'Average':
    case 'Maximum':
    case 'Minimum':
      // Same-shaped inputs; a dimension known in any input is known.
      return [x.map((d, i) => d ?? inputs.find((s) => s[i] !== null)?.[i] ?? null)];
    default:
      throw unsupported({ name: config['name'], className }, `layer class ${className} is not supported`);
  }
}
