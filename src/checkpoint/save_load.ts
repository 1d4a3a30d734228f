/** The public save/load functions for one checkpoint directory (weights-only or full model). */
import { io } from '@tensorflow/tfjs-core';
import { loadLayersModel, type LayersModel } from '@tensorflow/tfjs-layers';
import { CheckpointError, CorruptCheckpointError } from '../errors.js';
import { assertPlausibleTopology } from '../formats/topology_guard.js';
import type { CheckpointMetadata } from '../formats/schema.js';
import { reservedFormatExtension, toFsPath } from '../storage/paths.js';
import { assignWeights, restoreOptimizerExtras, tfjsVersion, type LoadWeightsOptions } from './model_io.js';
import { snapshotModel, type Snapshot } from './snapshot.js';
import { openCheckpoint, readAllWeights, readGroupShards, type OpenedCheckpoint } from './read.js';
import { writeSnapshot, type SaveContext } from './write.js';
import { armZeroCopyDecode } from './zero_copy_decode.js';
import type { FsOps } from '../storage/fs_ops.js';
import { requireModel, requirePath } from '../validate.js';

export interface SaveOptions {
  /** Largest weight file in bytes; bigger models are split into `group1-shardKofN.bin` files. Default 256 MiB. */
  maxShardBytes?: number;
  /** Recorded in the checkpoint's `checkpoint.json`. */
  context?: SaveContext;
  /** The file-system calls to use (tests inject faults here). */
  fs?: FsOps;
}

export interface SaveModelOptions extends SaveOptions {
  /** Save the optimizer state and training config so training resumes exactly. Default true. */
  includeOptimizer?: boolean;
}

/** Rejects the Keras/HF single-file extensions that a later release adds, rather than writing another format under their name. */
export function assertSupportedPath(path: string, what: string): void {
  const ext = reservedFormatExtension(path);
  if (ext) {
    throw new CheckpointError(
      'UNSUPPORTED_FORMAT',
      `${what} ${path} ends in ${ext}, which names the Keras/Hugging Face ${ext === '.safetensors' ? 'safetensors' : ext === '.keras' ? 'Keras v3' : 'HDF5'} format; ` +
        'this version of tfjs-checkpoint cannot write or read it yet. Use a path without that extension: checkpoints are directories in the TF.js layers format.',
    );
  }
}

/** Writes the model's weights (no topology, no optimizer state) to a checkpoint directory. */
export async function saveWeights(model: LayersModel, path: string, options: SaveOptions = {}): Promise<CheckpointMetadata> {
  requireModel(model, 'saveWeights');
  assertSupportedPath(requirePath(path, 'saveWeights'), 'Cannot save weights to');
  return saveSnapshot(await snapshotModel(model, { weightsOnly: true, includeOptimizer: false }), path, options);
}

/** Writes the whole model (topology, weights and, by default, optimizer state) in the layout `tf.loadLayersModel('file://…/model.json')` reads. */
export async function saveModel(model: LayersModel, path: string, options: SaveModelOptions = {}): Promise<CheckpointMetadata> {
  requireModel(model, 'saveModel');
  assertSupportedPath(requirePath(path, 'saveModel'), 'Cannot save the model to');
  const snapshot = await snapshotModel(model, { weightsOnly: false, includeOptimizer: options.includeOptimizer ?? true });
  return saveSnapshot(snapshot, path, options);
}

async function saveSnapshot(snapshot: Snapshot, path: string, options: SaveOptions): Promise<CheckpointMetadata> {
  try {
    const written = await writeSnapshot(toFsPath(path), snapshot, {
      maxShardBytes: options.maxShardBytes,
      fs: options.fs,
      context: { tfjsVersion: tfjsVersion(), ...options.context },
    });
    return written.metadata;
  } finally {
    snapshot.dispose();
  }
}

/**
 * Loads weights saved by `saveWeights`, `saveModel`, ModelCheckpoint or stock `model.save('file://…')`
 * into `model`. Weights are matched by name, or by order when the names differ (two instances of one
 * architecture get different auto-generated names). Any mismatch throws and leaves the model unchanged.
 */
export async function loadWeights(model: LayersModel, path: string, options: LoadWeightsOptions = {}): Promise<void> {
  assertSupportedPath(path, 'Cannot load weights from');
  const checkpoint = await openCheckpoint(path, options.fs);
  const stored = await readAllWeights(checkpoint);
  assignWeights(model, stored, options.strict ?? true, checkpoint.dir);
}

/** An IOHandler that serves a checkpoint directory's model to `tf.loadLayersModel`. */
export function checkpointLoadHandler(path: string, fs?: FsOps): io.IOHandler {
  return { load: async () => artifactsOf(await openCheckpoint(path, fs)) };
}

/** A full-model checkpoint's model.json and weights as tfjs model artifacts (weights decoded without a second copy). */
async function artifactsOf(checkpoint: OpenedCheckpoint): Promise<io.ModelArtifacts> {
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
  armZeroCopyDecode(weightData);
  return {
    ...(modelJson as unknown as io.ModelArtifacts),
    weightSpecs: weightsManifest.flatMap((g) => g.weights) as io.WeightsManifestEntry[],
    weightData,
  };
}

/** Loads a full-model checkpoint (with its optimizer state, if saved) as a new model. */
export async function loadModel(path: string, options: { fs?: FsOps } = {}): Promise<LayersModel> {
  assertSupportedPath(path, 'Cannot load a model from');
  const checkpoint = await openCheckpoint(path, options.fs);
  let model: LayersModel;
  try {
    model = await loadLayersModel({ load: () => artifactsOf(checkpoint) });
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    throw new CorruptCheckpointError(`TF.js could not build the model in ${checkpoint.dir}: ${(e as Error).message}. The checkpoint's model.json is damaged or from an incompatible version.`, { cause: e });
  }
  restoreOptimizerExtras(model, checkpoint.metadata?.optimizerExtras);
  return model;
}
