/**
 * The small objects inside layer configs: activations, initializers, regularizers, constraints and
 * dtype policies. TF.js writes `{class_name, config}` with TF.js class names; Keras 3 writes
 * `{module, class_name, config, registered_name}`; tf.keras 2 (legacy .h5) wrote `{class_name, config}`.
 * Only objects whose meaning is the same on both sides are translated; anything else is an error.
 */
import { isObject, snake, unsupported, type Json, type JsonObject } from './json.js';

/** 'keras3': a `.keras` config.json; 'legacy': a tf.keras 2 style `model_config` for `.h5`. */
export type KerasFlavor = 'keras3' | 'legacy';

export interface LayerRef {
  name?: Json;
  className?: string;
}

function wrap(flavor: KerasFlavor, module: string, className: string, config: JsonObject): JsonObject {
  return flavor === 'keras3' ? { module, class_name: className, config, registered_name: null } : { class_name: className, config };
}

// ---- activations -------------------------------------------------------------------------------

/**
 * Activations that compute the same function in TF.js and in Keras 3, by their snake_case name.
 * Not here, on purpose: `hard_sigmoid` (TF.js: clip(0.2x + 0.5), as Keras 2; Keras 3:
 * clip(x/6 + 0.5)) and `gelu_new` (the tanh approximation, which a Keras 3 activation string
 * cannot express).
 */
const SAME_ACTIVATIONS: Record<string, string> = {
  linear: 'linear',
  relu: 'relu',
  relu6: 'relu6',
  elu: 'elu',
  selu: 'selu',
  sigmoid: 'sigmoid',
  softmax: 'softmax',
  softplus: 'softplus',
  softsign: 'softsign',
  tanh: 'tanh',
  swish: 'silu', // Keras 3 serializes swish under its other name
  mish: 'mish',
  gelu: 'gelu', // both the exact erf form
  log_softmax: 'log_softmax',
};
const KERAS_TO_TFJS_ACTIVATION: Record<string, string> = {
  ...Object.fromEntries(Object.entries(SAME_ACTIVATIONS).map(([t, k]) => [k, t])),
  swish: 'swish',
};

export interface ActivationOptions {
  /**
   * hard_sigmoid is Keras 2's clip(0.2x + 0.5, 0, 1) in TF.js and tf.keras 2, but clip(x/6 + 0.5, 0, 1)
   * in Keras 3. True allows it where the reader computes what TF.js does (tf.keras 2 files).
   */
  keras2HardSigmoid?: boolean;
}

export function activationToKeras(value: Json | undefined, layer: LayerRef, options: ActivationOptions = {}): string {
  if (value === null || value === undefined) return 'linear';
  if (typeof value !== 'string') throw unsupported(layer, `activation ${JSON.stringify(value)} is not a built-in activation`);
  const name = snake(value);
  if (name === 'hard_sigmoid' && options.keras2HardSigmoid) return 'hard_sigmoid';
  if (name === 'hard_sigmoid') {
    throw unsupported(
      layer,
      "uses hard_sigmoid, which is clip(0.2x + 0.5, 0, 1) in TF.js but clip(x/6 + 0.5, 0, 1) in Keras 3, so Keras 3 would compute a different model (TF.js LSTM/GRU use it by default: build them with recurrentActivation: 'sigmoid', as Keras 3 does)",
    );
  }
  const keras = SAME_ACTIVATIONS[name];
  if (!keras) throw unsupported(layer, `activation "${value}" has no identical Keras 3 activation`);
  return keras;
}

export function activationFromKeras(value: Json | undefined, layer: LayerRef, options: ActivationOptions = {}): string {
  if (value === null || value === undefined) return 'linear';
  // Keras 3 may serialize a function as {module, class_name: 'function', config: 'relu'}.
  if (isObject(value) && value['class_name'] === 'function' && typeof value['config'] === 'string') value = value['config'];
  if (typeof value !== 'string') throw unsupported(layer, `activation ${JSON.stringify(value)} is not a built-in activation TF.js has`);
  if (value === 'hard_sigmoid' && options.keras2HardSigmoid) return 'hard_sigmoid';
  if (value === 'hard_sigmoid') {
    throw unsupported(layer, "uses Keras 3's hard_sigmoid, clip(x/6 + 0.5, 0, 1), which TF.js lacks (TF.js's hardSigmoid is Keras 2's clip(0.2x + 0.5, 0, 1))");
  }
  const tfjs = KERAS_TO_TFJS_ACTIVATION[value];
  if (!tfjs) throw unsupported(layer, `activation "${value}" does not exist in TF.js`);
  return tfjs;
}

// ---- initializers ------------------------------------------------------------------------------

/** Keras's named VarianceScaling shortcuts (TF.js spells LeCun with a capital C). */
const VARIANCE_SHORTCUTS: Record<string, { scale: number; mode: string; distribution: string }> = {
  GlorotUniform: { scale: 1, mode: 'fan_avg', distribution: 'uniform' },
  GlorotNormal: { scale: 1, mode: 'fan_avg', distribution: 'truncated_normal' },
  HeUniform: { scale: 2, mode: 'fan_in', distribution: 'uniform' },
  HeNormal: { scale: 2, mode: 'fan_in', distribution: 'truncated_normal' },
  LecunUniform: { scale: 1, mode: 'fan_in', distribution: 'uniform' },
  LecunNormal: { scale: 1, mode: 'fan_in', distribution: 'truncated_normal' },
  LeCunUniform: { scale: 1, mode: 'fan_in', distribution: 'uniform' },
  LeCunNormal: { scale: 1, mode: 'fan_in', distribution: 'truncated_normal' },
};
const SNAKE_INITIALIZERS: Record<string, string> = {
  zeros: 'Zeros', ones: 'Ones', glorot_uniform: 'GlorotUniform', glorot_normal: 'GlorotNormal', he_uniform: 'HeUniform', he_normal: 'HeNormal',
  lecun_uniform: 'LecunUniform', lecun_normal: 'LecunNormal', orthogonal: 'Orthogonal', identity: 'Identity', random_uniform: 'RandomUniform',
  random_normal: 'RandomNormal', truncated_normal: 'TruncatedNormal', variance_scaling: 'VarianceScaling', constant: 'Constant',
};

interface PlainInitializer {
  className: string;
  config: JsonObject;
}

const num = (v: Json | undefined, fallback: number): number => (typeof v === 'number' ? v : fallback);
const seedOf = (c: JsonObject): Json => (typeof c['seed'] === 'number' ? c['seed'] : null);

/** Both sides' initializers in one neutral form (Keras class names, snake_case values). */
function readInitializer(value: Json | undefined, layer: LayerRef, key: string): PlainInitializer | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') {
    const className = SNAKE_INITIALIZERS[snake(value)];
    if (!className) throw unsupported(layer, `${key} "${value}" is not an initializer both sides have`);
    return { className, config: {} };
  }
  if (!isObject(value) || typeof value['class_name'] !== 'string') throw unsupported(layer, `${key} ${JSON.stringify(value)} is not a serialized initializer`);
  const config = isObject(value['config']) ? value['config'] : {};
  for (const axes of ['input_axes', 'output_axes']) {
    if (config[axes] !== undefined && config[axes] !== null) throw unsupported(layer, `${key} uses ${axes}, which TF.js lacks`);
  }
  const className = value['class_name'];
  const shortcut = VARIANCE_SHORTCUTS[className];
  if (shortcut) return { className: 'VarianceScaling', config: { ...shortcut, seed: seedOf(config) } };
  switch (className) {
    case 'Zeros':
    case 'Ones':
      return { className, config: {} };
    case 'Constant':
      if (typeof config['value'] !== 'number') throw unsupported(layer, `${key}: only scalar Constant initializers translate`);
      return { className, config: { value: config['value'] } };
    case 'RandomUniform':
      return { className, config: { minval: num(config['minval'], -0.05), maxval: num(config['maxval'], 0.05), seed: seedOf(config) } };
    case 'RandomNormal':
    case 'TruncatedNormal':
      return { className, config: { mean: num(config['mean'], 0), stddev: num(config['stddev'], 0.05), seed: seedOf(config) } };
    case 'Identity':
    case 'IdentityInitializer':
      return { className: 'Identity', config: { gain: num(config['gain'], 1) } };
    case 'Orthogonal':
    case 'OrthogonalInitializer':
      return { className: 'Orthogonal', config: { gain: num(config['gain'], 1), seed: seedOf(config) } };
    case 'VarianceScaling': {
      const mode = snake(String(config['mode'] ?? 'fan_in'));
      // TF.js 'normal' draws a truncated normal, as Keras's 'truncated_normal' (and Keras's legacy 'normal').
      const raw = snake(String(config['distribution'] ?? 'truncated_normal'));
      const distribution = raw === 'normal' ? 'truncated_normal' : raw;
      if (!['fan_in', 'fan_out', 'fan_avg'].includes(mode)) throw unsupported(layer, `${key}: VarianceScaling mode "${mode}" is unknown`);
      if (!['uniform', 'truncated_normal'].includes(distribution)) throw unsupported(layer, `${key}: VarianceScaling distribution "${raw}" has no TF.js equivalent`);
      return { className, config: { scale: num(config['scale'], 1), mode, distribution, seed: seedOf(config) } };
    }
    default:
      throw unsupported(layer, `${key} ${className} is not an initializer both TF.js and Keras have`);
  }
}

export function initializerToKeras(value: Json | undefined, layer: LayerRef, key: string, flavor: KerasFlavor): Json {
  const init = readInitializer(value, layer, key);
  if (!init) return null;
  return wrap(flavor, 'keras.initializers', init.className, init.config);
}

export function initializerFromKeras(value: Json | undefined, layer: LayerRef, key: string): Json {
  const init = readInitializer(value, layer, key);
  if (!init) return null;
  const config = { ...init.config };
  // TF.js spells the truncated normal 'normal'.
  if (init.className === 'VarianceScaling' && config['distribution'] === 'truncated_normal') config['distribution'] = 'normal';
  return { class_name: init.className, config };
}

// ---- regularizers and constraints --------------------------------------------------------------

export function regularizerToKeras(value: Json | undefined, layer: LayerRef, key: string, flavor: KerasFlavor): Json {
  if (value === null || value === undefined) return null;
  if (!isObject(value) || value['class_name'] !== 'L1L2' || !isObject(value['config'])) throw unsupported(layer, `${key} ${JSON.stringify(value)} is not an L1L2 regularizer`);
  const c = value['config'];
  return wrap(flavor, 'keras.regularizers', 'L1L2', { l1: num(c['l1'], 0), l2: num(c['l2'], 0) });
}

export function regularizerFromKeras(value: Json | undefined, layer: LayerRef, key: string): Json {
  if (value === null || value === undefined) return null;
  const className = isObject(value) ? value['class_name'] : typeof value === 'string' ? value.toUpperCase().replace('_', '') : undefined;
  const c = isObject(value) && isObject(value['config']) ? value['config'] : {};
  // Keras's L1 and L2 are L1L2 with the other factor 0 (TF.js has only L1L2).
  if (className === 'L1L2' || className === 'L1' || className === 'L2') {
    return { class_name: 'L1L2', config: { l1: className === 'L2' ? 0 : num(c['l1'], 0.01), l2: className === 'L1' ? 0 : num(c['l2'], 0.01) } };
  }
  throw unsupported(layer, `${key} ${JSON.stringify(value)} is not a regularizer TF.js has`);
}

/** Constraints with the same class names and (snake_case) config keys on both sides. */
const CONSTRAINT_KEYS: Record<string, string[]> = {
  MaxNorm: ['max_value', 'axis'],
  UnitNorm: ['axis'],
  NonNeg: [],
  MinMaxNorm: ['min_value', 'max_value', 'rate', 'axis'],
};

function readConstraint(value: Json | undefined, layer: LayerRef, key: string): PlainInitializer | null {
  if (value === null || value === undefined) return null;
  const className = isObject(value) ? value['class_name'] : undefined;
  if (typeof className !== 'string' || !CONSTRAINT_KEYS[className]) throw unsupported(layer, `${key} ${JSON.stringify(value)} is not a constraint both sides have`);
  const c = isObject(value) && isObject(value['config']) ? value['config'] : {};
  const config: JsonObject = {};
  for (const k of CONSTRAINT_KEYS[className]!) {
    const v = c[k] ?? c[k.replace(/_(.)/g, (_, ch: string) => ch.toUpperCase())];
    if (v !== undefined) config[k] = v;
  }
  return { className, config };
}

export function constraintToKeras(value: Json | undefined, layer: LayerRef, key: string, flavor: KerasFlavor): Json {
  const c = readConstraint(value, layer, key);
  return c ? wrap(flavor, 'keras.constraints', c.className, c.config) : null;
}

export function constraintFromKeras(value: Json | undefined, layer: LayerRef, key: string): Json {
  const c = readConstraint(value, layer, key);
  return c ? { class_name: c.className, config: c.config } : null;
}

// ---- dtypes ------------------------------------------------------------------------------------

/** A layer's compute/variable dtype. TF.js models are float32 throughout (no mixed precision). */
export function dtypePolicyToKeras(value: Json | undefined, layer: LayerRef, flavor: KerasFlavor): Json {
  const name = value === null || value === undefined ? 'float32' : value;
  if (name !== 'float32') throw unsupported(layer, `dtype ${JSON.stringify(value)} is not float32; only float32 layers translate`);
  return flavor === 'keras3' ? wrap('keras3', 'keras', 'DTypePolicy', { name: 'float32' }) : 'float32';
}

export function dtypePolicyFromKeras(value: Json | undefined, layer: LayerRef): string {
  if (value === null || value === undefined) return 'float32';
  const name = isObject(value) && isObject(value['config']) ? value['config']['name'] : value;
  if (name !== 'float32') throw unsupported(layer, `dtype policy ${JSON.stringify(name)} is not float32 (TF.js has no mixed precision or other compute dtypes)`);
  return 'float32';
}

/** A model input's dtype: the ones TF.js tensors can hold. */
export function inputDtype(value: Json | undefined, layer: LayerRef): string {
  const name = value === null || value === undefined ? 'float32' : isObject(value) && isObject(value['config']) ? value['config']['name'] : value;
  if (name !== 'float32' && name !== 'int32' && name !== 'bool') throw unsupported(layer, `input dtype ${JSON.stringify(name)} is not one of float32, int32, bool`);
  return name;
}
