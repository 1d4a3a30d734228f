/**
 * `file://` save and load handlers for pure `@tensorflow/tfjs` in Node, which has none. They write
 * the same directory layout as tfjs-node (model.json + weight files), committed atomically. If
 * another handler for a URL is registered (tfjs-node's), ours steps aside, whatever the import order.
 */
import { io } from '@tensorflow/tfjs-core';
import { basename, dirname } from 'node:path';
import { CheckpointError } from '../errors.js';
import { bytesPerElement, elementCount, isStoredDtype, type WeightEntry } from '../formats/weight_entry.js';
import { byteRange, weightBuffers } from '../formats/weight_data.js';
import { checkpointLoadHandler } from '../checkpoint/save_load.js';
import { writeCheckpoint } from '../checkpoint/write.js';
import { tfjsVersion } from '../checkpoint/model_io.js';
import { toFsPath } from '../storage/paths.js';

type IORouter = Parameters<typeof io.registerSaveRouter>[0];

const SCHEME = 'file://';
const REGISTERED = Symbol.for('tfjs-checkpoint.fileRouter');

/** Weight entries that read slices of model.save()'s weight buffer(s). */
function artifactEntries(artifacts: io.ModelArtifacts): WeightEntry[] {
  const buffers = weightBuffers(artifacts.weightData);
  let offset = 0;
  return (artifacts.weightSpecs ?? []).map((spec) => {
    if (!isStoredDtype(spec.dtype) || spec.quantization) {
      throw new CheckpointError('INVALID_ARGUMENT', `Weight '${spec.name}' is ${spec.quantization ? 'quantized' : spec.dtype}; file:// checkpoints store float32, int32 and bool weights.`);
    }
    const byteLength = elementCount(spec.shape) * bytesPerElement(spec.dtype);
    const start = offset;
    offset += byteLength;
    return {
      name: spec.name,
      shape: spec.shape,
      dtype: spec.dtype,
      ...(spec.group === 'optimizer' ? { group: 'optimizer' as const } : {}),
      byteLength,
      // A view, no copy, unless the weight spans two of tfjs's buffers.
      read: async () => byteRange(buffers, start, byteLength),
    };
  });
}

/** A path given as `…/model.json` means its directory, for saving as for loading. */
function checkpointDir(url: string): string {
  const path = toFsPath(url).replace(/[/\\]+$/, '');
  return basename(path) === 'model.json' ? dirname(path) : path;
}

export function fileSaveHandler(url: string): io.IOHandler {
  const dir = checkpointDir(url);
  return {
    async save(artifacts: io.ModelArtifacts): Promise<io.SaveResult> {
      if (!artifacts.modelTopology || artifacts.modelTopology instanceof ArrayBuffer) {
        throw new CheckpointError('INVALID_ARGUMENT', 'file:// saving supports layers models (JSON topology) only.');
      }
      const { weightData: _data, weightSpecs: _specs, ...json } = artifacts;
      await writeCheckpoint(
        dir,
        { kind: 'model', entries: artifactEntries(artifacts), modelJson: json as never },
        { context: { tfjsVersion: tfjsVersion() } },
      );
      return { modelArtifactsInfo: io.getModelArtifactsInfoForJSON(artifacts) };
    },
  };
}

export function fileLoadHandler(url: string): io.IOHandler {
  return checkpointLoadHandler(checkpointDir(url));
}

/** Registers the routers once per tfjs-core instance. Returns false if already registered. */
export function registerFileRouter(): boolean {
  const registry = io as unknown as Record<symbol, boolean>;
  if (registry[REGISTERED]) return false;
  registry[REGISTERED] = true;
  let asking = false;
  // Answers only for file:// URLs that no other router (tfjs-node's) handles; asks the others with ours muted.
  const route = (find: (url: string) => io.IOHandler[], make: (url: string) => io.IOHandler): IORouter =>
    ((url: string | string[]) => {
    if (asking || typeof url !== 'string' || !url.startsWith(SCHEME)) return null;
    asking = true;
    let others: io.IOHandler[];
    try {
      others = find(url);
    } finally {
      asking = false;
    }
    return others.length > 0 ? null : make(url);
  }) as IORouter;
  io.registerSaveRouter(route((u) => io.getSaveHandlers(u), fileSaveHandler));
  io.registerLoadRouter(route((u) => io.getLoadHandlers(u), fileLoadHandler));
  return true;
}
