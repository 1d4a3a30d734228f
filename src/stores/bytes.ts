/** In-memory helpers the stores share: collecting a file's chunks, and serving bytes as a StoredFile. */
import { CorruptCheckpointError } from '../errors.js';
import { crc32 } from '../formats/crc32.js';
import type { ByteChunks, StoredFile } from './store.js';

/** A file's chunks as one new buffer, with its size and CRC-32. Each chunk is copied before the next is pulled (it may be a view into live memory). */
export async function collectChunks(chunks: ByteChunks): Promise<{ bytes: Uint8Array; size: number; crc32: number }> {
  const parts: Uint8Array[] = [];
  let size = 0;
  let checksum = 0;
  for await (const chunk of chunks) {
    parts.push(chunk.slice());
    checksum = crc32(chunk, checksum);
    size += chunk.byteLength;
  }
  const bytes = parts.length === 1 ? parts[0]! : new Uint8Array(size);
  if (parts.length !== 1) parts.reduce((at, part) => (bytes.set(part, at), at + part.byteLength), 0);
  return { bytes, size, crc32: checksum };
}

/** Bytes held in memory, read like any store's file. */
export function bytesFile(bytes: Uint8Array, where: string): StoredFile {
  return {
    size: bytes.byteLength,
    read: async (dest, offset, length, position) => {
      if (position + length > bytes.byteLength) throw new CorruptCheckpointError(`${where} ended early while being read: the file is truncated.`);
      dest.set(bytes.subarray(position, position + length), offset);
    },
  };
}
