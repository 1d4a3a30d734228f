/**
 * A snapshot is the only part of a save that must hold up training: it captures the weights (and
 * optimizer state) as they are at this moment, so training may go on while they are written.
 * Tensors are immutable in TF.js and an optimizer step gives a variable new data rather than
 * changing the old, so a clone (which shares the data, at no cost) keeps exactly this moment's
 * values alive until the writer has read them.
 */
import { clone, Variable, type NamedTensorMap, type Tensor } from '@tensorflow/tfjs-core';
import type { LayersModel, layers as _layers } from '@tensorflow/tfjs-layers';

type Layer = _layers.Layer;
import { tensorEntry, type WeightEntry } from '../formats/weight_entry.js';
import type { ModelJson } from '../formats/schema.js';
import { captureOptimizerExtras, modelJsonOf, optimizerNamedWeights, readOptimizerExtras, type OptimizerExtras } from './model_io.js';

/** The model's layers and which weights each holds, for formats organised by layer (Keras HDF5). */
export interface ModelStructure {
  name: string;
  /** The model's class as Keras names it. */
  className: 'Sequential' | 'Functional';
  /** In model order, layers without weights included; `weights` are TF.js names (entries' names). */
  layers: { name: string; className: string; weights: string[] }[];
}

export interface Snapshot {
  kind: 'model' | 'weights';
  entries: WeightEntry[];
  structure?: ModelStructure;
  modelJson?: Omit<ModelJson, 'weightsManifest'>;
  /** Reads the optimizer's extra scalars captured with the snapshot (asynchronously: see model_io.ts). */
  optimizerExtras?: () => Promise<OptimizerExtras>;
  createdAt: Date;
  /** Total bytes of weight data. */
  byteLength: number;
  /** Releases the captured tensors; call once the snapshot is written (or abandoned). */
  dispose(): void;
}

export interface ModelSnapshotOptions {
  weightsOnly: boolean;
  includeOptimizer: boolean;
}

type Named = { name: string; tensor: Tensor; group?: 'optimizer'; frozen?: boolean };

function build(kind: Snapshot['kind'], named: Named[], owned: Tensor[], extra: Partial<Snapshot> = {}): Snapshot {
  let entries: WeightEntry[];
  try {
    entries = named.map((n) => tensorEntry(n.name, n.tensor, n.group, n.frozen));
  } catch (e) {
    for (const t of owned) t.dispose();
    throw e;
  }
  let disposed = false;
  return {
    kind,
    entries,
    createdAt: new Date(),
    byteLength: entries.reduce((n, e) => n + e.byteLength, 0),
    ...extra,
    dispose() {
      if (disposed) return;
      disposed = true;
      for (const t of owned) t.dispose();
    },
  };
}

export function structureOf(model: LayersModel): ModelStructure {
  return {
    name: model.name,
    className: model.getClassName() === 'Sequential' ? 'Sequential' : 'Functional',
    layers: model.layers.map((layer) => ({ name: layer.name, className: layer.getClassName(), weights: layer.weights.map((w) => w.originalName) })),
  };
}

/**
 * The weights of frozen layers (`trainable: false`, or inside a frozen model used as a layer): they
 * get shards of their own (see incremental.ts). Non-trainable weights of trained layers (batch-norm
 * statistics) change with training, so they are not counted.
 */
function frozenWeights(model: LayersModel): Set<unknown> {
  const out = new Set<unknown>();
  const walk = (layers: readonly Layer[], inFrozen: boolean) => {
    for (const layer of layers) {
      const frozen = inFrozen || !layer.trainable;
      if (frozen) for (const w of layer.weights) out.add(w);
      const inner = (layer as Layer & { layers?: Layer[] }).layers;
      if (inner) walk(inner, frozen);
    }
  };
  walk(model.layers, false);
  return out;
}

/** Captures a model's weights (and, for full models, topology and optimizer state) at this moment. */
export async function snapshotModel(model: LayersModel, options: ModelSnapshotOptions): Promise<Snapshot> {
  const owned: Tensor[] = [];
  const frozen = frozenWeights(model);
  const named: Named[] = model.weights.map((w) => {
    const t = clone(w.read());
    owned.push(t);
    return { name: w.originalName, tensor: t, ...(frozen.has(w) ? { frozen: true } : {}) };
  });
  const structure = structureOf(model);
  if (options.weightsOnly) return build('weights', named, owned, { structure });
  const withOptimizer = options.includeOptimizer && model.optimizer != null;
  if (withOptimizer) {
    let optimizerWeights;
    try {
      optimizerWeights = await optimizerNamedWeights(model);
    } catch (e) {
      for (const t of owned) t.dispose();
      throw e;
    }
    for (const { name, tensor } of optimizerWeights) {
      // Variables are live state: clone them. Anything else (the iteration count) was made for us.
      const t = tensor instanceof Variable ? clone(tensor) : tensor;
      owned.push(t);
      named.push({ name, tensor: t, group: 'optimizer' });
    }
  }
  const extras = withOptimizer ? captureOptimizerExtras(model) : undefined;
  if (extras) owned.push(...Object.values(extras));
  return build('model', named, owned, {
    structure,
    modelJson: modelJsonOf(model, withOptimizer),
    ...(extras ? { optimizerExtras: () => readOptimizerExtras(extras) } : {}),
  });
}

/** Captures named tensors (for custom training loops). */
export function snapshotTensors(tensors: NamedTensorMap | { name: string; tensor: Tensor }[]): Snapshot {
  const list = Array.isArray(tensors) ? tensors : Object.entries(tensors).map(([name, tensor]) => ({ name, tensor }));
  const owned = list.map((n) => clone(n.tensor));
  return build('weights', list.map((n, i) => ({ name: n.name, tensor: owned[i]! })), owned);
}
