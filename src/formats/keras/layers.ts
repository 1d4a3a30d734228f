/**
 * One layer's config, TF.js <-> Keras. Both sides use the same snake_case key for the same option
 * (TF.js's model.json follows Keras), so each supported class lists its shared keys with how to
 * translate the value, the keys only Keras has (with the value that means what TF.js does) and the
 * keys only TF.js has (with the values that are safe to drop). Anything else is an error, since
 * Keras 3 rejects unknown constructor arguments and a dropped option would change the model.
 */
import {
  activationFromKeras,
  activationToKeras,
  constraintFromKeras,
  constraintToKeras,
  dtypePolicyFromKeras,
  dtypePolicyToKeras,
  initializerFromKeras,
  initializerToKeras,
  regularizerFromKeras,
  regularizerToKeras,
  type ActivationOptions,
  type KerasFlavor,
  type LayerRef,
} from './objects.js';
import { snake, unsupported, type Json, type JsonObject } from './json.js';

type Kind = 'value' | 'activation' | 'initializer' | 'regularizer' | 'constraint' | 'dataFormat';

interface LayerSpec {
  shared: Record<string, Kind>;
  /** What TF.js means when the key is missing or null (TF.js often leaves defaults out). */
  tfjsDefaults?: JsonObject;
  /** Keras-only keys and the value equal to TF.js's behaviour; `keras3` ones are omitted from legacy configs. */
  kerasOnly?: JsonObject;
  keras3Only?: JsonObject;
  /** TF.js-only keys that carry no meaning Keras needs (dropped), or must have these values. */
  tfjsOnly?: Record<string, (v: Json | undefined) => boolean>;
  /** Keras records a build_config (the input shape) for layers with a build step. */
  built?: boolean;
}

const any = () => true;
const nullish = (v: Json | undefined) => v === null || v === undefined;

const WEIGHTS = (prefix: string): Record<string, Kind> => ({
  [`${prefix}_initializer`]: 'initializer',
  [`${prefix}_regularizer`]: 'regularizer',
  [`${prefix}_constraint`]: 'constraint',
});

const DENSE_LIKE: Record<string, Kind> = {
  activation: 'activation',
  use_bias: 'value',
  ...WEIGHTS('kernel'),
  ...WEIGHTS('bias'),
  activity_regularizer: 'regularizer',
};

const CONV: Record<string, Kind> = { filters: 'value', kernel_size: 'value', strides: 'value', padding: 'value', dilation_rate: 'value', ...DENSE_LIKE };

const RNN_BASE: Record<string, Kind> = {
  units: 'value',
  activation: 'activation',
  use_bias: 'value',
  ...WEIGHTS('kernel'),
  ...WEIGHTS('recurrent'),
  ...WEIGHTS('bias'),
  activity_regularizer: 'regularizer',
  dropout: 'value',
  recurrent_dropout: 'value',
  return_sequences: 'value',
  return_state: 'value',
  go_backwards: 'value',
  stateful: 'value',
  unroll: 'value',
};
const RNN_DEFAULTS: JsonObject = { dropout: 0, recurrent_dropout: 0, return_sequences: false, return_state: false, go_backwards: false, stateful: false, unroll: false, use_bias: true };

const POOL2D: LayerSpec = { shared: { pool_size: 'value', padding: 'value', strides: 'value', data_format: 'dataFormat' } };
const POOL1D: LayerSpec = { shared: { pool_size: 'value', padding: 'value', strides: 'value' }, kerasOnly: { data_format: 'channels_last' } };
const GLOBAL2D: LayerSpec = { shared: { data_format: 'dataFormat' }, kerasOnly: { keepdims: false } };
const GLOBAL1D: LayerSpec = { shared: {}, kerasOnly: { data_format: 'channels_last', keepdims: false } };
const MERGE: LayerSpec = { shared: {}, built: true };

export const LAYERS: Record<string, LayerSpec> = {
  Dense: { shared: { units: 'value', ...DENSE_LIKE }, keras3Only: { quantization_config: null }, built: true },
  Conv2D: { shared: { ...CONV, data_format: 'dataFormat' }, kerasOnly: { groups: 1 }, built: true },
  Conv1D: { shared: CONV, kerasOnly: { groups: 1, data_format: 'channels_last' }, built: true },
  MaxPooling2D: POOL2D,
  AveragePooling2D: POOL2D,
  MaxPooling1D: POOL1D,
  AveragePooling1D: POOL1D,
  GlobalAveragePooling2D: GLOBAL2D,
  GlobalMaxPooling2D: GLOBAL2D,
  GlobalAveragePooling1D: GLOBAL1D,
  GlobalMaxPooling1D: GLOBAL1D,
  BatchNormalization: {
    shared: {
      axis: 'value', momentum: 'value', epsilon: 'value', center: 'value', scale: 'value',
      beta_initializer: 'initializer', gamma_initializer: 'initializer', moving_mean_initializer: 'initializer', moving_variance_initializer: 'initializer',
      beta_regularizer: 'regularizer', gamma_regularizer: 'regularizer', beta_constraint: 'constraint', gamma_constraint: 'constraint',
    },
    kerasOnly: { renorm: false, renorm_clipping: null, renorm_momentum: 0.99 },
    keras3Only: { synchronized: false },
    built: true,
  },
  LayerNormalization: {
    shared: { axis: 'value', epsilon: 'value', center: 'value', scale: 'value', beta_initializer: 'initializer', gamma_initializer: 'initializer', beta_regularizer: 'regularizer', gamma_regularizer: 'regularizer' },
    kerasOnly: { beta_constraint: null, gamma_constraint: null },
    keras3Only: { rms_scaling: false },
    built: true,
  },
  Embedding: {
    shared: { input_dim: 'value', output_dim: 'value', ...WEIGHTS('embeddings'), activity_regularizer: 'regularizer', mask_zero: 'value' },
    tfjsDefaults: { mask_zero: false },
    keras3Only: { quantization_config: null },
    // TF.js keeps input_length only to infer shapes; Keras 3 removed it.
    tfjsOnly: { input_length: any },
    built: true,
  },
  LSTM: {
    shared: { ...RNN_BASE, recurrent_activation: 'activation', unit_forget_bias: 'value' },
    // TF.js's defaults when its config leaves them out: hardSigmoid, and no forget-gate bias of 1.
    tfjsDefaults: { ...RNN_DEFAULTS, recurrent_activation: 'hard_sigmoid', unit_forget_bias: false },
    kerasOnly: { zero_output_for_mask: false },
    keras3Only: { seed: null },
    tfjsOnly: { implementation: any },
    built: true,
  },
  GRU: {
    shared: { ...RNN_BASE, recurrent_activation: 'activation', reset_after: 'value' },
    tfjsDefaults: { ...RNN_DEFAULTS, recurrent_activation: 'hard_sigmoid', reset_after: false },
    kerasOnly: { zero_output_for_mask: false },
    keras3Only: { seed: null },
    tfjsOnly: { implementation: any },
    built: true,
  },
  SimpleRNN: { shared: RNN_BASE, tfjsDefaults: RNN_DEFAULTS, kerasOnly: { zero_output_for_mask: false }, keras3Only: { seed: null }, built: true },
  Dropout: { shared: { rate: 'value' }, kerasOnly: { noise_shape: null, seed: null }, tfjsOnly: { noise_shape: nullish, seed: any } },
  Flatten: { shared: {}, kerasOnly: { data_format: 'channels_last' }, tfjsOnly: { data_format: (v) => nullish(v) || snake(String(v)) === 'channels_last' } },
  Reshape: { shared: { target_shape: 'value' } },
  Activation: { shared: { activation: 'activation' } },
  Concatenate: { shared: { axis: 'value' }, tfjsDefaults: { axis: -1 }, built: true },
  Add: MERGE,
  Multiply: MERGE,
  Average: MERGE,
  Maximum: MERGE,
  Minimum: MERGE,
};

/** Keys every layer has, handled outside the table. */
const COMMON = new Set(['name', 'trainable', 'dtype', 'batch_input_shape', 'batch_size', 'input_dtype']);

export interface LayerOptions extends ActivationOptions {
  flavor: KerasFlavor;
}

function spec(className: string, ref: LayerRef): LayerSpec {
  const s = LAYERS[className];
  if (!s) throw unsupported(ref, `layer class ${className} is not one this translator supports (${Object.keys(LAYERS).join(', ')}, InputLayer)`);
  return s;
}

const equalJson = (a: Json | undefined, b: Json | undefined) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/** A TF.js layer config (topology form) as the Keras config of the same layer. */
export function layerConfigToKeras(className: string, config: JsonObject, options: LayerOptions): JsonObject {
  const ref: LayerRef = { name: config['name'], className };
  const s = spec(className, ref);
  const out: JsonObject = { name: config['name'] ?? null, trainable: config['trainable'] ?? true, dtype: dtypePolicyToKeras(config['dtype'], ref, options.flavor) };
  for (const [key, kind] of Object.entries(s.shared)) {
    let value = config[key];
    if (value === undefined || value === null) value = s.tfjsDefaults?.[key] ?? value;
    const translated = toKerasValue(kind, value, ref, key, options);
    // Keras writes activity_regularizer only for some classes but accepts it on all: omit the default.
    if (key === 'activity_regularizer' && translated === null) continue;
    if (translated !== undefined) out[key] = translated;
  }
  Object.assign(out, s.kerasOnly ?? {});
  if (options.flavor === 'keras3') Object.assign(out, s.keras3Only ?? {});
  for (const [key, value] of Object.entries(config)) {
    if (COMMON.has(key) || key in s.shared) continue;
    const drop = s.tfjsOnly?.[key];
    if (drop ? drop(value) : nullish(value)) continue;
    throw unsupported(ref, `option ${key}=${JSON.stringify(value)} has no Keras equivalent`);
  }
  return out;
}

function toKerasValue(kind: Kind, value: Json | undefined, ref: LayerRef, key: string, options: LayerOptions): Json | undefined {
  switch (kind) {
    case 'activation':
      return activationToKeras(value, ref, options);
    case 'initializer':
      return initializerToKeras(value, ref, key, options.flavor);
    case 'regularizer':
      return regularizerToKeras(value, ref, key, options.flavor);
    case 'constraint':
      return constraintToKeras(value, ref, key, options.flavor);
    case 'dataFormat':
      return dataFormat(value, ref);
    case 'value':
      return value;
  }
}

function dataFormat(value: Json | undefined, ref: LayerRef): string {
  if (value === null || value === undefined) return 'channels_last';
  const v = snake(String(value));
  if (v !== 'channels_last' && v !== 'channels_first') throw unsupported(ref, `data_format "${String(value)}" is unknown`);
  return v;
}

/** A Keras layer config (3 or legacy) as a TF.js layer config (topology form). */
export function layerConfigFromKeras(className: string, config: JsonObject, options: ActivationOptions): JsonObject {
  const ref: LayerRef = { name: config['name'], className };
  const s = spec(className, ref);
  const out: JsonObject = { name: config['name'] ?? null, trainable: config['trainable'] ?? true, dtype: dtypePolicyFromKeras(config['dtype'], ref) };
  for (const [key, kind] of Object.entries(s.shared)) {
    const value = config[key];
    if (value === undefined) continue; // TF.js applies its own default, which is Keras's for these keys
    out[key] = fromKerasValue(kind, value, ref, key, options);
  }
  // TF.js's GRU has no reset_after=True (Keras 3's default): its weights have another layout.
  if (className === 'GRU' && config['reset_after'] !== false) throw unsupported(ref, 'reset_after=True (the Keras 3 default) is not implemented in TF.js; build the Keras GRU with reset_after=False');
  if (className === 'Dense' || className === 'Embedding') {
    if (!nullish(config['quantization_config'])) throw unsupported(ref, 'is quantized, which TF.js cannot run');
  }
  const known = { ...(s.kerasOnly ?? {}), ...(s.keras3Only ?? {}) };
  for (const [key, value] of Object.entries(config)) {
    if (COMMON.has(key) || key in s.shared) continue;
    if (key in known) {
      if (equalJson(value, known[key]) || (key === 'seed' && !nullish(value)) || key === 'quantization_config') continue;
      throw unsupported(ref, `option ${key}=${JSON.stringify(value)} is not supported by TF.js (only ${JSON.stringify(known[key])})`);
    }
    if (key === 'input_shape' || key === 'input_length') continue; // legacy first-layer shape hints, handled by the model
    if (key === 'seed' || (key === 'noise_shape' && nullish(value))) continue;
    throw unsupported(ref, `option ${key}=${JSON.stringify(value)} is not supported by TF.js`);
  }
  return out;
}

function fromKerasValue(kind: Kind, value: Json, ref: LayerRef, key: string, options: ActivationOptions): Json {
  switch (kind) {
    case 'activation':
      return activationFromKeras(value, ref, options);
    case 'initializer':
      return initializerFromKeras(value, ref, key);
    case 'regularizer':
      return regularizerFromKeras(value, ref, key);
    case 'constraint':
      return constraintFromKeras(value, ref, key);
    case 'dataFormat':
      return dataFormat(value, ref);
    case 'value':
      return value;
  }
}

export function recordsBuildConfig(className: string): boolean {
  return LAYERS[className]?.built === true;
}
