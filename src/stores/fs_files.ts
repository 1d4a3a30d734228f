/**
 * The fs store's file access below the protocol: opening a checkpoint's files safely, reading them,
 * and turning errno failures into messages people can act on. Readers open a file once and check its
 * size on the open file, so what they check is what they read.
 *
 * Every file is opened through `openCheckpointFile`, the one place that decides what may be read: a
 * regular file, opened without following a symlink (a file inside a checkpoint must be its own, not a
 * link to something elsewhere) and without blocking (a FIFO or device would hang the open or the read).
 */
import { constants, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { CheckpointError, CorruptCheckpointError } from '../errors.js';
import type { StoredFile } from './store.js';
import type { FsOps } from './fs_ops.js';
import { onHelper } from './fs_worker.js';

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

async function readFully(handle: FileHandle, dest: Uint8Array, offset: number, length: number, position: number, path: string): Promise<void> {
  for (let done = 0; done < length; ) {
    // Node reads at most 2 GiB per call; a single-file checkpoint can hold a larger tensor.
    const { bytesRead } = await handle.read(dest, offset + done, Math.min(length - done, 1 << 30), position + done);
    if (bytesRead === 0) throw new CorruptCheckpointError(`${path} ended early while being read: the file is truncated.`);
    done += bytesRead;
  }
}

/** An opened file as the store interface's StoredFile. */
export function storedFile(file: CheckpointFile, path: string): StoredFile {
  return {
    size: file.size,
    read: (dest, offset, length, position) =>
      readFully(file.handle, dest, offset, length, position, path).catch((e) => {
        throw e instanceof CheckpointError ? e : ioError('read', path, e);
      }),
    // Through this very descriptor (threads share them), never the path: a replacement cannot swap the file.
    checksum: () =>
      onHelper('checksumFd', { fd: file.handle.fd, size: file.size }, 'waited').catch((e) => {
        throw ioError('read', path, e);
      }),
    descriptor: () => (file.handle.fd >= 0 ? file.handle.fd : undefined),
  };
}

function errnoOf(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

export function ioError(action: string, path: string, cause: unknown): CheckpointError {
  const code = errnoOf(cause);
  const hint =
    code === 'ENOSPC' || code === 'EDQUOT'
      ? ' The disk is full: free some space or save to another directory. Earlier checkpoints are untouched.'
      : code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
        ? ' Check the permissions of the directory, or save to a writable one. Earlier checkpoints are untouched.'
        : ' Earlier checkpoints are untouched.';
  return new CheckpointError('IO_ERROR', `Could not ${action} ${path}: ${(cause as Error)?.message ?? String(cause)}.${hint}`, { cause });
}
