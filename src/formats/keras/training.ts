/**
 * TF.js's training config (loss, metrics, optimizer) as Keras wants it. Keras 3 reads a legacy .h5
 * `training_config` through `losses.deserialize` / `metrics.deserialize`, which reject bare function
 * names such as "mse" ("keras.metrics.mse is not a KerasSaveable subclass"), so losses and metrics
 * are written as objects (`{class_name: "MeanSquaredError", config: {...}}`), the form Keras 3's own
 * legacy writer uses. Anything without an exact Keras counterpart makes the whole config
 * `undefined`: a model that loads uncompiled is better than one compiled with a different loss.
 */
import { isObject, snake, type Json, type JsonObject } from './json.js';
import type { KerasFlavor } from './objects.js';

/** TF.js `model.getTrainingConfig()` (what model.json's `trainingConfig` holds). */
export interface TfjsTrainingConfig {
  loss: Json;
  metrics?: Json;
  optimizer_config: { class_name: string; config: JsonObject };
  loss_weights?: Json;
  [key: string]: Json | undefined;
}

/** Loss functions TF.js and Keras compute alike: TF.js name (snake_case) -> Keras class and function name. */
const LOSSES: Record<string, [string, string]> = {
  mean_squared_error: ['MeanSquaredError', 'mean_squared_error'],
  mse: ['MeanSquaredError', 'mean_squared_error'],
  mean_absolute_error: ['MeanAbsoluteError', 'mean_absolute_error'],
  mae: ['MeanAbsoluteError', 'mean_absolute_error'],
  mean_absolute_percentage_error: ['MeanAbsolutePercentageError', 'mean_absolute_percentage_error'],
  mape: ['MeanAbsolutePercentageError', 'mean_absolute_percentage_error'],
  mean_squared_logarithmic_error: ['MeanSquaredLogarithmicError', 'mean_squared_logarithmic_error'],
  msle: ['MeanSquaredLogarithmicError', 'mean_squared_logarithmic_error'],
  binary_crossentropy: ['BinaryCrossentropy', 'binary_crossentropy'],
  categorical_crossentropy: ['CategoricalCrossentropy', 'categorical_crossentropy'],
  sparse_categorical_crossentropy: ['SparseCategoricalCrossentropy', 'sparse_categorical_crossentropy'],
  hinge: ['Hinge', 'hinge'],
  squared_hinge: ['SquaredHinge', 'squared_hinge'],
  categorical_hinge: ['CategoricalHinge', 'categorical_hinge'],
  logcosh: ['LogCosh', 'log_cosh'],
  log_cosh: ['LogCosh', 'log_cosh'],
  kullback_leibler_divergence: ['KLDivergence', 'kl_divergence'],
  poisson: ['Poisson', 'poisson'],
};

/** Metrics by TF.js name -> Keras class and name; 'accuracy'/'acc' stay strings (Keras picks the kind from the output). */
const METRICS: Record<string, [string, string]> = {
  binary_accuracy: ['BinaryAccuracy', 'binary_accuracy'],
  categorical_accuracy: ['CategoricalAccuracy', 'categorical_accuracy'],
  sparse_categorical_accuracy: ['SparseCategoricalAccuracy', 'sparse_categorical_accuracy'],
  mean_squared_error: ['MeanSquaredError', 'mean_squared_error'],
  mse: ['MeanSquaredError', 'mean_squared_error'],
  mean_absolute_error: ['MeanAbsoluteError', 'mean_absolute_error'],
  mae: ['MeanAbsoluteError', 'mean_absolute_error'],
  mean_absolute_percentage_error: ['MeanAbsolutePercentageError', 'mean_absolute_percentage_error'],
  mape: ['MeanAbsolutePercentageError', 'mean_absolute_percentage_error'],
  binary_crossentropy: ['BinaryCrossentropy', 'binary_crossentropy'],
  categorical_crossentropy: ['CategoricalCrossentropy', 'categorical_crossentropy'],
  sparse_categorical_crossentropy: ['SparseCategoricalCrossentropy', 'sparse_categorical_crossentropy'],
  precision: ['Precision', 'precision'],
  recall: ['Recall', 'recall'],
};

/** TF.js optimizer class -> Keras class, with its config keys (TF.js camelCase -> Keras). */
const OPTIMIZERS: Record<string, [string, Record<string, string>]> = {
  Adam: ['Adam', { learningRate: 'learning_rate', beta1: 'beta_1', beta2: 'beta_2', epsilon: 'epsilon' }],
  SGD: ['SGD', { learningRate: 'learning_rate' }],
  Momentum: ['SGD', { learningRate: 'learning_rate', momentum: 'momentum', useNesterov: 'nesterov' }],
  RMSProp: ['RMSprop', { learningRate: 'learning_rate', decay: 'rho', momentum: 'momentum', epsilon: 'epsilon', centered: 'centered' }],
  Adagrad: ['Adagrad', { learningRate: 'learning_rate', initialAccumulatorValue: 'initial_accumulator_value' }],
  Adadelta: ['Adadelta', { learningRate: 'learning_rate', rho: 'rho', epsilon: 'epsilon' }],
  Adamax: ['Adamax', { learningRate: 'learning_rate', beta1: 'beta_1', beta2: 'beta_2', epsilon: 'epsilon' }],
};

function wrap(flavor: KerasFlavor, module: string, className: string, config: JsonObject): JsonObject {
  return flavor === 'keras3' ? { module, class_name: className, config, registered_name: null } : { class_name: className, config };
}

/** Maps a loss/metric structure (string, list, or dict by output) with `one`; undefined if any item fails. */
function mapNested(value: Json | undefined, one: (name: string) => Json | undefined): Json | undefined {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return one(value);
  if (Array.isArray(value)) {
    const items = value.map((v) => mapNested(v, one));
    return items.some((v) => v === undefined) ? undefined : (items as Json[]);
  }
  if (isObject(value)) {
    const entries = Object.entries(value).map(([k, v]) => [k, mapNested(v, one)] as const);
    if (entries.length === 0) return null; // TF.js writes {} for "no metrics"
    return entries.some(([, v]) => v === undefined) ? undefined : Object.fromEntries(entries as [string, Json][]);
  }
  return undefined;
}

function loss(flavor: KerasFlavor, name: string): Json | undefined {
  const found = LOSSES[snake(name)];
  if (!found) return undefined;
  return wrap(flavor, 'keras.losses', found[0], { name: found[1], reduction: 'sum_over_batch_size' });
}

function metric(flavor: KerasFlavor, name: string): Json | undefined {
  if (name === 'accuracy' || name === 'acc') return name;
  const found = METRICS[snake(name)];
  if (!found) return undefined;
  return wrap(flavor, 'keras.metrics', found[0], { name: found[1], dtype: 'float32' });
}

function optimizer(flavor: KerasFlavor, tc: TfjsTrainingConfig): JsonObject | undefined {
  const oc = tc.optimizer_config;
  const found = isObject(oc as unknown as Json) ? OPTIMIZERS[oc.class_name] : undefined;
  if (!found) return undefined;
  const config: JsonObject = {};
  for (const [key, value] of Object.entries(oc.config ?? {})) {
    const kerasKey = found[1][key] ?? found[1][snake(key).replace(/_(.)/g, (_, c: string) => c.toUpperCase())];
    if (kerasKey === undefined) {
      if (value === null || value === 0) continue; // e.g. Adamax decay 0
      return undefined;
    }
    if (value !== null) config[kerasKey] = value;
  }
  return wrap(flavor, 'keras.optimizers', found[0], config);
}

/**
 * The legacy .h5 `training_config` attribute, or undefined when something in it has no exact
 * Keras 3 counterpart (a custom loss, an unknown metric or optimizer).
 */
export function toLegacyTrainingConfig(trainingConfig: TfjsTrainingConfig | null | undefined): JsonObject | undefined {
  return translate('legacy', trainingConfig);
}

/** The `.keras` config.json `compile_config`, or undefined (see toLegacyTrainingConfig). */
export function toKeras3CompileConfig(trainingConfig: TfjsTrainingConfig | null | undefined): JsonObject | undefined {
  return translate('keras3', trainingConfig);
}

function translate(flavor: KerasFlavor, tc: TfjsTrainingConfig | null | undefined): JsonObject | undefined {
  if (!tc || !isObject(tc as unknown as Json)) return undefined;
  const l = mapNested(tc.loss, (n) => loss(flavor, n));
  const m = mapNested(tc.metrics, (n) => metric(flavor, n));
  const o = optimizer(flavor, tc);
  if (l === undefined || m === undefined || o === undefined) return undefined;
  const common = { loss: l, loss_weights: tc.loss_weights ?? null, metrics: m, weighted_metrics: null };
  if (flavor === 'legacy') return { ...common, optimizer_config: o };
  return { optimizer: o, ...common, run_eagerly: false, steps_per_execution: 1, jit_compile: false };
}
