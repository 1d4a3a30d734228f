/**
 * The Node file-system driver: writes a checkpoint directory so that it is complete or invisible.
 * Protocol: write every file into a temporary sibling, fsync each file, rename the sibling onto the
 * final name, fsync the parent. Replacing an existing checkpoint first renames it aside (`.old-`),
 * so the old one stays on disk until the new one is in place; readers fall back to it if a crash
 * lands between the two renames. Every function takes the `FsOps` to use (tests inject faults).
 */
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { crc32 } from 'node:zlib';
import { CheckpointError } from '../errors.js';
import { nodeFs, type FsOps } from './fs_ops.js';
import { oldSiblingName, replacedCheckpointName, stagedCheckpointName, tempSiblingName } from './paths.js';

/** Node refuses single writes of 2 GiB or more; stay well below. */
const MAX_WRITE_BYTES = 1 << 30;

/** Files whose presence marks a directory as a checkpoint (that a new save may replace, that readers list). */
export const CHECKPOINT_MARKERS = ['checkpoint.json', 'model.json', 'weights.json'];

export interface WrittenFile {
  name: string;
  size: number;
  crc32: number;
}

/** A source of bytes for one file: chunks are written in order and may be views into live tensor memory. */
export type ByteChunks = Iterable<Uint8Array | Promise<Uint8Array>> | AsyncIterable<Uint8Array>;

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

function uniqueToken(): string {
  return `${process.pid}-${randomBytes(4).toString('hex')}`;
}

async function fsyncPath(path: string, fs: FsOps): Promise<void> {
  const handle = await fs.open(path, fsConstants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function writeAll(handle: FileHandle, chunk: Uint8Array): Promise<void> {
  for (let offset = 0; offset < chunk.byteLength; ) {
    const { bytesWritten } = await handle.write(chunk, offset, Math.min(MAX_WRITE_BYTES, chunk.byteLength - offset));
    offset += bytesWritten;
  }
}

export async function pathKind(path: string, fs: FsOps = nodeFs): Promise<'file' | 'directory' | 'other' | 'missing'> {
  try {
    const s = await fs.stat(path);
    return s.isDirectory() ? 'directory' : s.isFile() ? 'file' : 'other';
  } catch (e) {
    if (errnoOf(e) === 'ENOENT' || errnoOf(e) === 'ENOTDIR') return 'missing';
    throw ioError('inspect', path, e);
  }
}

export async function listDirectory(path: string, fs: FsOps = nodeFs): Promise<string[]> {
  try {
    return await fs.readdir(path);
  } catch (e) {
    if (errnoOf(e) === 'ENOENT' || errnoOf(e) === 'ENOTDIR') return [];
    throw ioError('list', path, e);
  }
}

export async function isCheckpointDirectory(path: string, fs: FsOps = nodeFs): Promise<boolean> {
  const entries = await listDirectory(path, fs).catch(() => []);
  return entries.some((e) => CHECKPOINT_MARKERS.includes(e));
}

async function ensureParent(finalPath: string, fs: FsOps): Promise<void> {
  const parent = dirname(finalPath);
  try {
    await fs.mkdir(parent, { recursive: true });
  } catch (e) {
    if (errnoOf(e) === 'EEXIST' || errnoOf(e) === 'ENOTDIR') {
      throw new CheckpointError(
        'PATH_CONFLICT',
        `Cannot create the directory ${parent} for ${finalPath}: part of that path is an existing file. Choose another filepath.`,
        { cause: e },
      );
    }
    throw ioError('create the directory', parent, e);
  }
}

/** A checkpoint directory being written. Nothing is visible at `finalPath` until `commit()`. */
export class StagedDirectory {
  private readonly files: WrittenFile[] = [];
  private readonly flushes: Promise<void | CheckpointError>[] = [];
  private done = false;

  private constructor(
    readonly finalPath: string,
    readonly stagingPath: string,
    private readonly fs: FsOps,
  ) {}

  static async begin(finalPath: string, fs: FsOps = nodeFs): Promise<StagedDirectory> {
    const kind = await pathKind(finalPath, fs);
    if (kind === 'file' || kind === 'other') {
      throw new CheckpointError(
        'PATH_CONFLICT',
        `Cannot write a checkpoint to ${finalPath}: a file with that name exists, and a checkpoint is a directory. ` +
          'Remove the file or choose another filepath.',
      );
    }
    if (kind === 'directory') {
      const entries = await listDirectory(finalPath, fs);
      if (entries.length > 0 && !entries.some((e) => CHECKPOINT_MARKERS.includes(e))) {
        throw new CheckpointError(
          'PATH_CONFLICT',
          `Please specify a non-directory filepath: ${finalPath} is an existing directory that is not a checkpoint, ` +
            'and replacing it would delete its contents. Choose a filepath that names the checkpoint itself (e.g. add {epoch:02d}).',
        );
      }
    }
    await ensureParent(finalPath, fs);
    const staging = join(dirname(finalPath), tempSiblingName(basename(finalPath), uniqueToken()));
    try {
      await fs.mkdir(staging);
    } catch (e) {
      throw ioError('create a temporary directory to write', finalPath, e);
    }
    return new StagedDirectory(finalPath, staging, fs);
  }

  /** Writes one file from its chunks, flushes it to disk, and records its size and CRC-32. */
  /**
   * Writes one file from its chunks and records its size and CRC-32. Its fsync starts as soon as the
   * data is written and runs while the next files are written; `commit()` waits for all of them.
   */
  async writeFile(name: string, chunks: ByteChunks): Promise<WrittenFile> {
    const path = join(this.stagingPath, name);
    const where = join(this.finalPath, name);
    let size = 0;
    let checksum = 0;
    let handle: FileHandle | undefined;
    try {
      handle = await this.fs.open(path, 'wx');
      for await (const chunk of chunks) {
        // The write runs on libuv's thread pool; checksumming the same bytes meanwhile hides its cost.
        const written = writeAll(handle, chunk);
        checksum = crc32(chunk, checksum);
        size += chunk.byteLength;
        await written;
      }
    } catch (e) {
      await handle?.close().catch(() => undefined);
      throw e instanceof CheckpointError ? e : ioError('write', where, e);
    }
    const open = handle;
    const flushed = open.sync().finally(() => open.close().catch(() => undefined));
    // Handled here so a failure waits for commit() without being reported as unhandled meanwhile.
    this.flushes.push(flushed.catch((e) => ioError('write', where, e)));
    const written = { name, size, crc32: checksum };
    this.files.push(written);
    return written;
  }

  /** Waits for every file's fsync; the first failure is thrown. */
  private async flushAll(): Promise<void> {
    for (const result of await Promise.all(this.flushes)) if (result instanceof CheckpointError) throw result;
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
      await this.flushAll();
      await fsyncPath(this.stagingPath, this.fs);
      try {
        await this.fs.rename(this.stagingPath, this.finalPath);
      } catch (e) {
        const code = errnoOf(e);
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'EISDIR') throw e;
        await this.replaceExisting(parent);
      }
      await fsyncPath(parent, this.fs);
    } catch (e) {
      await this.fs.rm(this.stagingPath, { recursive: true, force: true }).catch(() => undefined);
      throw e instanceof CheckpointError ? e : ioError('commit the checkpoint', this.finalPath, e);
    }
  }

  private async replaceExisting(parent: string): Promise<void> {
    const aside = join(parent, oldSiblingName(basename(this.finalPath), uniqueToken()));
    await this.fs.rename(this.finalPath, aside);
    try {
      await this.fs.rename(this.stagingPath, this.finalPath);
    } catch (e) {
      // Put the old checkpoint back: a failed replacement must not lose it.
      await this.fs.rename(aside, this.finalPath).catch(() => undefined);
      throw e;
    }
    await fsyncPath(parent, this.fs);
    await this.fs.rm(aside, { recursive: true, force: true }).catch(() => undefined);
  }

  /** Removes everything written so far; the final path is untouched. */
  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await Promise.all(this.flushes);
    await this.fs.rm(this.stagingPath, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** Replaces a small file atomically (temporary sibling, fsync, rename, fsync of the directory). */
export async function writeFileAtomically(path: string, bytes: Uint8Array, fs: FsOps = nodeFs): Promise<void> {
  await ensureParent(path, fs);
  const temp = join(dirname(path), tempSiblingName(basename(path), uniqueToken()));
  let handle: FileHandle | undefined;
  try {
    handle = await fs.open(temp, 'wx');
    await writeAll(handle, bytes);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await fs.rename(temp, path);
    await fsyncPath(dirname(path), fs);
  } catch (e) {
    await handle?.close().catch(() => undefined);
    await fs.rm(temp, { force: true }).catch(() => undefined);
    throw ioError('write', path, e);
  }
}

/**
 * Where a committed checkpoint named `path` can be read: the path itself, or, if a crash landed
 * between the two renames of a replacement, the copy that was set aside. Undefined when neither exists.
 */
export async function resolveCommittedPath(path: string, fs: FsOps = nodeFs): Promise<string | undefined> {
  if ((await pathKind(path, fs)) === 'directory') return path;
  const parent = dirname(path);
  const name = basename(path);
  const aside = (await listDirectory(parent, fs).catch(() => [])).filter((e) => replacedCheckpointName(e) === name).sort();
  return aside.length > 0 ? join(parent, aside[aside.length - 1]!) : undefined;
}

/** True when the temporary's writer may still be running (same process, or a live process with that pid). */
function writerMayBeAlive(entry: string, activeStaging: ReadonlySet<string>): boolean {
  const pid = Number(/(?:\.tmp-|\.old-)(\d+)-[0-9a-f]+$/.exec(entry)?.[1]);
  if (!Number.isInteger(pid)) return false;
  if (pid === process.pid) return activeStaging.has(entry);
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errnoOf(e) === 'EPERM';
  }
}

/**
 * Removes this library's leftovers in `parent`, and only those of checkpoints `isOurs` accepts:
 * staging directories of crashed writers, and set-aside copies whose replacement was committed. A
 * set-aside copy whose replacement never landed is renamed back. Temporaries of live writers stay.
 */
export async function cleanLeftovers(
  parent: string,
  isOurs: (checkpointName: string) => boolean,
  fs: FsOps = nodeFs,
  activeStaging: ReadonlySet<string> = new Set(),
): Promise<string[]> {
  const removed: string[] = [];
  for (const entry of await listDirectory(parent, fs).catch(() => [])) {
    const staged = stagedCheckpointName(entry);
    const replaced = replacedCheckpointName(entry);
    const name = staged ?? replaced;
    if (name === undefined || !isOurs(name) || writerMayBeAlive(entry, activeStaging)) continue;
    const path = join(parent, entry);
    if (replaced !== undefined && (await pathKind(join(parent, replaced), fs)) === 'missing') {
      await fs.rename(path, join(parent, replaced)).catch(() => undefined);
      continue;
    }
    await fs.rm(path, { recursive: true, force: true }).catch(() => undefined);
    removed.push(path);
  }
  return removed;
}
