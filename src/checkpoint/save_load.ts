/** The public save/load functions for one checkpoint directory (weights-only or full model). */
import { io, type NamedTensorMap } from '@tensorflow/tfjs-core';
import { loadLayersModel, type LayersModel } from '@tensorflow/tfjs-layers';
import { CheckpointError, CorruptCheckpointError } from '../errors.js';
import { assertPlausibleTopology } from '../formats/topology_guard.js';
import type { CheckpointMetadata } from '../formats/schema.js';
import { singleFileFormat } from '../formats/file_names.js';
import { resolveLocation, type Location, type StoreOptions } from '../stores/registry.js';
import {
  planOptimizerState,
  planWeightAssignment,
  restoreOptimizerExtras,
  restoreOptimizerState,
  storedToTensor,
  tfjsVersion,
  writeModelWeights,
  type LoadWeightsOptions,
  type OptimizerExtras,
} from './model_io.js';
import { snapshotModel, type Snapshot } from './snapshot.js';
import { checkpointSpecs, readAllWeights, readCheckpoint, readGroupShards, readSelectedWeights, type OpenedCheckpoint, type StoredWeight } from './read.js';
import { writeSnapshot, type SaveContext } from './write.js';
import { readFileCheckpoint } from './single_file.js';
import type { FileContents } from './file_codec.js';
import { armZeroCopyDecode } from './zero_copy_decode.js';
import { decodesBufferLists, joinBuffers } from '../formats/weight_data.js';
import { requireModel, requirePath } from '../validate.js';

export interface SaveOptions {
  /** Largest weight file in bytes; bigger models are split into `group1-shardKofN.bin` files. Default 256 MiB. */
  maxShardBytes?: number;
  /** Recorded in the checkpoint's `checkpoint.json`. */
  context?: SaveContext;
  /** The file-system calls the fs store uses (tests inject faults here). */
  fs?: StoreOptions['fs'];
}

export interface SaveModelOptions extends SaveOptions {
  /** Save the optimizer state and training config so training resumes exactly. Default true. */
  includeOptimizer?: boolean;
}

/** Writes the model's weights (no topology, no optimizer state) to a checkpoint directory. */
export async function saveWeights(model: LayersModel, path: string, options: SaveOptions = {}): Promise<CheckpointMetadata> {
  requireModel(model, 'saveWeights');
  requirePath(path, 'saveWeights');
  return saveSnapshot(await snapshotModel(model, { weightsOnly: true, includeOptimizer: false }), path, options);
}

/** Writes the whole model (topology, weights and, by default, optimizer state) in the layout `tf.loadLayersModel('file://…/model.json')` reads. */
export async function saveModel(model: LayersModel, path: string, options: SaveModelOptions = {}): Promise<CheckpointMetadata> {
  requireModel(model, 'saveModel');
  requirePath(path, 'saveModel');
  const snapshot = await snapshotModel(model, { weightsOnly: false, includeOptimizer: options.includeOptimizer ?? true });
  return saveSnapshot(snapshot, path, options);
}

async function saveSnapshot(snapshot: Snapshot, path: string, options: SaveOptions): Promise<CheckpointMetadata> {
  try {
    const written = await writeSnapshot(resolveLocation(path, options), snapshot, {
      maxShardBytes: options.maxShardBytes,
      context: { tfjsVersion: tfjsVersion(), ...options.context },
    });
    return written.metadata;
  } finally {
    snapshot.dispose();
  }
}

/** What loading into an existing model reads: its weights paired with the model's, and the optimizer's state. */
interface ReadForModel {
  weights: [number, StoredWeight][];
  optimizer: StoredWeight[];
  extras?: OptimizerExtras;
}

/**
 * Pairs the manifest with the model (and, when asked, with its optimizer) first, then reads only
 * those weights: a checkpoint that does not fit is refused before any weight bytes are allocated.
 */
async function readForModel(model: LayersModel, checkpoint: OpenedCheckpoint, strict: boolean, withOptimizer: boolean): Promise<ReadForModel> {
  const specs = checkpointSpecs(checkpoint);
  const pairs = planWeightAssignment(model, specs, strict, checkpoint.dir);
  const optimizer = withOptimizer ? planOptimizerState(model, specs, checkpoint.dir) : [];
  const stored = await readSelectedWeights(checkpoint, new Set([...pairs.map(([, s]) => s), ...optimizer]));
  return {
    weights: pairs.map(([m, s]) => [m, stored.get(s)!]),
    optimizer: optimizer.map((s) => stored.get(s)!),
    ...(checkpoint.metadata?.optimizerExtras ? { extras: checkpoint.metadata.optimizerExtras } : {}),
  };
}

/**
 * Loads weights saved by `saveWeights`, `saveModel`, ModelCheckpoint or stock `model.save('file://…')`
 * into `model`. Weights are matched by name, or by order when the names differ (two instances of one
 * architecture get different auto-generated names). Any mismatch throws and leaves the model unchanged.
 */
export async function loadWeights(model: LayersModel, path: string, options: LoadWeightsOptions = {}): Promise<void> {
  requireModel(model, 'loadWeights');
  const location = resolveLocation(requirePath(path, 'loadWeights'), options);
  if (singleFileFormat(location.key)) {
    writeModelWeights(model, (await readFileCheckpoint(location, (contents) => readFileForModel(model, contents, options.strict ?? true, false))).weights);
    return;
  }
  const read = await readCheckpoint(resolveLocation(path, options), (checkpoint) => readForModel(model, checkpoint, options.strict ?? true, false));
  writeModelWeights(model, read.weights);
}

/** Loads a checkpoint's weights into `model` and, when it holds optimizer state, the model's optimizer. */
export async function restoreInto(model: LayersModel, path: string, options: StoreOptions = {}): Promise<void> {
  requireModel(model, 'restoreInto');
  await restoreFrom(model, resolveLocation(requirePath(path, 'restoreInto'), options));
}

/** What loading into an existing model reads from a single file: planned first, then only the weights it needs. */
async function readFileForModel(model: LayersModel, contents: FileContents, strict: boolean, withOptimizer: boolean): Promise<ReadForModel> {
  const pairs = contents.plan(model, strict);
  const optimizer = withOptimizer ? planOptimizerState(model, contents.specs, contents.metadata ? 'the checkpoint' : 'the file') : [];
  const stored = await contents.read(new Set([...pairs.map(([, s]) => s), ...optimizer]));
  return {
    weights: pairs.map(([m, s]) => [m, stored.get(s)!]),
    optimizer: optimizer.map((s) => stored.get(s)!),
    ...(contents.metadata?.optimizerExtras ? { extras: contents.metadata.optimizerExtras } : {}),
  };
}

/** restoreInto for a location resolved already. */
export async function restoreFrom(model: LayersModel, location: Location): Promise<void> {
  const read = singleFileFormat(location.key)
    ? await readFileCheckpoint(location, (contents) => readFileForModel(model, contents, true, true))
    : await readCheckpoint(location, (checkpoint) => readForModel(model, checkpoint, true, true));
  // The optimizer first: tfjs may refuse its state, and then the model must be left as it was.
  await restoreOptimizerState(model, read.optimizer, read.extras, location.url);
  writeModelWeights(model, read.weights);
}

/** An IOHandler that serves a checkpoint's model to `tf.loadLayersModel`. */
export function checkpointLoadHandler(location: Location): io.IOHandler {
  return { load: async () => armed((await readCheckpoint(location, readModelArtifacts)).artifacts) };
}

interface ModelArtifactsRead {
  artifacts: io.ModelArtifacts;
  extras?: OptimizerExtras;
  dir: string;
}

/** A full-model checkpoint's model.json and weights as tfjs model artifacts. */
async function readModelArtifacts(checkpoint: OpenedCheckpoint): Promise<ModelArtifactsRead> {
  if (checkpoint.kind !== 'model' || !checkpoint.modelJson) {
    throw new CheckpointError(
      'INVALID_ARGUMENT',
      `${checkpoint.dir} is a weights-only checkpoint (no model topology). Build the model in code and call loadWeights(model, path) instead.`,
    );
  }
  const { weightsManifest, ...modelJson } = checkpoint.modelJson;
  assertPlausibleTopology(modelJson.modelTopology, weightsManifest, checkpoint.dir);
  const weightData: ArrayBuffer[] = [];
  for (const group of weightsManifest) {
    for (const shard of await readGroupShards(checkpoint, group)) weightData.push(shard.buffer as ArrayBuffer);
  }
  const artifacts = {
    ...(modelJson as unknown as io.ModelArtifacts),
    weightSpecs: weightsManifest.flatMap((g) => g.weights) as io.WeightsManifestEntry[],
    weightData,
  };
  return { artifacts, dir: checkpoint.dir, ...(checkpoint.metadata?.optimizerExtras ? { extras: checkpoint.metadata.optimizerExtras } : {}) };
}

/** Arms the zero-copy decode for these artifacts' buffers, right before tfjs decodes them. */
function armed(artifacts: io.ModelArtifacts): io.ModelArtifacts {
  const buffers = artifacts.weightData as ArrayBuffer[];
  if (armZeroCopyDecode(buffers) || decodesBufferLists()) return artifacts;
  // tfjs decodes them itself, and this one (before 4.6) takes one ArrayBuffer only.
  return { ...artifacts, weightData: joinBuffers(buffers) };
}

/** Builds the model TF.js-style from artifacts read consistently; a model tfjs cannot build is a CORRUPT_CHECKPOINT. */
async function buildModel(read: ModelArtifactsRead): Promise<LayersModel> {
  let model: LayersModel;
  try {
    model = await loadLayersModel({ load: async () => armed(read.artifacts) });
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    throw new CorruptCheckpointError(`TF.js could not build the model in ${read.dir}: ${(e as Error).message}. The checkpoint's model.json is damaged or from an incompatible version.`, { cause: e });
  }
  restoreOptimizerExtras(model, read.extras);
  return model;
}

/**
 * A single file's model. Ours: tfjs builds it from the file's TF.js model JSON and weights, as from a
 * folder. Others' (Keras): see buildForeignModel.
 */
async function buildModelFromFile(location: Location): Promise<LayersModel> {
  const read = await readFileCheckpoint(location, async (contents): Promise<{ model: LayersModel } | { ours: ModelArtifactsRead }> => {
    if (!contents.modelJson) {
      throw new CheckpointError(
        'INVALID_ARGUMENT',
        `${location.url} holds weights only (no model config). Build the model in code and call loadWeights(model, path) instead.`,
      );
    }
    if (!contents.metadata) return { model: await buildForeignModel(contents, location) };
    // Ours: every weight under the name TF.js gave it, so tfjs builds the model with them (no initializers run).
    const all = await contents.read(new Set(contents.specs.keys()));
    const weightData = contents.specs.map((_, i) => {
      const bytes = all.get(i)!.bytes;
      return (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes.buffer : bytes.slice().buffer) as ArrayBuffer;
    });
    const artifacts = { ...(contents.modelJson as unknown as io.ModelArtifacts), weightSpecs: contents.specs as io.WeightsManifestEntry[], weightData };
    return { ours: { artifacts, dir: location.url, ...(contents.metadata.optimizerExtras ? { extras: contents.metadata.optimizerExtras } : {}) } };
  });
  return 'model' in read ? read.model : buildModel(read.ours);
}

/**
 * A file others wrote (Keras): the model is built from its (translated) config, then its weights are
 * assigned through the file's plan (by layer name, then order), all checked before anything is assigned.
 */
async function buildForeignModel(contents: FileContents, location: Location): Promise<LayersModel> {
  {
    const { modelTopology, trainingConfig } = contents.modelJson!;
    let model: LayersModel;
    try {
      const artifacts = { modelTopology, ...(trainingConfig ? { trainingConfig } : {}) } as unknown as io.ModelArtifacts;
      model = await loadLayersModel({ load: async () => artifacts });
    } catch (e) {
      if (e instanceof CheckpointError) throw e;
      throw new CorruptCheckpointError(`TF.js could not build the model in ${location.url}: ${(e as Error).message}.`, { cause: e });
    }
    try {
      const read = await readFileForModel(model, contents, true, model.optimizer !== undefined && model.optimizer !== null);
      await restoreOptimizerState(model, read.optimizer, read.extras, location.url);
      writeModelWeights(model, read.weights);
      return model;
    } catch (e) {
      model.dispose();
      throw e;
    }
  }
}

/** Loads a full-model checkpoint (with its optimizer state, if saved) as a new model. */
export async function loadModel(path: string, options: StoreOptions = {}): Promise<LayersModel> {
  const location = resolveLocation(requirePath(path, 'loadModel'), options);
  if (singleFileFormat(location.key)) return buildModelFromFile(location);
  return buildModel(await readCheckpoint(location, readModelArtifacts));
}

/** A full-model checkpoint as a new model, or a weights-only one as named tensors (CheckpointManager.restore without a model). */
export async function loadCheckpointContents(location: Location): Promise<LayersModel | NamedTensorMap> {
  if (singleFileFormat(location.key)) {
    const weights = await readFileCheckpoint(location, async (contents) =>
      contents.modelJson ? undefined : [...(await contents.read(new Set(contents.specs.keys()))).values()],
    );
    if (weights === undefined) return buildModelFromFile(location);
    return Object.fromEntries(weights.map((s) => [s.spec.name, storedToTensor(s)]));
  }
  const read = await readCheckpoint(location, async (checkpoint) =>
    checkpoint.kind === 'model'
      ? { kind: 'model' as const, model: await readModelArtifacts(checkpoint) }
      : { kind: 'weights' as const, weights: await readAllWeights(checkpoint) },
  );
  if (read.kind === 'model') return buildModel(read.model);
  return Object.fromEntries(read.weights.map((s) => [s.spec.name, storedToTensor(s)]));
}
