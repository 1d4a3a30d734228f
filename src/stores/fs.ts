/**
 * The fs store: checkpoints as directories on a local file system (Node), complete or invisible.
 *
 * Commit: every file is written into a temporary sibling `.<name>.tmp-<token>/` and fsynced (on the
 * real file system, the helper thread reads each large file as it is written, checksums it and
 * fsyncs it, beside the next file's bytes), the sibling is renamed onto the checkpoint's name,
 * and the parent directory is fsynced. `checkpoint.json` is written last, so a directory is committed
 * exactly when the rename put it in place with its marker.
 * Replace: the old checkpoint is renamed aside (`.<name>.old-<token>`) first and deleted only once
 * the new one is in place; readers fall back to the newest set-aside copy if a crash lands between
 * the two renames, and the next writer renames it back (`recover`).
 * Delete: rename to a temporary name (invisible at once), fsync the parent, then remove.
 * Pointers: a temporary sibling file, fsynced, renamed over the old one.
 * Reads: each file is opened once (regular files only, never through a symlink); the directory's
 * identity before and after the opens pins the generation.
 * Keys are absolute paths. Every function takes the `FsOps` to use (tests inject faults).
 */
import { constants as fsConstants } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { crc32 } from '../formats/crc32.js';
import { CheckpointError } from '../errors.js';
import { nodeFs, nodeFsNow, type FsOps } from './fs_ops.js';
import { ioError, openCheckpointFile, storedFile, type CheckpointFile } from './fs_files.js';
import { nameTooLong, oldSiblingName, replacedCheckpointName, stagedCheckpointName, tempSiblingName, isTemporaryName, type StoreKey } from './keys.js';
import { GenerationChanged, type ByteChunks, type CheckpointReader, type CheckpointStore, type ListedCheckpoint, type ListOptions, type OpenedFile, type StagedCheckpoint, type StagedFile, type StageOptions, type StoredFile, type WrittenFile } from './store.js';
import { holdTemporary, uniqueToken, writerMayBeAlive } from './writer_identity.js';
import { ALL_WRITTEN, helperAvailable, onHelper, startHelper, WRITE_FAILED, type HelperOps } from './fs_worker.js';
import { WriteLane } from './write_lane.js';
import { openFsFile, StagedFsFile } from './fs_single_file.js';

/** Node refuses single writes of 2 GiB or more; stay well below. */
const MAX_WRITE_BYTES = 1 << 30;

/** The file whose presence makes a directory a committed checkpoint (written last, see store.ts). */
export const COMMIT_MARKER = 'checkpoint.json';

/** Files that make a directory a checkpoint a new save may replace (ours, or a stock TF.js folder). */
const REPLACEABLE_MARKERS = [COMMIT_MARKER, 'model.json', 'weights.json'];

function errnoOf(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

export async function fsyncPath(path: string, fs: FsOps): Promise<void> {
  const handle = await fs.open(path, fsConstants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Buffers per writev call (the usual IOV_MAX). */
const MAX_WRITE_BUFFERS = 1024;

/**
 * Appends `chunks` at the file's position in as few calls as the system allows (writev of up to
 * MAX_WRITE_BUFFERS buffers and MAX_WRITE_BYTES): one wake-up of the main thread per call, where a
 * write per chunk would wake it for each.
 */
export async function writeAllv(handle: FileHandle, chunks: readonly Uint8Array[]): Promise<void> {
  let rest = chunks.filter((c) => c.byteLength > 0);
  while (rest.length > 0) {
    const batch: Uint8Array[] = [];
    let bytes = 0;
    for (const chunk of rest) {
      if (batch.length === MAX_WRITE_BUFFERS || (batch.length > 0 && bytes + chunk.byteLength > MAX_WRITE_BYTES)) break;
      batch.push(chunk);
      bytes += chunk.byteLength;
    }
    if (batch.length === 1 && bytes > MAX_WRITE_BYTES) {
      await writeAll(handle, batch[0]!);
      rest = rest.slice(1);
      continue;
    }
    let { bytesWritten } = await handle.writev(batch);
    if (bytesWritten === 0) throw new Error('the file system accepted no bytes');
    // A partial write: drop what went out, keep the rest of a buffer cut in the middle.
    rest = rest.slice();
    while (bytesWritten > 0) {
      const first = rest[0]!;
      if (bytesWritten >= first.byteLength) {
        bytesWritten -= first.byteLength;
        rest.shift();
      } else {
        rest[0] = first.subarray(bytesWritten);
        bytesWritten = 0;
      }
    }
  }
}

export async function writeAll(handle: FileHandle, chunk: Uint8Array): Promise<void> {
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

/** Whether the directory holds the commit marker (is a committed checkpoint). */
async function hasCommitMarker(path: string, fs: FsOps): Promise<boolean> {
  return (await pathKind(join(path, COMMIT_MARKER), fs).catch(() => 'missing')) === 'file';
}

export async function ensureParent(finalPath: string, fs: FsOps): Promise<void> {
  const parent = dirname(finalPath);
  try {
    const firstCreated = await fs.mkdir(parent, { recursive: true });
    // New directories are durable only once their parents are synced: else a power loss can take the
    // whole run directory (checkpoints and all) with it. The innermost is synced at each commit.
    if (firstCreated !== undefined) {
      for (let dir = parent; dir !== dirname(firstCreated); dir = dirname(dir)) await fsyncPath(dirname(dir), fs);
    }
  } catch (e) {
    throw parentError(finalPath, e);
  }
}

/** Why the folder holding `finalPath` could not be created. */
function parentError(finalPath: string, e: unknown): CheckpointError {
  const parent = dirname(finalPath);
  if (errnoOf(e) === 'EEXIST' || errnoOf(e) === 'ENOTDIR') {
    return new CheckpointError(
      'PATH_CONFLICT',
      `Cannot create the directory ${parent} for ${finalPath}: part of that path is an existing file. Choose another filepath.`,
      { cause: e },
    );
  }
  return ioError('create the directory', parent, e);
}

/** Why a checkpoint folder cannot be written where `what` is. */
function stageRefusal(finalPath: string, what: 'file' | 'other' | 'folder'): CheckpointError {
  if (what === 'folder') {
    return new CheckpointError(
      'PATH_CONFLICT',
      `Please specify a non-directory filepath: ${finalPath} is an existing directory that is not a checkpoint, ` +
        'and replacing it would delete its contents. Choose a filepath that names the checkpoint itself (e.g. add {epoch:02d}).',
    );
  }
  return new CheckpointError(
    'PATH_CONFLICT',
    `Cannot write a checkpoint to ${finalPath}: a file with that name exists, and a checkpoint is a directory. ` +
      'Remove the file or choose another filepath.',
  );
}

/** Attempts at a commit whose name keeps being taken by other writers. */
const MAX_COMMIT_ATTEMPTS = 1000;

export function isTakenError(e: unknown): boolean {
  const code = errnoOf(e);
  return code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'EISDIR';
}

/** Files up to this size are checksummed inline (a worker round trip would cost more than the CRC). */
const INLINE_CRC_BYTES = 1024 * 1024;

/** Why a hard link may fail where writing the bytes would work: the source is gone, or links are not possible there. */
const LINK_IMPOSSIBLE = new Set(['ENOENT', 'EXDEV', 'EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EMLINK', 'ENOSYS']);

/** The chunks one at a time, awaited (a sync iterable may yield promises). */
async function* eachChunk(chunks: ByteChunks): AsyncGenerator<Uint8Array> {
  for await (const chunk of chunks) yield chunk;
}

async function* concatIterables(first: Iterable<Uint8Array>, rest: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  yield* first;
  yield* rest;
}

/**
 * The chunks as one array of their own: a message to another thread copies a view's whole buffer,
 * and a small file's chunk may be a view into a large tensor.
 */
function ownBytes(chunks: readonly Uint8Array[], size: number): Uint8Array {
  const only = chunks[0];
  if (chunks.length === 1 && only && only.byteOffset === 0 && only.byteLength === only.buffer.byteLength) return only;
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return bytes;
}

/** The helper thread's reading of a file as it is written (fs_worker.ts, `checksumAsWritten`). */
interface FollowedWrite {
  result: Promise<HelperOps['checksumAsWritten']['result'] | undefined>;
  /** Tells the helper thread how this thread's writes ended: failed (it stops waiting), or all written. */
  ended(how: typeof WRITE_FAILED | typeof ALL_WRITTEN): void;
}

function followOnHelper(path: string, size: number): FollowedWrite {
  const signal = new Int32Array(new SharedArrayBuffer(4));
  const result = onHelper('checksumAsWritten', { path, size, signal });
  result.catch(() => undefined); // awaited by the caller; not unhandled while the bytes go out
  return {
    result,
    ended(how) {
      Atomics.store(signal, 0, how);
      Atomics.notify(signal, 0);
    },
  };
}

/**
 * A file whose bytes are out: written whole by the helper thread, or open here, its CRC-32 known if
 * computed inline, or being checksummed and fsync'd by the helper thread (`followed`).
 */
type BytesOut = { written: WrittenFile } | { name: string; path: string; where: string; handle: FileHandle; size: number; crc32?: number; followed?: FollowedWrite };

/** A checkpoint directory being written. Nothing is visible at `finalPath` until `commit()`. */
export class StagedDirectory implements StagedCheckpoint {
  readonly overlapsWrites = true;
  private readonly files: WrittenFile[] = [];
  // Each file's bytes go out as soon as it is written, beside the one before (the writer keeps two in
  // flight): inside `fit` the save moves on only between batches, and every write that waits for the
  // previous one to end costs it a batch (src/callbacks/event_loop_turn.ts).
  private readonly lane = new WriteLane<WrittenFile>((written) => this.record(written), { bytesInOrder: false });
  private readonly flushes: Promise<void | CheckpointError>[] = [];
  /** Every name `write` was called with. */
  private readonly names = new Set<string>();
  private done = false;

  private constructor(
    public finalPath: string,
    readonly stagingPath: string,
    private readonly fs: FsOps,
    private readonly release: () => void,
    private readonly claim: ((taken: string) => string) | undefined,
  ) {}

  get key(): StoreKey {
    return this.finalPath;
  }

  static async begin(finalPath: string, fs: FsOps = nodeFs, options: StageOptions = {}): Promise<StagedDirectory> {
    const tooLong = nameTooLong(basename(finalPath), 'Cannot write a checkpoint');
    if (tooLong) throw tooLong;
    const staging = join(dirname(finalPath), tempSiblingName(basename(finalPath), uniqueToken()));
    // Registered before it exists, so no cleanup in this process can take it for a crashed writer's.
    const release = holdTemporary(staging);
    try {
      // The real file system: the checks and folders done before this returns (fs_ops.ts, nodeFsNow).
      await StagedDirectory.prepare(finalPath, staging, fs === nodeFs ? nodeFsNow : fs);
    } catch (e) {
      release();
      throw e;
    }
    return new StagedDirectory(finalPath, staging, fs, release, options.claim);
  }

  /** `begin`'s checks and folders. */
  private static async prepare(finalPath: string, staging: string, fs: FsOps): Promise<void> {
    const kind = await pathKind(finalPath, fs);
    if (kind === 'file' || kind === 'other') throw stageRefusal(finalPath, kind);
    if (kind === 'directory') {
      const entries = await listDirectory(finalPath, fs);
      if (entries.length > 0 && !entries.some((e) => REPLACEABLE_MARKERS.includes(e))) throw stageRefusal(finalPath, 'folder');
    }
    await ensureParent(finalPath, fs);
    try {
      await fs.mkdir(staging);
    } catch (e) {
      throw ioError('create a temporary directory to write', finalPath, e);
    }
  }

  /**
   * Writes one file from its chunks and records its size and CRC-32. Its fsync runs beside the next
   * files' writes (on the helper thread, which checksums the file as its bytes arrive, or started as
   * soon as its bytes are out); `commit()` waits for all of them. Calls may overlap (`overlapsWrites`):
   * a file's bytes go out beside the previous file's; files are recorded in call order (write_lane.ts).
   */
  write(name: string, chunks: ByteChunks): Promise<WrittenFile> {
    // Files go out beside each other, so a second write of one name would race the first for it: it
    // fails at once instead, and the first always wins.
    if (this.names.has(name)) {
      return Promise.reject(ioError('write', join(this.finalPath, name), new Error(`${name} is already being written to this checkpoint`)));
    }
    this.names.add(name);
    return this.lane.run(
      () => this.writeBytes(name, chunks),
      (out) => this.finishFile(out),
    );
  }

  private async writeBytes(name: string, chunks: ByteChunks): Promise<BytesOut> {
    const path = join(this.stagingPath, name);
    const where = join(this.finalPath, name);
    // Where the helper thread can write it (the real file system), up to INLINE_CRC_BYTES of chunks are
    // gathered (views, no copy) before anything is opened: a small file then goes to the helper whole,
    // one step for the main thread instead of an open, writes, an fsync and a close. Elsewhere only the
    // first chunk is taken before the open.
    const toHelper = this.fs === nodeFs && helperAvailable();
    const gather = toHelper ? INLINE_CRC_BYTES : 0;
    const iterator = eachChunk(chunks);
    const head: Uint8Array[] = [];
    let headBytes = 0;
    let ended = false;
    try {
      for (;;) {
        const next = await iterator.next();
        if (next.done) {
          ended = true;
          break;
        }
        head.push(next.value);
        headBytes += next.value.byteLength;
        if (headBytes > gather) break;
      }
      if (ended && toHelper) {
        const done = await onHelper('writeFile', { path, bytes: ownBytes(head, headBytes) });
        if (done) return { written: { name, ...done } };
      }
    } catch (e) {
      throw e instanceof CheckpointError ? e : ioError('write', where, e);
    }
    let size = 0;
    let checksum = 0;
    // Small files are checksummed here as they are written; past INLINE_CRC_BYTES, on the helper
    // thread from the file as written (fs_worker.ts): the main thread never walks a shard's bytes.
    let inline = true;
    let handle: FileHandle | undefined;
    let followed: FollowedWrite | undefined;
    try {
      // On the real file system, opened before this returns: the bytes go out without waiting for a
      // turn of the event loop, which inside `fit` comes only after the next batch (fs_ops.ts).
      handle = await (toHelper ? nodeFsNow : this.fs).open(path, 'wx');
      // Chunks go out in batches of up to MAX_WRITE_BYTES (views, no copy), each batch written while
      // the next one's tensors are read.
      let batch: Uint8Array[] = [];
      let batchBytes = 0;
      let writing: Promise<void> = Promise.resolve();
      const flush = async () => {
        await writing;
        const started = writeAllv(open, batch);
        started.catch(() => undefined); // awaited below; not unhandled while the next chunks are read
        writing = started;
        batch = [];
        batchBytes = 0;
      };
      const open = handle;
      for await (const chunk of ended ? head : concatIterables(head, iterator)) {
        if (inline && size + chunk.byteLength > INLINE_CRC_BYTES && helperAvailable()) inline = false;
        if (inline) checksum = crc32(chunk, checksum);
        size += chunk.byteLength;
        if (batchBytes > 0 && batchBytes + chunk.byteLength > MAX_WRITE_BYTES) await flush();
        batch.push(chunk);
        batchBytes += chunk.byteLength;
      }
      const last = flush();
      // The size is known once the chunks are read, before the bytes are out (for files up to
      // MAX_WRITE_BYTES): from here the helper thread reads the file as it fills, checksums and
      // fsyncs it, so the file is durable without another step from this thread.
      if (toHelper && !inline) followed = followOnHelper(path, size);
      await last;
      await writing;
      followed?.ended(ALL_WRITTEN);
    } catch (e) {
      followed?.ended(WRITE_FAILED);
      // The helper thread is done with the file before the caller may remove it.
      await followed?.result.catch(() => undefined);
      await handle?.close().catch(() => undefined);
      throw e instanceof CheckpointError ? e : ioError('write', where, e);
    }
    return { name, path, where, handle, size, ...(inline ? { crc32: checksum } : {}), ...(followed ? { followed } : {}) };
  }

  /**
   * After a file's bytes are out: the helper thread's checksum and fsync awaited where it followed the
   * write; else its fsync started, and its checksum read back where it was not computed inline.
   */
  private async finishFile(out: BytesOut): Promise<WrittenFile> {
    if ('written' in out) return out.written;
    const { handle, where } = out;
    if (out.followed) {
      try {
        const followed = await out.followed.result;
        if (followed && 'crc32' in followed) {
          await handle.close();
          return { name: out.name, size: out.size, crc32: followed.crc32 };
        }
      } catch (e) {
        await handle.close().catch(() => undefined);
        throw ioError('write', where, e);
      }
      // No helper thread any more: the steps below, on this one.
    }
    const flushed = handle.sync().finally(() => handle.close().catch(() => undefined));
    // Handled here so a failure waits for commit() without being reported as unhandled meanwhile.
    this.flushes.push(flushed.catch((e) => ioError('write', where, e)));
    if (out.crc32 !== undefined) return { name: out.name, size: out.size, crc32: out.crc32 };
    try {
      return { name: out.name, size: out.size, crc32: await this.checksumOf(out.path, out.size) };
    } catch (e) {
      throw e instanceof CheckpointError ? e : ioError('write', where, e);
    }
  }

  private record(written: WrittenFile): WrittenFile {
    this.files.push(written);
    return written;
  }

  /**
   * A file of the committed checkpoint at `from` (already durable), hard-linked in: no bytes written,
   * and the two checkpoints share one inode, so deleting either leaves the other whole. Where links
   * are impossible (another file system, no link support), undefined: the caller writes the bytes.
   */
  async reuse(name: string, from: StoreKey, expected: { size: number; crc32: number }): Promise<WrittenFile | undefined> {
    if (this.done) throw new Error('StagedDirectory already finished');
    if (!this.fs.link) return undefined;
    const source = join(from, name);
    try {
      const info = await this.fs.stat(source);
      if (!info.isFile() || info.size !== expected.size) return undefined;
      await this.fs.link(source, join(this.stagingPath, name));
    } catch (e) {
      if (LINK_IMPOSSIBLE.has((e as NodeJS.ErrnoException)?.code ?? '')) return undefined;
      throw ioError('reuse', join(this.finalPath, name), e);
    }
    return this.record({ name, size: expected.size, crc32: expected.crc32 });
  }

  /** The CRC-32 of the `size` bytes just written to `path`: on the worker thread, or here by reading them back if it is gone. */
  private async checksumOf(path: string, size: number): Promise<number> {
    const fromWorker = await onHelper('checksum', { path });
    if (fromWorker) {
      if (fromWorker.size !== size) throw new Error(`${size} bytes were written but the file holds ${fromWorker.size}`);
      return fromWorker.crc32;
    }
    let checksum = 0;
    const buffer = new Uint8Array(Math.min(size, 8 * 1024 * 1024));
    const reader = await this.fs.open(path, 'r');
    try {
      for (let at = 0; at < size; ) {
        const { bytesRead } = await reader.read(buffer, 0, Math.min(buffer.byteLength, size - at), at);
        if (bytesRead === 0) throw new Error(`the file ended at ${at} of the ${size} bytes written`);
        checksum = crc32(buffer.subarray(0, bytesRead), checksum);
        at += bytesRead;
      }
    } finally {
      await reader.close();
    }
    return checksum;
  }

  /** Waits for every file's fsync; the first failure is thrown. */
  private async flushAll(): Promise<void> {
    for (const result of await Promise.all(this.flushes)) if (result instanceof CheckpointError) throw result;
  }

  written(): readonly WrittenFile[] {
    return this.files;
  }

  /**
   * Makes the checkpoint visible in one rename. When the name is taken by then (another writer
   * committed it meanwhile): with `claim`, commits under the name `claim` gives instead (a version
   * suffix); without, replaces the existing checkpoint, which is never lost on the way.
   */
  async commit(): Promise<StoreKey> {
    const claim = this.claim;
    if (this.done) throw new Error('StagedDirectory already finished');
    this.done = true;
    try {
      await this.flushAll();
      // The real file system: check, fsync, rename and fsync the parent in one step on the helper
      // thread; it hands back a name another writer took meanwhile, for the claim or replacement below.
      const files = this.files.map(({ name, size }) => ({ name, size }));
      const helped = this.fs === nodeFs ? await onHelper('commit', { staging: this.stagingPath, finalPath: this.finalPath, files }) : undefined;
      if (helped && 'committed' in helped) return this.finalPath;
      if (helped && 'lost' in helped) throw this.lostFile(helped.lost);
      if (helped && 'extra' in helped) throw this.extraFiles();
      if (!helped) {
        await this.assertComplete();
        await fsyncPath(this.stagingPath, this.fs);
      }
      for (let attempt = helped ? 1 : 0; ; attempt++) {
        if (attempt > 0) {
          if (claim) {
            const next = claim(this.finalPath);
            const tooLong = nameTooLong(basename(next), 'Cannot write a checkpoint');
            if (tooLong) throw tooLong;
            this.finalPath = next;
          } else if (await this.replaceExisting()) break;
        }
        try {
          await this.fs.rename(this.stagingPath, this.finalPath);
          break;
        } catch (e) {
          if (!isTakenError(e) || attempt >= MAX_COMMIT_ATTEMPTS) throw e;
        }
      }
      await fsyncPath(dirname(this.finalPath), this.fs);
      return this.finalPath;
    } catch (e) {
      await this.fs.rm(this.stagingPath, { recursive: true, force: true }).catch(() => undefined);
      throw e instanceof CheckpointError ? e : ioError('commit the checkpoint', this.finalPath, e);
    } finally {
      this.release();
    }
  }

  /** What is about to become visible must be exactly what was written (another process may have touched it). */
  private async assertComplete(): Promise<void> {
    const present = new Set(await this.fs.readdir(this.stagingPath));
    for (const file of this.files) {
      const size = present.has(file.name) ? (await this.fs.stat(join(this.stagingPath, file.name))).size : undefined;
      if (size !== file.size) throw this.lostFile(file.name);
    }
    if (present.size !== this.files.length) throw this.extraFiles();
  }

  private lostFile(name: string): CheckpointError {
    return new CheckpointError(
      'IO_ERROR',
      `Could not commit ${this.finalPath}: its temporary copy lost ${name} while being written ` +
        '(was it removed by another process?). Nothing was committed; earlier checkpoints are untouched.',
    );
  }

  private extraFiles(): CheckpointError {
    return new CheckpointError('IO_ERROR', `Could not commit ${this.finalPath}: its temporary copy holds files this save did not write. Nothing was committed.`);
  }

  /**
   * Swaps the new checkpoint in for the existing one: the old one is renamed aside first and deleted
   * only once the new one is in place. False when another writer took the name in between (retry).
   */
  private async replaceExisting(): Promise<boolean> {
    const parent = dirname(this.finalPath);
    const aside = join(parent, oldSiblingName(basename(this.finalPath), uniqueToken()));
    const release = holdTemporary(aside);
    try {
      try {
        await this.fs.rename(this.finalPath, aside);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
        throw e;
      }
      try {
        await this.fs.rename(this.stagingPath, this.finalPath);
      } catch (e) {
        // Put the old checkpoint back: a failed replacement must not lose it. If another writer has
        // committed onto the name meanwhile, the set-aside copy is older than that one: drop it.
        try {
          await this.fs.rename(aside, this.finalPath);
        } catch (back) {
          if (isTakenError(back)) await this.fs.rm(aside, { recursive: true, force: true }).catch(() => undefined);
        }
        if (isTakenError(e)) return false;
        throw e;
      }
      await fsyncPath(parent, this.fs);
      await this.fs.rm(aside, { recursive: true, force: true }).catch(() => undefined);
      return true;
    } finally {
      release();
    }
  }

  /** Removes everything written so far; the final path is untouched. */
  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    try {
      await Promise.all(this.flushes);
      await this.fs.rm(this.stagingPath, { recursive: true, force: true }).catch(() => undefined);
    } finally {
      this.release();
    }
  }
}

/** Replaces a small file atomically (temporary sibling, fsync, rename, fsync of the directory). */
export async function writeFileAtomically(path: string, bytes: Uint8Array, fs: FsOps = nodeFs): Promise<void> {
  const tooLong = nameTooLong(basename(path), 'Cannot write');
  if (tooLong) throw tooLong;
  await ensureParent(path, fs);
  const temp = join(dirname(path), tempSiblingName(basename(path), uniqueToken()));
  const release = holdTemporary(temp);
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
  } finally {
    release();
  }
}

/**
 * Deletes a checkpoint so that no reader ever sees it half-deleted: it is first renamed to a
 * temporary name (which every reader ignores and the next writer cleans), then removed.
 */
export async function removeDirectoryAtomically(path: string, fs: FsOps = nodeFs): Promise<void> {
  const doomed = join(dirname(path), tempSiblingName(basename(path), uniqueToken()));
  const release = holdTemporary(doomed);
  try {
    try {
      await fs.rename(path, doomed);
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') return;
      throw ioError('delete the checkpoint', path, e);
    }
    await fsyncPath(dirname(path), fs).catch(() => undefined);
    await fs.rm(doomed, { recursive: true, force: true }).catch(() => undefined);
  } finally {
    release();
  }
}

/**
 * The set-aside rule, which every reader applies: a checkpoint named `name` is the directory `name`,
 * or, when a crash landed between the two renames of a replacement, its newest set-aside copy
 * `.name.old-*` (newest by modification time: the directory of the checkpoint committed last).
 */
export interface CommittedEntry {
  /** The checkpoint's path (its name, even when it is read from a set-aside copy). */
  path: string;
  /** Where its files are now. */
  location: string;
}

/** The set-aside copies in a listing whose checkpoint name is missing from it, by that name. */
function orphanedAsides(names: readonly string[]): Map<string, string[]> {
  const present = new Set(names);
  const out = new Map<string, string[]>();
  for (const entry of names) {
    const replaced = replacedCheckpointName(entry);
    if (replaced === undefined || present.has(replaced)) continue;
    out.set(replaced, [...(out.get(replaced) ?? []), entry]);
  }
  return out;
}

/** Of several set-aside copies of one checkpoint, the newest (the one committed last); ties to the name. */
async function newestCopy(parent: string, entries: readonly string[], fs: FsOps): Promise<string | undefined> {
  let best: { entry: string; mtime: bigint } | undefined;
  for (const entry of entries) {
    let mtime: bigint;
    try {
      mtime = (await fs.stat(join(parent, entry), { bigint: true })).mtimeNs;
    } catch {
      continue; // removed meanwhile: its replacement has landed
    }
    if (!best || mtime > best.mtime || (mtime === best.mtime && entry > best.entry)) best = { entry, mtime };
  }
  return best?.entry;
}

/** The committed entries of a directory listing: every plain name, plus the newest set-aside copy of each missing name. */
export async function committedEntries(parent: string, names: readonly string[], fs: FsOps = nodeFs): Promise<CommittedEntry[]> {
  const out: CommittedEntry[] = [];
  for (const entry of names) {
    if (stagedCheckpointName(entry) !== undefined || replacedCheckpointName(entry) !== undefined) continue;
    out.push({ path: join(parent, entry), location: join(parent, entry) });
  }
  for (const [name, copies] of orphanedAsides(names)) {
    // No copy left: the replacement landed since the listing, and the checkpoint is at its name again.
    const newest = await newestCopy(parent, copies, fs);
    out.push({ path: join(parent, name), location: join(parent, newest ?? name) });
  }
  return out;
}

/**
 * Where a committed checkpoint named `path` can be read (see committedEntries); undefined when nowhere.
 * A replacement may finish while we look (the set-aside copy removed, the new one in place): look again.
 */
export async function resolveCommittedPath(path: string, fs: FsOps = nodeFs): Promise<string | undefined> {
  const parent = dirname(path);
  const name = basename(path);
  for (let attempt = 0; attempt < 3; attempt++) {
    if ((await pathKind(path, fs)) === 'directory') return path;
    const names = (await listDirectory(parent, fs).catch(() => [] as string[])).filter((e) => replacedCheckpointName(e) === name);
    const newest = await newestCopy(parent, names, fs);
    if (newest !== undefined && (await pathKind(join(parent, newest), fs)) === 'directory') return join(parent, newest);
  }
  return (await pathKind(path, fs)) === 'directory' ? path : undefined;
}

/**
 * Removes this library's leftovers in `parent`, and only those of names `isOurs` accepts: temporaries
 * of writers that are gone, and set-aside copies whose replacement was committed. When a checkpoint
 * is missing and only set-aside copies of it remain, the newest is renamed back.
 */
export async function recoverDirectory(parent: string, isOurs: (checkpointName: string) => boolean, fs: FsOps = nodeFs): Promise<string[]> {
  const removed: string[] = [];
  const names = await listDirectory(parent, fs).catch(() => [] as string[]);
  const orphans = orphanedAsides(names);
  for (const [name, copies] of orphans) {
    if (!isOurs(name) || copies.some((entry) => writerMayBeAlive(join(parent, entry), entry))) continue;
    const newest = await newestCopy(parent, copies, fs);
    if (newest !== undefined) await fs.rename(join(parent, newest), join(parent, name)).catch(() => undefined);
  }
  for (const entry of await listDirectory(parent, fs).catch(() => [] as string[])) {
    const name = stagedCheckpointName(entry) ?? replacedCheckpointName(entry);
    const path = join(parent, entry);
    if (name === undefined || !isOurs(name) || writerMayBeAlive(path, entry)) continue;
    // A set-aside copy whose checkpoint is missing again (the put-back failed) waits for the next writer.
    if (replacedCheckpointName(entry) !== undefined && (await pathKind(join(parent, name), fs)) === 'missing') continue;
    await fs.rm(path, { recursive: true, force: true }).catch(() => undefined);
    removed.push(path);
  }
  return removed;
}

/** A directory's identity: a renamed directory gets a new change time, and a freed inode can be reused by the next generation. */
async function directoryIdentity(dir: string, fs: FsOps): Promise<string | undefined> {
  const s = await fs.stat(dir, { bigint: true });
  return s.isDirectory() ? `${dir}\0${s.dev}:${s.ino}:${s.ctimeNs}:${s.birthtimeNs}` : undefined;
}

/**
 * Which generation of a checkpoint `path` shows: the directory it resolves to (itself, or the
 * set-aside copy during a replacement) and that directory's identity. Undefined when nothing is there;
 * a GenerationChanged error when a replacement keeps moving it while we look.
 */
async function currentGeneration(path: string, fs: FsOps): Promise<{ dir: string; id: string } | undefined> {
  // The common case in one call: the path is the checkpoint directory.
  const direct = await directoryIdentity(path, fs).catch(() => undefined);
  if (direct) return { dir: path, id: direct };
  for (let attempt = 0; attempt < 3; attempt++) {
    const dir = await resolveCommittedPath(path, fs);
    if (dir === undefined) {
      if ((await pathKind(path, fs)) === 'file') {
        throw new CheckpointError('PATH_CONFLICT', `${path} is a file; a checkpoint is a directory holding model.json or weights.json.`);
      }
      return undefined;
    }
    try {
      const id = await directoryIdentity(dir, fs);
      if (id) return { dir, id };
    } catch (e) {
      const code = errnoOf(e);
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw ioError('inspect', dir, e);
      // renamed away since it was resolved: look again
    }
  }
  throw new GenerationChanged(path);
}

/**
 * The files of one generation of a checkpoint directory, each opened once and kept open until
 * `close()`: an open file keeps its contents when it is renamed or deleted, so what is read from it
 * belongs to the generation it was opened in, and `confirm()` checks that the path still shows the
 * generation this reader began with.
 */
class FsReader implements CheckpointReader {
  private readonly handles: Promise<CheckpointFile | undefined>[] = [];

  constructor(
    private readonly path: string,
    readonly where: string,
    private readonly id: string,
    private readonly fs: FsOps,
  ) {}

  async open(name: string): Promise<StoredFile | undefined> {
    // Past the marker, a load or a verify is under way: start the thread that will checksum its files
    // now, while the manifests are read. Callers that only read the marker (list, latest) never start it.
    if (name !== COMMIT_MARKER) startHelper('waited');
    const path = join(this.where, name);
    const opening = openCheckpointFile(path, this.fs).catch((e) => {
      if (errnoOf(e) === 'ENOENT') return undefined;
      throw e;
    });
    this.handles.push(opening.catch(() => undefined));
    const file = await opening;
    return file && storedFile(file, path);
  }

  async confirm(): Promise<void> {
    const now = await currentGeneration(this.path, this.fs).catch(() => undefined);
    if (now?.id !== this.id) throw new GenerationChanged(this.path);
  }

  async close(): Promise<void> {
    const files = await Promise.all(this.handles);
    await Promise.all(files.map((file) => file?.handle.close().catch(() => undefined)));
  }
}

/** Where a listed entry's checkpoint is now, if it is a committed one (a replacement may move it while we look). */
async function committedLocation(entry: CommittedEntry, fs: FsOps): Promise<string | undefined> {
  let location: string | undefined = entry.location;
  for (let attempt = 0; attempt < 3 && location !== undefined; attempt++) {
    if (await hasCommitMarker(location, fs)) return location;
    location = await resolveCommittedPath(entry.path, fs);
  }
  return undefined;
}

export class FsStore implements CheckpointStore {
  readonly scheme = 'file';

  constructor(readonly fs: FsOps = nodeFs) {}

  stage(key: StoreKey, options: StageOptions = {}): Promise<StagedCheckpoint> {
    return StagedDirectory.begin(key, this.fs, options);
  }

  async open(key: StoreKey): Promise<CheckpointReader | undefined> {
    const generation = await currentGeneration(key, this.fs);
    return generation && new FsReader(key, generation.dir, generation.id, this.fs);
  }

  stageFile(key: StoreKey, options: StageOptions = {}): Promise<StagedFile> {
    return StagedFsFile.begin(key, this.fs, options);
  }

  openFile(key: StoreKey): Promise<OpenedFile | undefined> {
    return openFsFile(key, this.fs);
  }

  async list(prefix: StoreKey, { depth, accept = () => true, files }: ListOptions): Promise<ListedCheckpoint[]> {
    let parents = [prefix];
    for (let level = 0; level < depth - 1; level++) {
      const next: string[] = [];
      for (const parent of parents) {
        for (const name of await listDirectory(parent, this.fs)) {
          if (!isTemporaryName(name) && accept(level, name)) next.push(join(parent, name));
        }
      }
      parents = next;
    }
    const out: ListedCheckpoint[] = [];
    for (const parent of parents) {
      const names = (await listDirectory(parent, this.fs)).filter((name) => {
        const checkpoint = isTemporaryName(name) ? (stagedCheckpointName(name) ?? replacedCheckpointName(name)) : name;
        return checkpoint !== undefined && accept(depth - 1, checkpoint);
      });
      for (const entry of await committedEntries(parent, names, this.fs)) {
        if (files?.(basename(entry.path)) && entry.path === entry.location) {
          const stats = await this.fs.stat(entry.path, { bigint: true }).catch(() => undefined);
          if (stats?.isFile()) {
            out.push({ key: entry.path, file: true, modifiedNs: stats.mtimeNs });
            continue;
          }
        }
        const location = await committedLocation(entry, this.fs);
        if (location === undefined) continue;
        const { mtimeNs } = await this.fs.stat(location, { bigint: true }).catch(() => ({ mtimeNs: 0n }));
        out.push({ key: entry.path, modifiedNs: mtimeNs });
      }
    }
    return out;
  }

  async exists(key: StoreKey): Promise<boolean> {
    return (await pathKind(key, this.fs)) !== 'missing';
  }

  remove(key: StoreKey): Promise<void> {
    return removeDirectoryAtomically(key, this.fs);
  }

  async readSmall(key: StoreKey, maxBytes: number): Promise<Uint8Array | undefined> {
    let file: CheckpointFile;
    try {
      file = await openCheckpointFile(key, this.fs);
    } catch (e) {
      if (errnoOf(e) === 'ENOENT' || errnoOf(e) === 'ENOTDIR') return undefined;
      throw e;
    }
    try {
      if (file.size > maxBytes) throw new CheckpointError('CORRUPT_CHECKPOINT', `${key} is ${file.size} bytes, more than the ${maxBytes} it may have.`);
      const bytes = new Uint8Array(file.size);
      await storedFile(file, key).read(bytes, 0, file.size, 0);
      return bytes;
    } finally {
      await file.handle.close().catch(() => undefined);
    }
  }

  writeSmall(key: StoreKey, bytes: Uint8Array): Promise<void> {
    return writeFileAtomically(key, bytes, this.fs);
  }

  async removeSmall(key: StoreKey): Promise<void> {
    await this.fs.rm(key, { force: true });
  }

  recover(dir: StoreKey, isOurs: (name: string) => boolean): Promise<StoreKey[]> {
    return recoverDirectory(dir, isOurs, this.fs);
  }
}
