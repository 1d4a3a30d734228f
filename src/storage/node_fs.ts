/**
 * The Node file-system driver: writes a checkpoint directory so that it is complete or invisible.
 * Protocol: write every file into a temporary sibling, fsync each file, rename the sibling onto the
 * final name, fsync the parent. Replacing an existing checkpoint first renames it aside (`.old-`),
 * so the old one stays on disk until the new one is in place; readers fall back to it if a crash
 * lands between the two renames.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { crc32 } from 'node:zlib';
import { CheckpointError } from '../errors.js';
import { oldSiblingName, replacedCheckpointName, stagedCheckpointName, tempSiblingName } from './paths.js';

/** Node refuses single writes of 2 GiB or more; stay well below. */
const MAX_WRITE_BYTES = 1 << 30;

export interface WrittenFile {
  name: string;
  size: number;
  crc32: number;
}

/** A source of bytes for one file: chunks are written in order and may be views into live tensor memory. */
export type ByteChunks = Iterable<Uint8Array | Promise<Uint8Array>> | AsyncIterable<Uint8Array>;

export function ioError(action: string, path: string, cause: unknown): CheckpointError {
  const err = cause as NodeJS.ErrnoException;
  const hint =
    err?.code === 'ENOSPC' || err?.code === 'EDQUOT'
      ? ' The disk is full: free space or choose another directory; earlier checkpoints are untouched.'
      : err?.code === 'EACCES' || err?.code === 'EPERM' || err?.code === 'EROFS'
        ? ' Check the permissions of the directory, or choose a writable one.'
        : '';
  return new CheckpointError('IO_ERROR', `Could not ${action} ${path}: ${err?.message ?? String(cause)}.${hint}`, { cause });
}

async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, fsConstants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function writeAll(handle: FileHandle, chunk: Uint8Array): Promise<void> {
  for (let offset = 0; offset < chunk.byteLength; ) {
    const length = Math.min(MAX_WRITE_BYTES, chunk.byteLength - offset);
    const { bytesWritten } = await handle.write(chunk, offset, length);
    offset += bytesWritten;
  }
}

export async function pathKind(path: string): Promise<'file' | 'directory' | 'other' | 'missing'> {
  try {
    const s = await stat(path);
    return s.isDirectory() ? 'directory' : s.isFile() ? 'file' : 'other';
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return 'missing';
    throw e;
  }
}

/** Files whose presence marks a directory as a checkpoint that a new save may replace. */
export const CHECKPOINT_MARKERS = ['checkpoint.json', 'model.json', 'weights.json'];

async function looksLikeCheckpoint(dir: string): Promise<boolean> {
  try {
    const entries = await readdir(dir);
    return entries.length === 0 || entries.some((e) => CHECKPOINT_MARKERS.includes(e));
  } catch {
    return false;
  }
}

/** A checkpoint directory being written. Nothing is visible at `finalPath` until `commit()`. */
export class StagedDirectory {
  private readonly files: WrittenFile[] = [];
  private done = false;

  private constructor(
    readonly finalPath: string,
    readonly stagingPath: string,
  ) {}

  static async begin(finalPath: string): Promise<StagedDirectory> {
    const parent = dirname(finalPath);
    const kind = await pathKind(finalPath).catch((e) => {
      throw ioError('inspect', finalPath, e);
    });
    if (kind === 'file' || kind === 'other') {
      throw new CheckpointError(
        'PATH_CONFLICT',
        `Cannot write a checkpoint to ${finalPath}: a file with that name exists, and a checkpoint is a directory. ` +
          'Remove the file or choose another filepath.',
      );
    }
    if (kind === 'directory' && !(await looksLikeCheckpoint(finalPath))) {
      throw new CheckpointError(
        'PATH_CONFLICT',
        `Please specify a non-directory filepath: ${finalPath} is an existing directory that is not a checkpoint, ` +
          'and replacing it would delete its contents. Choose a filepath that names the checkpoint itself (e.g. add {epoch:02d}).',
      );
    }
    try {
      await mkdir(parent, { recursive: true });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' || code === 'ENOTDIR') {
        throw new CheckpointError(
          'PATH_CONFLICT',
          `Cannot create the directory ${parent} for checkpoint ${finalPath}: part of that path is an existing file. Choose another filepath.`,
          { cause: e },
        );
      }
      throw ioError('create the directory', parent, e);
    }
    const staging = join(parent, tempSiblingName(basename(finalPath), `${process.pid}-${randomBytes(4).toString('hex')}`));
    try {
      await mkdir(staging);
    } catch (e) {
      throw ioError('create the temporary directory', staging, e);
    }
    return new StagedDirectory(finalPath, staging);
  }

  /** Writes one file from its chunks, flushes it to disk, and records its size and CRC-32. */
  async writeFile(name: string, chunks: ByteChunks): Promise<WrittenFile> {
    const path = join(this.stagingPath, name);
    let size = 0;
    let checksum = 0;
    let handle: FileHandle | undefined;
    try {
      handle = await open(path, 'wx');
      for await (const chunk of chunks) {
        await writeAll(handle, chunk);
        checksum = crc32(chunk, checksum);
        size += chunk.byteLength;
      }
      await handle.sync();
    } catch (e) {
      throw e instanceof CheckpointError ? e : ioError('write', join(this.finalPath, name), e);
    } finally {
      await handle?.close().catch(() => undefined);
    }
    const written = { name, size, crc32: checksum };
    this.files.push(written);
    return written;
  }

  writtenFiles(): readonly WrittenFile[] {
    return this.files;
  }

  /** Makes the checkpoint visible in one rename; an existing one at that name is replaced, never lost. */
  async commit(): Promise<void> {
    if (this.done) throw new Error('StagedDirectory already finished');
    this.done = true;
    const parent = dirname(this.finalPath);
    try {
      await fsyncPath(this.stagingPath);
      try {
        await rename(this.stagingPath, this.finalPath);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'EISDIR') throw e;
        await this.replaceExisting(parent);
      }
      await fsyncPath(parent);
    } catch (e) {
      await rm(this.stagingPath, { recursive: true, force: true }).catch(() => undefined);
      throw e instanceof CheckpointError ? e : ioError('commit the checkpoint', this.finalPath, e);
    }
  }

  private async replaceExisting(parent: string): Promise<void> {
    const aside = join(parent, oldSiblingName(basename(this.finalPath), `${process.pid}-${randomBytes(4).toString('hex')}`));
    await rename(this.finalPath, aside);
    await rename(this.stagingPath, this.finalPath);
    await fsyncPath(parent);
    await rm(aside, { recursive: true, force: true });
  }

  /** Removes everything written so far; the final path is untouched. */
  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await rm(this.stagingPath, { recursive: true, force: true }).catch(() => undefined);
  }
}

/**
 * Where a committed checkpoint named `path` can be read: the path itself, or, if a crash landed
 * between the two renames of a replacement, the copy that was set aside. Undefined when neither exists.
 */
export async function resolveCommittedPath(path: string): Promise<string | undefined> {
  if ((await pathKind(path)) === 'directory') return path;
  const parent = dirname(path);
  const name = basename(path);
  let entries: string[];
  try {
    entries = await readdir(parent);
  } catch {
    return undefined;
  }
  const aside = entries.filter((e) => replacedCheckpointName(e) === name).sort();
  return aside.length > 0 ? join(parent, aside[aside.length - 1]!) : undefined;
}

/**
 * Removes this library's leftovers for checkpoints in `parent` (only names it creates): staging
 * directories from crashed writers, and set-aside copies whose replacement was committed. A set-aside
 * copy whose replacement never landed is renamed back. `ownedBy` limits it to one checkpoint name.
 */
export async function cleanLeftovers(parent: string, isOurs: (checkpointName: string) => boolean): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(parent);
  } catch {
    return;
  }
  for (const entry of entries) {
    const staged = stagedCheckpointName(entry);
    if (staged !== undefined && isOurs(staged)) {
      await rm(join(parent, entry), { recursive: true, force: true }).catch(() => undefined);
      continue;
    }
    const replaced = replacedCheckpointName(entry);
    if (replaced !== undefined && isOurs(replaced)) {
      if ((await pathKind(join(parent, replaced))) === 'missing') {
        await rename(join(parent, entry), join(parent, replaced)).catch(() => undefined);
      } else {
        await rm(join(parent, entry), { recursive: true, force: true }).catch(() => undefined);
      }
    }
  }
}

/**
 * Reads a whole file into one fresh ArrayBuffer, in chunks (Node's readFile refuses files over 2 GiB).
 * `expectedSize` guards against truncated or oversized files before anything large is allocated.
 */
export async function readFileBytes(path: string, expectedSize?: number): Promise<Uint8Array> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, 'r');
    const { size } = await handle.stat();
    if (expectedSize !== undefined && size !== expectedSize) {
      throw new CheckpointError(
        'CORRUPT_CHECKPOINT',
        `${path} is ${size} bytes but the checkpoint says it should be ${expectedSize}: the file is truncated or was changed. ` +
          'Load an earlier checkpoint, or re-save this one.',
      );
    }
    const bytes = new Uint8Array(size);
    for (let offset = 0; offset < size; ) {
      const { bytesRead } = await handle.read(bytes, offset, Math.min(MAX_WRITE_BYTES, size - offset), offset);
      if (bytesRead === 0) throw new CheckpointError('CORRUPT_CHECKPOINT', `${path} ended early while being read.`);
      offset += bytesRead;
    }
    return bytes;
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new CheckpointError('CORRUPT_CHECKPOINT', `The checkpoint file ${path} is missing: the checkpoint is incomplete.`, { cause: e });
    }
    throw ioError('read', path, e);
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/** Reads a small text file, refusing anything over `maxBytes`; checked against `recorded` size and CRC-32 when given. */
export async function readTextFile(path: string, maxBytes: number, recorded?: { size: number; crc32: number }): Promise<string> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw e;
    throw ioError('read', path, e);
  }
  if (size > maxBytes) {
    throw new CheckpointError('CORRUPT_CHECKPOINT', `${path} is ${size} bytes, more than the ${maxBytes} a checkpoint's JSON file may have.`);
  }
  const bytes = await readFileBytes(path, recorded?.size);
  if (recorded && crc32(bytes) !== recorded.crc32) {
    throw new CheckpointError('CORRUPT_CHECKPOINT', `${path} fails its checksum: the file was changed after it was written. Load another checkpoint.`);
  }
  return new TextDecoder('utf-8').decode(bytes);
}
