/**
 * Our metadata in HDF5 files we write: a trailer after the HDF5 data, `[JSON][u32 length][TFJSCKPT]`.
 * HDF5 readers (h5py, Keras, h5wasm) ignore bytes past the file's end-of-data address, and two ranged
 * reads at the end find it on any store, without opening the file with the HDF5 library (listing a
 * directory of 5 GiB checkpoints on S3 reads a few KiB each). A file rewritten by another tool loses
 * it, and is then simply not ours.
 */
import type { StoredFile } from '../stores/store.js';

const MAGIC = new TextEncoder().encode('TFJSCKPT');
const MAX_TRAILER_BYTES = 64 * 1024 * 1024;

export function encodeTrailer(value: unknown): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(value));
  const out = new Uint8Array(json.byteLength + 4 + MAGIC.byteLength);
  out.set(json, 0);
  new DataView(out.buffer).setUint32(json.byteLength, json.byteLength, true);
  out.set(MAGIC, json.byteLength + 4);
  return out;
}

/** The trailer's JSON value, or undefined when the file has none (or a damaged one). */
export async function readTrailer(file: StoredFile): Promise<unknown> {
  const tail = MAGIC.byteLength + 4;
  if (file.size < tail) return undefined;
  const end = new Uint8Array(tail);
  await file.read(end, 0, tail, file.size - tail);
  if (!MAGIC.every((b, i) => end[4 + i] === b)) return undefined;
  const length = new DataView(end.buffer).getUint32(0, true);
  if (length > MAX_TRAILER_BYTES || length > file.size - tail) return undefined;
  const json = new Uint8Array(length);
  await file.read(json, 0, length, file.size - tail - length);
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json));
  } catch {
    return undefined;
  }
}
