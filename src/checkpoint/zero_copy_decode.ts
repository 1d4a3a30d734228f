/**
 * Loading without copying the weights twice. `tf.loadLayersModel` hands the weight buffers to
 * `tf.io.decodeWeights`, which copies every tensor out of them: with the buffers themselves that is
 * two copies of the model in memory (and, on a VM where fresh memory is slow, twice the time). For
 * buffers our own handler produced, a one-shot stand-in for `decodeWeights` builds each tensor on a
 * view into the buffer it was read into instead (the CPU backend keeps such arrays as they are).
 * Any other call, including every later one, goes to the real function.
 */
import { io, type NamedTensorMap } from '@tensorflow/tfjs-core';
import type { WeightSpec } from '../formats/weight_entry.js';
import { storedToTensor } from './model_io.js';
import { sliceWeights } from './read.js';
import { trySetProperty } from './tfjs_guard.js';

type DecodeWeights = typeof io.decodeWeights;

/** The part of `tf.io` this file touches (the real `io` by default; tests pass frozen or namespace ones). */
export interface DecodeWeightsHolder {
  decodeWeights: DecodeWeights;
}

/**
 * Arms the stand-in for the next decode of exactly `buffers` (the array object our handler returns).
 * Returns whether it did. Where `tf.io` cannot be patched (frozen, or an ES module namespace as in a
 * bundled ESM build) it does nothing and returns false: tfjs then copies, and loading still works.
 * Only plain float32/int32/bool manifests reach here (the schema rejects the rest).
 */
export function armZeroCopyDecode(buffers: ArrayBuffer[], namespace: DecodeWeightsHolder = io as unknown as DecodeWeightsHolder): boolean {
  let original: DecodeWeights;
  try {
    original = namespace.decodeWeights;
  } catch {
    return false;
  }
  if (typeof original !== 'function') return false;
  const disarm = () => {
    if (namespace.decodeWeights === standIn) trySetProperty(namespace, 'decodeWeights', original);
  };
  const standIn = ((data: Parameters<DecodeWeights>[0], specs: io.WeightsManifestEntry[]) => {
    if (data !== buffers) return original(data, specs);
    disarm();
    const stored = sliceWeights(specs as WeightSpec[], buffers.map((b) => new Uint8Array(b)));
    return Object.fromEntries(stored.map((s) => [s.spec.name, storedToTensor(s)])) as NamedTensorMap;
  }) as DecodeWeights;
  if (!trySetProperty(namespace, 'decodeWeights', standIn)) return false;
  // tfjs decodes in the same turn as our load() resolves; if the build fails first, disarm right after.
  setTimeout(disarm, 0).unref?.();
  return true;
}
