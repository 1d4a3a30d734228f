/**
 * Single-file checkpoints on the fs store (`.safetensors`, `.h5`, `.keras`): the file is written to a
 * temporary sibling `.<name>.tmp-<token>` and fsynced, then put at its name in one step, then the
 * directory is fsynced. Replacing is one rename(2), which swaps the file atomically (readers holding
 * the old one keep reading it); claiming a free name is link(2), which fails when the name is taken,
 * so two writers never take the same name. Temporaries are cleaned by `recover` like a folder's.
 */
import type { FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CheckpointError } from '../errors.js';
import { crc32 } from '../formats/crc32.js';
import { ensureParent, fsyncPath, isTakenError, pathKind, writeAll } from './fs.js';
import { ioError, openCheckpointFile, storedFile } from './fs_files.js';
import type { FsOps } from './fs_ops.js';
import { nameTooLong, tempSiblingName, type StoreKey } from './keys.js';
import type { ByteChunks, OpenedFile, StagedFile, StageOptions, WrittenFile } from './store.js';
import { holdTemporary, uniqueToken } from './writer_identity.js';

/** Read-back slices of `writeLocal`. */
const READ_BACK_BYTES = 8 * 1024 * 1024;

/** Attempts at a claim whose names keep being taken by other writers. */
const MAX_CLAIMS = 1000;

/** What link(2) answers on file systems that have no hard links (FAT, some network and FUSE mounts). */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EXDEV', 'ENOSYS']);

async function assertFilePlace(path: string, fs: FsOps): Promise<void> {
  const kind = await pathKind(path, fs);
  if (kind === 'directory' || kind === 'other') {
    throw new CheckpointError(
      'PATH_CONFLICT',
      `Cannot write a checkpoint file to ${path}: a ${kind === 'directory' ? 'directory' : 'non-regular file'} with that name exists. ` +
        'Remove it or choose another filepath.',
    );
  }
}

export class StagedFsFile implements StagedFile {
  private handle: FileHandle | undefined;
  private written: WrittenFile | undefined;
  private done = false;

  private constructor(
    private finalPath: string,
    private readonly tempPath: string,
    private fs: FsOps,
    private readonly release: () => void,
    private readonly claim: ((taken: string) => string) | undefined,
  ) {}

  get key(): StoreKey {
    return this.finalPath;
  }

  static async begin(finalPath: string, fs: FsOps, options: StageOptions = {}): Promise<StagedFsFile> {
    const tooLong = nameTooLong(basename(finalPath), 'Cannot write a checkpoint');
    if (tooLong) throw tooLong;
    await assertFilePlace(finalPath, fs);
    await ensureParent(finalPath, fs);
    const temp = join(dirname(finalPath), tempSiblingName(basename(finalPath), uniqueToken()));
    // Registered before it exists, so no cleanup in this process can take it for a crashed writer's.
    const release = holdTemporary(temp);
    const staged = new StagedFsFile(finalPath, temp, fs, release, options.claim);
    try {
      staged.handle = await fs.open(temp, 'wx');
    } catch (e) {
      release();
      throw ioError('create a temporary file to write', finalPath, e);
    }
    return staged;
  }

  async write(chunks: ByteChunks): Promise<WrittenFile> {
    const handle = this.handle;
    if (this.done || !handle || this.written) throw new Error('This staged file was written, committed or aborted already.');
    let size = 0;
    let checksum = 0;
    try {
      for await (const chunk of chunks) {
        const writing = writeAll(handle, chunk);
        checksum = crc32(chunk, checksum); // while the thread pool writes
        size += chunk.byteLength;
        await writing;
      }
      await handle.sync();
    } catch (e) {
      throw e instanceof CheckpointError ? e : ioError('write', this.finalPath, e);
    }
    this.written = { name: basename(this.finalPath), size, crc32: checksum };
    return this.written;
  }

  async writeLocal(fill: (path: string) => Promise<void>): Promise<WrittenFile> {
    if (this.done || !this.handle || this.written) throw new Error('This staged file was written, committed or aborted already.');
    await this.handle.close();
    this.handle = undefined;
    try {
      await fill(this.tempPath);
      // Checked as it is read back (from the page cache): what was recorded is what is on disk.
      const file = await openCheckpointFile(this.tempPath, this.fs);
      this.handle = file.handle;
      const buffer = new Uint8Array(Math.min(READ_BACK_BYTES, Math.max(file.size, 1)));
      let checksum = 0;
      for (let at = 0; at < file.size; ) {
        const { bytesRead } = await file.handle.read(buffer, 0, Math.min(buffer.byteLength, file.size - at), at);
        if (bytesRead === 0) break;
        checksum = crc32(buffer.subarray(0, bytesRead), checksum);
        at += bytesRead;
      }
      await file.handle.sync();
      this.written = { name: basename(this.finalPath), size: file.size, crc32: checksum };
      return this.written;
    } catch (e) {
      throw e instanceof CheckpointError ? e : ioError('write', this.finalPath, e);
    }
  }

  async commit(): Promise<StoreKey> {
    if (this.done) throw new Error('This staged file was committed or aborted already.');
    this.done = true;
    try {
      if (!this.written) throw new Error('Nothing was written to this staged file.');
      // (fsync'd by write/writeLocal; an O_RDONLY handle may be open after writeLocal)
      await this.handle!.close();
      this.handle = undefined;
      if (this.claim) await this.claimName(this.claim);
      else {
        await assertFilePlace(this.finalPath, this.fs);
        await this.fs.rename(this.tempPath, this.finalPath);
      }
      await fsyncPath(dirname(this.finalPath), this.fs);
      return this.finalPath;
    } catch (e) {
      await this.discard();
      throw e instanceof CheckpointError ? e : ioError('commit the checkpoint', this.finalPath, e);
    } finally {
      this.release();
    }
  }

  /** Puts the file at the first free name: link(2) fails on a taken name, so a name is never taken twice. */
  private async claimName(claim: (taken: string) => string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        if (this.fs.link) {
          await this.fs.link(this.tempPath, this.finalPath);
          await this.fs.rm(this.tempPath, { force: true });
          return;
        }
        if ((await pathKind(this.finalPath, this.fs)) === 'missing') {
          await this.fs.rename(this.tempPath, this.finalPath);
          return;
        }
      } catch (e) {
        if (NO_HARD_LINKS.has((e as NodeJS.ErrnoException).code ?? '') && this.fs.link) {
          this.fs = { ...this.fs, link: undefined }; // a file system without hard links: check, then rename
          continue;
        }
        if (!isTakenError(e) || attempt >= MAX_CLAIMS) throw e;
      }
      const next = claim(this.finalPath);
      const tooLong = nameTooLong(basename(next), 'Cannot write a checkpoint');
      if (tooLong) throw tooLong;
      this.finalPath = next;
    }
  }

  private async discard(): Promise<void> {
    await this.handle?.close().catch(() => undefined);
    this.handle = undefined;
    await this.fs.rm(this.tempPath, { force: true }).catch(() => undefined);
  }

  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    try {
      await this.discard();
    } finally {
      this.release();
    }
  }
}

/** Opens the file at `path` (a regular file, never through a symlink); undefined when absent. */
export async function openFsFile(path: string, fs: FsOps): Promise<OpenedFile | undefined> {
  const kind = await pathKind(path, fs);
  if (kind === 'missing') return undefined;
  if (kind === 'directory') {
    throw new CheckpointError('PATH_CONFLICT', `${path} is a directory; a checkpoint in this format is a single file. Open the directory as a TF.js checkpoint instead.`);
  }
  let file;
  try {
    file = await openCheckpointFile(path, fs);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  const stored = storedFile(file, path);
  return { where: path, localPath: path, size: stored.size, read: stored.read, close: () => file.handle.close().catch(() => undefined) };
}
