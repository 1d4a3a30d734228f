/**
 * Between a LayersModel and checkpoint contents: which tensors a save holds (model weights by
 * their original names, then optimizer state), the model's JSON, and loading weights back by name
 * with a fallback to weight order. Loading validates everything before the first variable changes.
 */
import { clone, Variable, tensor as makeTensor, version_core, type Tensor } from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { version_layers as layersVersion } from '@tensorflow/tfjs-layers';
import { CheckpointError, WeightMismatchError } from '../errors.js';
import type { StoreOptions } from '../stores/registry.js';
import type { ModelJson } from '../formats/schema.js';
import { restoreSequentialTopology } from '../formats/sequential_topology.js';
import { elementCount, type WeightSpec } from '../formats/weight_entry.js';
import type { StoredWeight } from './read.js';

export function tfjsVersion(): string {
  return version_core;
}

/** The optimizer's state as tfjs names it; a clear error for optimizers that cannot export it. */
export async function optimizerNamedWeights(model: LayersModel): Promise<{ name: string; tensor: Tensor }[]> {
  const optimizer = model.optimizer;
  if (!optimizer) return [];
  try {
    return await optimizer.getWeights();
  } catch (e) {
    throw new CheckpointError(
      'INVALID_ARGUMENT',
      `The ${optimizer.getClassName()} optimizer cannot export its state in TF.js (${(e as Error).message}). ` +
        'Save with includeOptimizer: false (or saveWeightsOnly: true), or use an optimizer that can (adam, sgd, momentum, rmsprop, adagrad, adadelta).',
      { cause: e },
    );
  }
}

interface TrainingConfigAccess {
  getTrainingConfig(): Record<string, unknown>;
}

/** model.json without its weightsManifest, as `model.save()` would produce it. */
export function modelJsonOf(model: LayersModel, includeOptimizer: boolean): Omit<ModelJson, 'weightsManifest'> {
  const json: Omit<ModelJson, 'weightsManifest'> = {
    modelTopology: restoreSequentialTopology(model.toJSON(null, false) as Record<string, unknown>),
    format: 'layers-model',
    generatedBy: `TensorFlow.js tfjs-layers v${layersVersion}`,
    convertedBy: null,
  };
  if (includeOptimizer && model.optimizer) {
    // Protected in the typings, public in practice: model.save() uses exactly this.
    json.trainingConfig = (model as unknown as TrainingConfigAccess).getTrainingConfig();
  }
  const metadata = model.getUserDefinedMetadata();
  if (metadata != null) json.userDefinedMetadata = metadata as Record<string, unknown>;
  return json;
}

export function storedToTensor(stored: StoredWeight): Tensor {
  const { spec, bytes } = stored;
  if (spec.dtype === 'bool') return makeTensor(Uint8Array.from(bytes), spec.shape, 'bool');
  // Typed arrays need 4-byte alignment; weights that follow bool weights may not have it.
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  const count = aligned.byteLength / 4;
  const values = spec.dtype === 'int32' ? new Int32Array(aligned.buffer, aligned.byteOffset, count) : new Float32Array(aligned.buffer, aligned.byteOffset, count);
  return makeTensor(values, spec.shape, spec.dtype);
}

export interface LoadWeightsOptions {
  /**
   * When true (the default), the checkpoint and the model must hold exactly the same weights.
   * When false, weights missing on either side are skipped.
   */
  strict?: boolean;
  /** The file-system calls to use (tests inject faults here). */
  fs?: StoreOptions['fs'];
}

function describe(spec: { shape: readonly (number | null)[]; dtype: string }): string {
  return `${spec.dtype}[${spec.shape.join(', ')}]`;
}

/**
 * Pairs each model weight with a stored weight spec: by name when every model weight's name is stored
 * (or, when not strict, for the names that are), otherwise by position, because auto-generated
 * layer names differ between two instances of the same architecture. Without `byOrder` (files whose
 * order is not the model's), by name only. `specs` are the model weights
 * of the checkpoint, with their indices among all its specs.
 */
function pairWeights(model: LayersModel, specs: readonly [number, WeightSpec][], strict: boolean, source: string, byOrder: boolean): [number, number][] {
  const targets = model.weights;
  const byName = new Map(specs.map(([index, spec]) => [spec.name, index]));
  const named = targets.map((t) => byName.get(t.originalName));
  const allNamed = named.every((s) => s !== undefined);
  if (allNamed && (!strict || specs.length === targets.length)) return named.map((s, i) => [i, s!]);
  if (byOrder && specs.length === targets.length) return specs.map(([index], i) => [i, index]);
  if (strict && !byOrder) {
    const missing = targets.filter((t) => !byName.has(t.originalName)).map((t) => t.originalName);
    const targetNames = new Set(targets.map((t) => t.originalName));
    const extra = specs.filter(([, s]) => !targetNames.has(s.name)).map(([, s]) => s.name);
    const list = (names: string[]) => `${names.slice(0, 5).join(', ')}${names.length > 5 ? ', …' : ''}`;
    throw new WeightMismatchError(
      `The weights in ${source} are matched by name only (its order is not the model's), and they do not all match` +
        (missing.length ? `; missing from the file: ${list(missing)}` : '') +
        (extra.length ? `; in the file but not in the model: ${list(extra)}` : '') +
        ". Give the layers the names the file uses (e.g. tf.layers.dense({name: 'dense'})), or pass {strict: false} to load the weights whose names match; nothing was loaded.",
    );
  }
  if (strict) {
    const missing = targets.filter((t) => !byName.has(t.originalName)).map((t) => t.originalName);
    const targetNames = new Set(targets.map((t) => t.originalName));
    const extra = specs.filter(([, s]) => !targetNames.has(s.name)).map(([, s]) => s.name);
    throw new WeightMismatchError(
      `The checkpoint ${source} holds ${specs.length} weights but the model has ${targets.length}` +
        (missing.length ? `; missing from the checkpoint: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}` : '') +
        (extra.length ? `; not in the model: ${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ', …' : ''}` : '') +
        '. Load it into the architecture it was saved from, or pass {strict: false} to load the weights that match by name.',
    );
  }
  return named.flatMap((s, i) => (s !== undefined ? [[i, s] as [number, number]] : []));
}

function sameShape(a: readonly (number | null)[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, k) => d === b[k]);
}

/**
 * Which stored weight goes into which model weight, as `[model weight index, spec index]` pairs,
 * checked (count, names, shapes, dtypes) from the manifest alone, so a checkpoint that does not fit
 * the model is refused before any weight bytes are read or allocated.
 */
export function planWeightAssignment(model: LayersModel, specs: readonly WeightSpec[], strict: boolean, source: string, byOrder = true): [number, number][] {
  const modelSpecs = specs.flatMap((spec, index) => (spec.group === 'optimizer' ? [] : [[index, spec] as [number, WeightSpec]]));
  const pairs = pairWeights(model, modelSpecs, strict, source, byOrder);
  const targets = model.weights;
  for (const [i, s] of pairs) {
    const target = targets[i]!;
    const spec = specs[s]!;
    if (!sameShape(target.shape, spec.shape) || target.dtype !== spec.dtype) {
      throw new WeightMismatchError(
        `Weight '${target.originalName}' of the model is ${describe(target)}, but the checkpoint ${source} stores ` +
          `'${spec.name}' as ${describe(spec)}. The checkpoint was saved from a different architecture; nothing was loaded.`,
      );
    }
  }
  return pairs;
}

/** Optimizers keep at most this many slots per variable (RMSProp centered: three), plus the iteration count. */
const MAX_SLOTS_PER_WEIGHT = 3;

/**
 * The indices of the stored optimizer state to restore into the model's optimizer (none without one),
 * checked before anything is read: every tfjs optimizer keeps scalars and slots shaped like the
 * model's weights, at most three per weight, so anything else does not belong to this model.
 */
export function planOptimizerState(model: LayersModel, specs: readonly WeightSpec[], source: string): number[] {
  if (!model.optimizer) return [];
  const indices = specs.flatMap((spec, index) => (spec.group === 'optimizer' ? [index] : []));
  const shapes = model.weights.map((w) => w.shape);
  const limit = MAX_SLOTS_PER_WEIGHT * shapes.length + 1;
  if (indices.length > limit) {
    throw new WeightMismatchError(
      `The checkpoint ${source} holds ${indices.length} optimizer weights, more than an optimizer of this ${shapes.length}-weight model keeps (at most ${limit}). ` +
        'It was saved from a different model; load its weights with loadWeights instead.',
    );
  }
  for (const index of indices) {
    const spec = specs[index]!;
    if (elementCount(spec.shape) > 1 && !shapes.some((shape) => sameShape(shape, spec.shape))) {
      throw new WeightMismatchError(
        `The checkpoint ${source} stores optimizer weight '${spec.name}' as ${describe(spec)}, which fits none of the model's weights. ` +
          'It was saved from a different model; load its weights with loadWeights instead.',
      );
    }
  }
  return indices;
}

/** Writes stored weights into the model weights they were paired with; all of them or (on a tfjs error) none. */
export function writeModelWeights(model: LayersModel, pairs: readonly [number, StoredWeight][]): void {
  const targets = model.weights;
  const tensors: Tensor[] = [];
  try {
    for (const [, stored] of pairs) tensors.push(storedToTensor(stored));
    pairs.forEach(([i], k) => targets[i]!.write(tensors[k]!));
  } finally {
    for (const t of tensors) t.dispose();
  }
}

/** Restores the optimizer's state (and its extras) from stored optimizer weights; a state tfjs refuses is a WEIGHT_MISMATCH. */
export async function restoreOptimizerState(model: LayersModel, state: readonly StoredWeight[], extras: OptimizerExtras | undefined, source: string): Promise<void> {
  const optimizer = model.optimizer;
  if (!optimizer || state.length === 0) return;
  const tensors = state.map((s) => ({ name: s.spec.name, tensor: storedToTensor(s) }));
  // tfjs's setWeights makes new variables and drops the old ones without disposing them: keep hold of
  // them to dispose once they are replaced, or every restore leaks the optimizer's state.
  const previous = await optimizer.getWeights();
  try {
    await optimizer.setWeights(tensors);
  } catch (e) {
    disposeAll(previous.filter((p) => !(p.tensor instanceof Variable)));
    throw new WeightMismatchError(
      `The optimizer state in ${source} does not fit the model's ${optimizer.getClassName()} optimizer (${(e as Error).message}). ` +
        'Compile the model with the optimizer it was trained with, or load only its weights with loadWeights.',
    );
  } finally {
    // setWeights makes its own variables from these.
    for (const t of tensors) t.tensor.dispose();
  }
  const after = await optimizer.getWeights();
  const current = new Set(after.map((w) => w.tensor));
  disposeAll(previous.filter((p) => !current.has(p.tensor)));
  // getWeights() makes a fresh scalar for the iteration count each time.
  disposeAll(after.filter((w) => !(w.tensor instanceof Variable)));
  restoreOptimizerExtras(model, extras);
}

function disposeAll(named: readonly { tensor: Tensor }[]): void {
  for (const { tensor } of named) if (!tensor.isDisposed) tensor.dispose();
}

/**
 * Optimizer state that tfjs's getWeights() leaves out. Adam recomputes beta1^t and beta2^t with pow()
 * on load, which differs in the last bits from the running product it keeps while training; storing
 * the running values makes a resumed run bit-identical.
 */
export type OptimizerExtras = Record<string, number>;

const EXTRA_SCALARS = ['accBeta1', 'accBeta2'];

/**
 * Those scalars as they are now, as clones (no read from the backend here: a synchronous read stalls
 * WebGL and breaks WebGPU); `readOptimizerExtras` reads them later, off the training path.
 */
export function captureOptimizerExtras(model: LayersModel): Record<string, Tensor> {
  const optimizer = model.optimizer as unknown as Record<string, unknown> | undefined;
  const extras: Record<string, Tensor> = {};
  if (!optimizer) return extras;
  for (const key of EXTRA_SCALARS) {
    const value = optimizer[key];
    if (value instanceof Variable && value.size === 1) extras[key] = clone(value);
  }
  return extras;
}

export async function readOptimizerExtras(captured: Record<string, Tensor>): Promise<OptimizerExtras> {
  const extras: OptimizerExtras = {};
  for (const [key, tensor] of Object.entries(captured)) extras[key] = (await tensor.data())[0]!;
  return extras;
}

export function restoreOptimizerExtras(model: LayersModel, extras: OptimizerExtras | undefined): void {
  const optimizer = model.optimizer as unknown as Record<string, unknown> | undefined;
  if (!optimizer || !extras) return;
  for (const [key, stored] of Object.entries(extras)) {
    const variable = optimizer[key];
    if (EXTRA_SCALARS.includes(key) && variable instanceof Variable && variable.size === 1 && typeof stored === 'number') {
      const value = makeTensor(stored, [], 'float32');
      variable.assign(value);
      value.dispose();
    }
  }
}
