/**
 * Loading without copying the weights twice. `tf.loadLayersModel` hands the weight buffers to
 * `tf.io.decodeWeights`, which copies every tensor out of them: with the buffers themselves that is
 * two copies of the model in memory (and, on a VM where fresh memory is slow, twice the time). For
 * buffers our own handler produced, a one-shot stand-in for `decodeWeights` builds each tensor on a
 * view into the buffer it was read into instead (the CPU backend keeps such arrays as they are).
 * Any other call, including every later one, goes to the real function.
 */
import { io, tensor as makeTensor, type NamedTensorMap } from '@tensorflow/tfjs-core';

type DecodeWeights = typeof io.decodeWeights;

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1 };

function viewOrCopy(buffers: readonly ArrayBuffer[], start: number, length: number, shardStarts: readonly number[]): Uint8Array {
  let shard = shardStarts.length - 1;
  while (shard > 0 && shardStarts[shard]! > start) shard--;
  const offset = start - shardStarts[shard]!;
  const buffer = buffers[shard]!;
  if (offset + length <= buffer.byteLength) return new Uint8Array(buffer, offset, length);
  // Spans two shards: join the pieces (rare: only where a shard boundary cuts a weight).
  const joined = new Uint8Array(length);
  for (let filled = 0; filled < length; shard++) {
    const from = filled === 0 ? offset : 0;
    const take = Math.min(length - filled, buffers[shard]!.byteLength - from);
    joined.set(new Uint8Array(buffers[shard]!, from, take), filled);
    filled += take;
  }
  return joined;
}

function decodeByViews(buffers: readonly ArrayBuffer[], specs: readonly io.WeightsManifestEntry[]): NamedTensorMap {
  const starts: number[] = [];
  buffers.reduce((at, b) => (starts.push(at), at + b.byteLength), 0);
  const out: NamedTensorMap = {};
  let offset = 0;
  for (const spec of specs) {
    const count = spec.shape.reduce((n, d) => n * d, 1);
    const length = count * BYTES[spec.dtype]!;
    let bytes = viewOrCopy(buffers, offset, length, starts);
    offset += length;
    if (spec.dtype === 'bool') {
      out[spec.name] = makeTensor(Uint8Array.from(bytes), spec.shape, 'bool');
      continue;
    }
    if (bytes.byteOffset % 4 !== 0) bytes = bytes.slice();
    const values = spec.dtype === 'int32' ? new Int32Array(bytes.buffer, bytes.byteOffset, count) : new Float32Array(bytes.buffer, bytes.byteOffset, count);
    out[spec.name] = makeTensor(values, spec.shape, spec.dtype);
  }
  return out;
}

/**
 * Arms the stand-in for the next decode of exactly `buffers` (the array object our handler returns).
 * Where `io` is a frozen module namespace (ESM builds in browsers) it does nothing: tfjs then copies.
 */
export function armZeroCopyDecode(buffers: ArrayBuffer[]): void {
  const namespace = io as unknown as { decodeWeights: DecodeWeights };
  if (!Object.getOwnPropertyDescriptor(namespace, 'decodeWeights')?.writable) return;
  const original = namespace.decodeWeights;
  // Only plain float32/int32/bool manifests reach here (the schema rejects the rest).
  const standIn = ((data: Parameters<DecodeWeights>[0], specs: io.WeightsManifestEntry[]) => {
    if (data !== buffers) return original(data, specs);
    if (namespace.decodeWeights === standIn) namespace.decodeWeights = original;
    return decodeByViews(buffers, specs);
  }) as DecodeWeights;
  namespace.decodeWeights = standIn;
  // tfjs decodes in the same turn as our load() resolves; if the build fails first, disarm right after.
  setTimeout(() => {
    if (namespace.decodeWeights === standIn) namespace.decodeWeights = original;
  }, 0).unref?.();
}
