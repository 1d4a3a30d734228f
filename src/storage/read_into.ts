/**
 * Reads checkpoint files into caller-provided memory, in chunks (Node refuses single reads of 2 GiB or
 * more), checksumming each chunk while the next one is being read so the CRC costs no extra time.
 * Readers open a file once and check its size on the open file, so what they check is what they read.
 *
 * Every file is opened through `openCheckpointFile`, the one place that decides what may be read: a
 * regular file, opened without following a symlink (a file inside a checkpoint must be its own, not a
 * link to something elsewhere) and without blocking (a FIFO or device would hang the open or the read).
 */
import { constants, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { CheckpointError, CorruptCheckpointError } from '../errors.js';
import type { FsOps } from './fs_ops.js';
import { ioError } from './node_fs.js';

const CHUNK_BYTES = 32 * 1024 * 1024;

/** O_NOFOLLOW and O_NONBLOCK do not exist on Windows; there the fstat check below is all we have. */
const READ_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

export interface CheckpointFile {
  handle: FileHandle;
  size: number;
}

function describeNonFile(stats: Stats): string {
  if (stats.isFIFO()) return 'a FIFO (named pipe)';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device';
  if (stats.isDirectory()) return 'a directory';
  return 'not a regular file';
}

function notRegular(path: string, what: string): CorruptCheckpointError {
  return new CorruptCheckpointError(
    `${path} is ${what}, but a checkpoint holds only regular files. The checkpoint is damaged or was tampered with; load another one.`,
  );
}

/**
 * Opens a file of a checkpoint for reading: a regular file, never through a symlink, never blocking.
 * Anything else is a CorruptCheckpointError naming it. A missing file rejects with the plain ENOENT
 * error, so callers can tell "absent" from "damaged". The caller closes the handle.
 */
export async function openCheckpointFile(path: string, fs: FsOps): Promise<CheckpointFile> {
  let handle: FileHandle;
  try {
    handle = await fs.open(path, READ_FLAGS);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw e;
    // ELOOP (Linux, macOS) or EMLINK (FreeBSD): O_NOFOLLOW met a symlink. ENXIO: a socket.
    if (code === 'ELOOP' || code === 'EMLINK') throw notRegular(path, 'a symbolic link');
    if (code === 'ENXIO') throw notRegular(path, 'a socket or device');
    if (code === 'EISDIR') throw notRegular(path, 'a directory');
    throw ioError('open', path, e);
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw notRegular(path, describeNonFile(stats));
    return { handle, size: stats.size };
  } catch (e) {
    await handle.close().catch(() => undefined);
    throw e instanceof CheckpointError ? e : ioError('inspect', path, e);
  }
}

/** The size check every reader makes on the opened file itself, before reading it. */
export function assertFileSize(file: CheckpointFile, path: string, expected: number): void {
  if (file.size !== expected) {
    throw new CorruptCheckpointError(
      `${path} is ${file.size} bytes but the checkpoint says it should be ${expected}: the file is truncated or was changed. Load another checkpoint.`,
    );
  }
}

async function readFully(handle: FileHandle, dest: Uint8Array, offset: number, length: number, position: number, path: string): Promise<void> {
  for (let done = 0; done < length; ) {
    const { bytesRead } = await handle.read(dest, offset + done, length - done, position + done);
    if (bytesRead === 0) throw new CorruptCheckpointError(`${path} ended early while being read: the file is truncated.`);
    done += bytesRead;
  }
}

/**
 * One stretch of a file, in file order: read into `dest` at `offset`, or, without `dest`, bytes the
 * caller does not want (read through a small scratch buffer only when the checksum needs them).
 */
export interface FilePiece {
  length: number;
  dest?: Uint8Array;
  offset?: number;
}

/** Two scratch buffers, so one can be checksummed while the other is being filled. */
function scratchFor(pieces: readonly FilePiece[]): Uint8Array[] {
  const largest = Math.max(0, ...pieces.filter((p) => !p.dest).map((p) => p.length));
  const size = Math.min(CHUNK_BYTES, Math.max(largest, 1));
  return [new Uint8Array(size), new Uint8Array(size)];
}

/**
 * Reads an opened checkpoint file as `pieces`, which must add up to its size. With `checksum`,
 * returns the CRC-32 of every byte; without, pieces with no destination are not read at all.
 */
export async function readPieces(file: CheckpointFile, path: string, pieces: readonly FilePiece[], checksum: boolean): Promise<number | undefined> {
  const scratch = checksum && pieces.some((p) => !p.dest) ? scratchFor(pieces) : [];
  let crc = 0;
  let previous: Uint8Array | undefined;
  let position = 0;
  let turn = 0;
  try {
    for (const piece of pieces) {
      if (!piece.dest && !checksum) {
        position += piece.length;
        continue;
      }
      for (let done = 0; done < piece.length; ) {
        const into = piece.dest ?? scratch[turn++ % 2]!;
        const at = piece.dest ? (piece.offset ?? 0) + done : 0;
        const length = Math.min(CHUNK_BYTES, into.byteLength - at, piece.length - done);
        const reading = readFully(file.handle, into, at, length, position, path);
        if (previous && checksum) crc = crc32(previous, crc);
        await reading;
        previous = into.subarray(at, at + length);
        done += length;
        position += length;
      }
    }
  } catch (e) {
    throw e instanceof CheckpointError ? e : ioError('read', path, e);
  }
  if (previous && checksum) crc = crc32(previous, crc);
  return checksum ? crc : undefined;
}

/**
 * Reads an opened small text file (a checkpoint's JSON), refusing anything over `maxBytes`; checked
 * against the `recorded` size and CRC-32 when given.
 */
export async function readText(file: CheckpointFile, path: string, maxBytes: number, recorded: { size: number; crc32: number } | undefined): Promise<string> {
  if (file.size > maxBytes) {
    throw new CorruptCheckpointError(`${path} is ${file.size} bytes, more than the ${maxBytes} a checkpoint's JSON file may have.`);
  }
  if (recorded) assertFileSize(file, path, recorded.size);
  const bytes = new Uint8Array(file.size);
  const checksum = await readPieces(file, path, [{ length: file.size, dest: bytes }], true);
  if (recorded && checksum !== recorded.crc32) {
    throw new CorruptCheckpointError(`${path} fails its checksum: the file was changed after it was written. Load another checkpoint.`);
  }
  return new TextDecoder('utf-8').decode(bytes);
}

/**
 * Reads a small text file (a checkpoint's JSON, a pointer), as `readText` does. A missing file
 * rejects with the plain ENOENT error, so callers can tell "absent" from "damaged".
 */
export async function readTextFile(path: string, maxBytes: number, recorded: { size: number; crc32: number } | undefined, fs: FsOps): Promise<string> {
  const file = await openCheckpointFile(path, fs);
  try {
    return await readText(file, path, maxBytes, recorded);
  } finally {
    await file.handle.close().catch(() => undefined);
  }
}
