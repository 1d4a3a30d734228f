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

type DecodeWeights = typeof io.decodeWeights;

/**
 * Arms the stand-in for the next decode of exactly `buffers` (the array object our handler returns).
 * Where `io` is a frozen module namespace (ESM builds in browsers) it does nothing and returns false:
 * tfjs then copies.
 * Only plain float32/int32/bool manifests reach here (the schema rejects the rest).
 */
export function armZeroCopyDecode(buffers: ArrayBuffer[]): boolean {
  const namespace = io as unknown as { decodeWeights: DecodeWeights };
  if (!Object.getOwnPropertyDescriptor(namespace, 'decodeWeights')?.writable) return false;
  const original = namespace.decodeWeights;
  const standIn = ((data: Parameters<DecodeWeights>[0], specs: io.WeightsManifestEntry[]) => {
    if (data !== buffers) return original(data, specs);
    if (namespace.decodeWeights === standIn) namespace.decodeWeights = original;
    const stored = sliceWeights(specs as WeightSpec[], buffers.map((b) => new Uint8Array(b)));
    return Object.fromEntries(stored.map((s) => [s.spec.name, storedToTensor(s)])) as NamedTensorMap;
  }) as DecodeWeights;
  namespace.decodeWeights = standIn;
  // tfjs decodes in the same turn as our load() resolves; if the build fails first, disarm right after.
  setTimeout(() => {
    if (namespace.decodeWeights === standIn) namespace.decodeWeights = original;
  }, 0).unref?.();
  return true;
}
