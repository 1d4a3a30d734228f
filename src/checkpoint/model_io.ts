/**
 * Between a LayersModel and checkpoint contents: which tensors a save holds (model weights by
 * their original names, then optimizer state), the model's JSON, and loading weights back by name
 * with a fallback to weight order. Loading validates everything before the first variable changes.
 */
import { Variable, tensor as makeTensor, version_core, type Tensor } from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { version_layers as layersVersion } from '@tensorflow/tfjs-layers';
import { CheckpointError, WeightMismatchError } from '../errors.js';
import type { FsOps } from '../storage/fs_ops.js';
import type { ModelJson } from '../formats/schema.js';
import { restoreSequentialTopology } from '../formats/sequential_topology.js';
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
  fs?: FsOps;
}

function describe(spec: { shape: readonly (number | null)[]; dtype: string }): string {
  return `${spec.dtype}[${spec.shape.join(', ')}]`;
}

/**
 * Pairs each model weight with a stored weight: by name when every model weight's name is stored
 * (or, when not strict, for the names that are), otherwise by position, because auto-generated
 * layer names differ between two instances of the same architecture.
 */
function pairWeights(model: LayersModel, stored: readonly StoredWeight[], strict: boolean, source: string): [number, StoredWeight][] {
  const targets = model.weights;
  const byName = new Map(stored.map((s) => [s.spec.name, s]));
  const named = targets.map((t) => byName.get(t.originalName));
  const allNamed = named.every((s) => s !== undefined);
  if (allNamed && (!strict || stored.length === targets.length)) return named.map((s, i) => [i, s!]);
  if (stored.length === targets.length) return stored.map((s, i) => [i, s]);
  if (strict) {
    const missing = targets.filter((t) => !byName.has(t.originalName)).map((t) => t.originalName);
    const targetNames = new Set(targets.map((t) => t.originalName));
    const extra = stored.filter((s) => !targetNames.has(s.spec.name)).map((s) => s.spec.name);
    throw new WeightMismatchError(
      `The checkpoint ${source} holds ${stored.length} weights but the model has ${targets.length}` +
        (missing.length ? `; missing from the checkpoint: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}` : '') +
        (extra.length ? `; not in the model: ${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ', …' : ''}` : '') +
        '. Load it into the architecture it was saved from, or pass {strict: false} to load the weights that match by name.',
    );
  }
  return named.flatMap((s, i) => (s ? [[i, s] as [number, StoredWeight]] : []));
}

/** Assigns stored weights to the model, all or nothing. */
export function assignWeights(model: LayersModel, stored: readonly StoredWeight[], strict: boolean, source: string): void {
  const modelWeights = stored.filter((s) => s.spec.group !== 'optimizer');
  const pairs = pairWeights(model, modelWeights, strict, source);
  const targets = model.weights;
  for (const [i, s] of pairs) {
    const target = targets[i]!;
    const shapeMatches = target.shape.length === s.spec.shape.length && target.shape.every((d, k) => d === s.spec.shape[k]);
    if (!shapeMatches || target.dtype !== s.spec.dtype) {
      throw new WeightMismatchError(
        `Weight '${target.originalName}' of the model is ${describe(target)}, but the checkpoint ${source} stores ` +
          `'${s.spec.name}' as ${describe(s.spec)}. The checkpoint was saved from a different architecture; nothing was loaded.`,
      );
    }
  }
  const tensors = pairs.map(([, s]) => storedToTensor(s));
  try {
    pairs.forEach(([i], k) => targets[i]!.write(tensors[k]!));
  } finally {
    for (const t of tensors) t.dispose();
  }
}

/**
 * Optimizer state that tfjs's getWeights() leaves out. Adam recomputes beta1^t and beta2^t with pow()
 * on load, which differs in the last bits from the running product it keeps while training; storing
 * the running values makes a resumed run bit-identical.
 */
export type OptimizerExtras = Record<string, number>;

const EXTRA_SCALARS = ['accBeta1', 'accBeta2'];

export function captureOptimizerExtras(model: LayersModel): OptimizerExtras {
  const optimizer = model.optimizer as unknown as Record<string, unknown> | undefined;
  const extras: OptimizerExtras = {};
  if (!optimizer) return extras;
  for (const key of EXTRA_SCALARS) {
    const value = optimizer[key];
    if (value instanceof Variable && value.size === 1) extras[key] = value.dataSync()[0]!;
  }
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
