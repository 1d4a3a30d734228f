/**
 * Reads a file into caller-provided memory, in chunks (Node refuses single reads of 2 GiB or more),
 * checksumming each chunk while the next one is being read so the CRC costs no extra time.
 */
import type { FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { CheckpointError } from '../errors.js';
import type { FsOps } from './fs_ops.js';
import { ioError } from './node_fs.js';

const CHUNK_BYTES = 32 * 1024 * 1024;

async function readFully(handle: FileHandle, dest: Uint8Array, offset: number, length: number, position: number, path: string): Promise<void> {
  for (let done = 0; done < length; ) {
    const { bytesRead } = await handle.read(dest, offset + done, length - done, position + done);
    if (bytesRead === 0) throw new CheckpointError('CORRUPT_CHECKPOINT', `${path} ended early while being read: the file is truncated.`);
    done += bytesRead;
  }
}

/** Reads all of `path` (which must be `size` bytes) into `dest` at `offset`; returns its CRC-32. */
export async function readFileInto(path: string, dest: Uint8Array, offset: number, size: number, fs: FsOps): Promise<number> {
  let handle: FileHandle | undefined;
  try {
    handle = await fs.open(path, 'r');
    let checksum = 0;
    let previous: Uint8Array | undefined;
    for (let position = 0; position < size; position += CHUNK_BYTES) {
      const length = Math.min(CHUNK_BYTES, size - position);
      const reading = readFully(handle, dest, offset + position, length, position, path);
      if (previous) checksum = crc32(previous, checksum);
      await reading;
      previous = dest.subarray(offset + position, offset + position + length);
    }
    if (previous) checksum = crc32(previous, checksum);
    return checksum;
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new CheckpointError('CORRUPT_CHECKPOINT', `The checkpoint file ${path} is missing: the checkpoint is incomplete.`, { cause: e });
    }
    if ((e as NodeJS.ErrnoException).code === 'EISDIR') throw new CheckpointError('CORRUPT_CHECKPOINT', `${path} is a directory where a file was expected.`, { cause: e });
    throw ioError('read', path, e);
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/** The size of a file, or a CORRUPT_CHECKPOINT error naming it when it is missing or not a file. */
export async function fileSize(path: string, fs: FsOps): Promise<number> {
  try {
    const s = await fs.stat(path);
    if (!s.isFile()) throw new CheckpointError('CORRUPT_CHECKPOINT', `${path} is not a regular file.`);
    return s.size;
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new CheckpointError('CORRUPT_CHECKPOINT', `The checkpoint file ${path} is missing: the checkpoint is incomplete.`, { cause: e });
    }
    throw ioError('inspect', path, e);
  }
}

/** The CRC-32 of a file, read through one reused buffer (verifying never holds a whole file). */
export async function checksumFile(path: string, size: number, fs: FsOps): Promise<number> {
  const buffer = new Uint8Array(Math.min(CHUNK_BYTES, Math.max(size, 1)));
  let handle: FileHandle | undefined;
  try {
    handle = await fs.open(path, 'r');
    let checksum = 0;
    for (let position = 0; position < size; position += buffer.byteLength) {
      const length = Math.min(buffer.byteLength, size - position);
      await readFully(handle, buffer, 0, length, position, path);
      checksum = crc32(buffer.subarray(0, length), checksum);
    }
    return checksum;
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    throw ioError('read', path, e);
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/**
 * Reads a small text file (a checkpoint's JSON), refusing anything over `maxBytes`; checked against
 * the `recorded` size and CRC-32 when given. A missing file rejects with the plain ENOENT error, so
 * callers can tell "absent" from "damaged".
 */
export async function readTextFile(path: string, maxBytes: number, recorded: { size: number; crc32: number } | undefined, fs: FsOps): Promise<string> {
  let size: number;
  try {
    size = (await fs.stat(path)).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw e;
    throw ioError('read', path, e);
  }
  if (size > maxBytes) {
    throw new CheckpointError('CORRUPT_CHECKPOINT', `${path} is ${size} bytes, more than the ${maxBytes} a checkpoint's JSON file may have.`);
  }
  if (recorded && size !== recorded.size) {
    throw new CheckpointError(
      'CORRUPT_CHECKPOINT',
      `${path} is ${size} bytes but the checkpoint says it should be ${recorded.size}: the file is truncated or was changed. Load another checkpoint.`,
    );
  }
  const bytes = new Uint8Array(size);
  const checksum = await readFileInto(path, bytes, 0, size, fs);
  if (recorded && checksum !== recorded.crc32) {
    throw new CheckpointError('CORRUPT_CHECKPOINT', `${path} fails its checksum: the file was changed after it was written. Load another checkpoint.`);
  }
  return new TextDecoder('utf-8').decode(bytes);
}
