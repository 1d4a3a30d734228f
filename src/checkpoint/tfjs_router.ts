/**
 * Save and load handlers for `model.save(url)` / `tf.loadLayersModel(url)` on every store: `file://`
 * for pure `@tensorflow/tfjs` in Node, which has none, `memory://`, and any scheme a user registers.
 * They write the same layout as tfjs-node (model.json + weight files), committed atomically. If
 * another handler for a URL is registered (tfjs-node's), ours steps aside, whatever the import order.
 */
import { io } from '@tensorflow/tfjs-core';
import { CheckpointError } from '../errors.js';
import { bytesPerElement, elementCount, isStoredDtype, type WeightEntry } from '../formats/weight_entry.js';
import { byteRange, weightBuffers } from '../formats/weight_data.js';
import { checkpointLoadHandler } from './save_load.js';
import { writeCheckpoint } from './write.js';
import { tfjsVersion } from './model_io.js';
import { keyBasename, keyDirname } from '../stores/keys.js';
import { registeredSchemes, resolveLocation, sibling, type Location } from '../stores/registry.js';
import { sharedWeakSet } from './tfjs_guard.js';

type IORouter = Parameters<typeof io.registerSaveRouter>[0];

/** `Symbol.for` key on `globalThis` of the WeakSet of `io` objects that have our routers. */
const REGISTERED_KEY = 'tfjs-checkpoint.fileRouter.registered';

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
function checkpointDir(url: string): Location {
  const location = resolveLocation(url);
  if (keyBasename(location.key) !== 'model.json') return location;
  const key = keyDirname(location.key);
  return sibling(location, key);
}

/** Whether a store is registered for the URL's scheme. */
function isStoreUrl(url: string): boolean {
  return registeredSchemes().some((scheme) => url.toLowerCase().startsWith(scheme));
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

/** The part of `tf.io` that registration uses (the real `io` by default; tests pass frozen or namespace ones). */
export type RouterRegistry = Pick<typeof io, 'registerSaveRouter' | 'registerLoadRouter' | 'getSaveHandlers' | 'getLoadHandlers'>;

/**
 * Registers the routers once per tfjs-core instance (per `io` object, whichever copy of this library
 * asks). Returns false if they were already registered, or if `registry` lacks the router functions.
 * Never writes to `io` (it may be frozen or an ES module namespace): the instances already done are
 * remembered in a WeakSet shared on `globalThis`.
 */
export function registerFileRouter(registry: RouterRegistry = io): boolean {
  const done = sharedWeakSet(REGISTERED_KEY);
  if (done.has(registry)) return false;
  if (![registry.registerSaveRouter, registry.registerLoadRouter, registry.getSaveHandlers, registry.getLoadHandlers].every((f) => typeof f === 'function')) {
    return false;
  }
  done.add(registry);
  let asking = false;
  // Answers only for file:// URLs that no other router (tfjs-node's) handles; asks the others with ours muted.
  const route = (find: (url: string) => io.IOHandler[], make: (url: string) => io.IOHandler): IORouter =>
    ((url: string | string[]) => {
    if (asking || typeof url !== 'string' || !isStoreUrl(url)) return null;
    asking = true;
    let others: io.IOHandler[];
    try {
      others = find(url);
    } finally {
      asking = false;
    }
    return others.length > 0 ? null : make(url);
  }) as IORouter;
  registry.registerSaveRouter(route((u) => registry.getSaveHandlers(u), fileSaveHandler));
  registry.registerLoadRouter(route((u) => registry.getLoadHandlers(u), fileLoadHandler));
  return true;
}
