/**
 * One stored weight, independent of where its bytes come from (a live tensor snapshot, a
 * model.save() artifact buffer, a file). Writers stream `read()` straight into shard files.
 */
import type { Tensor } from '@tensorflow/tfjs-core';
import { CheckpointError } from '../errors.js';

export type StoredDtype = 'float32' | 'int32' | 'bool';

export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: StoredDtype;
  /** tfjs marks optimizer state with group 'optimizer'; model weights have no group. */
  group?: 'optimizer';
}

export interface WeightEntry extends WeightSpec {
  byteLength: number;
  /**
   * The identity of the weight's data where it comes from a tensor (its data id): TF.js tensors are
   * immutable, so the same identity at two saves means the same bytes (see incremental.ts).
   */
  identity?: object;
  /** Not trained (a frozen layer's weight): laid out in shards of its own, so those can be reused whole. */
  frozen?: boolean;
  /** The weight's little-endian bytes; may be a view into memory the caller must not modify. */
  read(): Promise<Uint8Array>;
}

const BYTES_PER_ELEMENT: Record<StoredDtype, number> = { float32: 4, int32: 4, bool: 1 };

export function bytesPerElement(dtype: StoredDtype): number {
  return BYTES_PER_ELEMENT[dtype];
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

export function isStoredDtype(dtype: string): dtype is StoredDtype {
  return dtype === 'float32' || dtype === 'int32' || dtype === 'bool';
}

/** An entry whose bytes are read from a tensor when the writer reaches it (no copy on the CPU backend). */
export function tensorEntry(name: string, tensor: Tensor, group?: 'optimizer', frozen = false): WeightEntry {
  if (!isStoredDtype(tensor.dtype)) {
    throw new CheckpointError(
      'INVALID_ARGUMENT',
      `Weight '${name}' has dtype ${tensor.dtype}; checkpoints store float32, int32 and bool weights only.`,
    );
  }
  const dtype = tensor.dtype;
  return {
    name,
    shape: tensor.shape.slice(),
    dtype,
    ...(group ? { group } : {}),
    identity: (tensor as unknown as { dataId: object }).dataId,
    ...(frozen ? { frozen } : {}),
    byteLength: tensor.size * bytesPerElement(dtype),
    async read() {
      const values = (await tensor.data()) as Float32Array | Int32Array | Uint8Array;
      return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    },
  };
}

export function specOf(entry: WeightEntry): WeightSpec {
  return { name: entry.name, shape: entry.shape, dtype: entry.dtype, ...(entry.group ? { group: entry.group } : {}) };
}
