/**
 * The Origin Private File System store (`opfs://dir/name-{epoch}`): checkpoints as real folders and
 * files in the origin's private file system, streamed in (no model-sized buffer), read by range.
 *
 * OPFS can move a file (also onto an existing name, replacing it in one step) but not a directory,
 * and has no fsync: a writable stream's `close()` is what makes a file's bytes durable and visible.
 * So the folder commit is: files are written into a temporary sibling folder `.<name>.tmp-<token>`;
 * then, holding the folder's Web Lock (commits in one folder never interleave, in any tab):
 *   1. a placeholder `.checkpoint.json.tmp-<token>` is created in the target folder (it says "a
 *      commit of writer <token> is under way here");
 *   2. when replacing, the old checkpoint's marker and then its files move to `.<name>.old-<token>`;
 *   3. the new files move in, `checkpoint.json` last (the commit point); the set-aside folder, the
 *      placeholder and the temporary folder are removed.
 * A checkpoint is committed exactly when its `checkpoint.json` is present. A tab closed anywhere in
 * that sequence leaves the writer's lock released, and `recover` finishes the job: it puts a set-aside
 * checkpoint back when the new one did not arrive, removes a target folder a dead writer was filling,
 * and deletes temporaries. Deletion also takes a placeholder first, then removes the marker, then the
 * folder. Single files and pointers are written under a temporary name and moved onto their name.
 *
 * In a dedicated worker, files are written through synchronous access handles (see writeFile): a
 * temporary file is the writer's own, so the handle's exclusive lock never stands in a reader's way.
 *
 * Readers hold File snapshots: a file replaced after its snapshot was taken cannot be read
 * (NotReadableError), which becomes REPLACED_WHILE_READING; `confirm()` compares the marker's bytes
 * with those seen at `open`.
 */
import { CheckpointError, CorruptCheckpointError } from '../errors.js';
import { crc32 } from '../formats/crc32.js';
import { crcStream } from './crc_offload.js';
import { assertFits, holdWriter, isQuotaError, quotaError, withLock, writersAlive, writerToken } from './browser_storage.js';
import { isTemporaryName, joinKey, keyBasename, keyDirname, oldSiblingName, OLD_MARK, TEMP_MARK, tempSiblingName, type StoreKey } from './keys.js';
import { stagedCheckpoint, stagedFile } from './staged.js';
import {
  GenerationChanged,
  type ByteChunks,
  type CheckpointReader,
  type CheckpointStore,
  type ListedCheckpoint,
  type ListOptions,
  type OpenedFile,
  type StagedCheckpoint,
  type StagedFile,
  type StageOptions,
  type StoredFile,
} from './store.js';

export type OpfsStep = 'stage' | 'write' | 'commit' | 'move' | 'remove' | 'writeSmall' | 'removeSmall';

export interface OpfsStoreOptions {
  /** The folder of the origin's private file system that `opfs:///` means (default: its root). */
  root?: () => Promise<FileSystemDirectoryHandle>;
  /** Called before each step; throwing fails it (fault injection for tests). */
  faults?: (step: OpfsStep, key: StoreKey) => void;
  /**
   * How files are written. `'auto'` (default): through a synchronous access handle where the runtime
   * offers one (a dedicated worker), which writes straight into the file with no stream or copy; else
   * through a writable stream. `'stream'`: always the stream (for comparison).
   */
  writeWith?: 'auto' | 'stream';
}

const COMMIT_MARKER = 'checkpoint.json';

type Found = { kind: 'directory'; handle: FileSystemDirectoryHandle } | { kind: 'file'; handle: FileSystemFileHandle };

function errorName(e: unknown): string | undefined {
  return (e as { name?: string })?.name;
}

/** The entry `name` of `dir`, of either kind; undefined when there is none. */
async function entryOf(dir: FileSystemDirectoryHandle, name: string): Promise<Found | undefined> {
  try {
    return { kind: 'directory', handle: await dir.getDirectoryHandle(name) };
  } catch (e) {
    if (errorName(e) !== 'TypeMismatchError' && errorName(e) !== 'NotFoundError') throw e;
    if (errorName(e) === 'NotFoundError') return undefined;
  }
  return { kind: 'file', handle: await dir.getFileHandle(name) };
}

async function fileOf(dir: FileSystemDirectoryHandle, name: string): Promise<FileSystemFileHandle | undefined> {
  const found = await entryOf(dir, name);
  return found?.kind === 'file' ? found.handle : undefined;
}

async function names(dir: FileSystemDirectoryHandle): Promise<Map<string, Found>> {
  const out = new Map<string, Found>();
  for await (const [name, handle] of (dir as unknown as { entries(): AsyncIterable<[string, FileSystemHandle]> }).entries()) {
    out.set(name, handle.kind === 'directory' ? { kind: 'directory', handle: handle as FileSystemDirectoryHandle } : { kind: 'file', handle: handle as FileSystemFileHandle });
  }
  return out;
}

async function bytesOf(handle: FileSystemFileHandle): Promise<Uint8Array> {
  return new Uint8Array(await (await handle.getFile()).arrayBuffer());
}

/** The files directly in `dir` that are not temporaries. */
async function plainFiles(dir: FileSystemDirectoryHandle): Promise<Map<string, FileSystemFileHandle>> {
  const out = new Map<string, FileSystemFileHandle>();
  for (const [name, found] of await names(dir)) if (found.kind === 'file' && !isTemporaryName(name) && !name.endsWith('.crswap')) out.set(name, found.handle);
  return out;
}

/** A file handle in a dedicated worker, where synchronous access handles exist (not yet in TypeScript's DOM types for every target). */
interface SyncCapableHandle extends FileSystemFileHandle {
  createSyncAccessHandle(): Promise<{ write(buffer: Uint8Array, options: { at: number }): number; truncate(size: number): void; flush(): void; close(): void }>;
}

/** Writes `chunks` into the file through a writable stream; its bytes are in place once `close()` resolves. */
async function writeThroughStream(handle: FileSystemFileHandle, chunks: ByteChunks): Promise<{ size: number; crc32: number }> {
  let size = 0;
  // On a page, checksummed on the CRC worker (a copy of each chunk goes there: cheaper than the CRC).
  const checksum = await crcStream();
  const writable = await handle.createWritable();
  try {
    for await (const chunk of chunks) {
      checksum.update(chunk, false);
      size += chunk.byteLength;
      await writable.write(chunk as Uint8Array<ArrayBuffer>);
    }
    await writable.close();
  } catch (e) {
    await writable.abort().catch(() => undefined);
    throw e;
  }
  return { size, crc32: await checksum.digest() };
}

/** Writes `chunks` into the file in place, synchronously per chunk, then flushes: no stream, no swap file, no copy. */
async function writeThroughSyncHandle(handle: SyncCapableHandle, chunks: ByteChunks): Promise<{ size: number; crc32: number }> {
  let size = 0;
  let checksum = 0;
  const access = await handle.createSyncAccessHandle();
  try {
    access.truncate(0);
    for await (const chunk of chunks) {
      checksum = crc32(chunk, checksum);
      for (let done = 0; done < chunk.byteLength; ) {
        const wrote = access.write(chunk.subarray(done), { at: size + done });
        if (wrote <= 0) throw new DOMException('The file system accepted no more bytes.', 'QuotaExceededError');
        done += wrote;
      }
      size += chunk.byteLength;
    }
    access.flush();
  } finally {
    access.close();
  }
  return { size, crc32: checksum };
}

function moveFile(handle: FileSystemFileHandle, dir: FileSystemDirectoryHandle, name: string): Promise<void> {
  return (handle as unknown as { move(dir: FileSystemDirectoryHandle, name: string): Promise<void> }).move(dir, name);
}

/** The writer token in a temporary's name (`.<name>.tmp-<token>`, `.<name>.old-<token>`). */
function tokenOf(name: string): string | undefined {
  const at = Math.max(name.lastIndexOf(TEMP_MARK), name.lastIndexOf(OLD_MARK));
  return at > 0 ? name.slice(at + TEMP_MARK.length) : undefined;
}

function placeholderName(token: string): string {
  return tempSiblingName(COMMIT_MARKER, token);
}

export class OpfsStore implements CheckpointStore {
  readonly scheme = 'opfs';

  constructor(private readonly options: OpfsStoreOptions = {}) {}

  /** How messages show a key (under the scheme it is usually registered as). */
  show(key: StoreKey): string {
    return `opfs:/${key}`;
  }

  /** @internal */
  step(step: OpfsStep, key: StoreKey): void {
    try {
      this.options.faults?.(step, key);
    } catch (e) {
      throw new CheckpointError('IO_ERROR', `Could not ${step} ${this.show(key)}: ${(e as Error)?.message ?? String(e)}. Earlier checkpoints are untouched.`, { cause: e });
    }
  }

  private async root(): Promise<FileSystemDirectoryHandle> {
    if (this.options.root) return this.options.root();
    const storage = (globalThis as { navigator?: { storage?: { getDirectory?: () => Promise<FileSystemDirectoryHandle> } } }).navigator?.storage;
    if (typeof storage?.getDirectory !== 'function') {
      throw new CheckpointError('UNSUPPORTED_FORMAT', 'opfs:// needs the Origin Private File System (navigator.storage.getDirectory), which this runtime does not have. Use indexeddb:// or memory:// here.');
    }
    try {
      return await storage.getDirectory();
    } catch (e) {
      throw new CheckpointError('IO_ERROR', `Could not open the Origin Private File System: ${(e as Error)?.message ?? String(e)}. Is storage blocked for this site (private mode, settings)?`, { cause: e });
    }
  }

  /** The folder at `key`; undefined when it (or an ancestor) is missing. A file on the way is a PATH_CONFLICT. */
  private async dirAt(key: StoreKey, create = false): Promise<FileSystemDirectoryHandle | undefined> {
    let dir = await this.root();
    let at = '';
    for (const segment of key.split('/').filter(Boolean)) {
      at += `/${segment}`;
      try {
        dir = await dir.getDirectoryHandle(segment, { create });
        if (at !== key && (await fileOf(dir, COMMIT_MARKER))) {
          throw new CheckpointError('PATH_CONFLICT', `Cannot use ${this.show(key)}: ${this.show(at)} is a checkpoint, not a folder. Choose another path.`);
        }
      } catch (e) {
        if (e instanceof CheckpointError) throw e;
        if (errorName(e) === 'NotFoundError') return undefined;
        if (errorName(e) === 'TypeMismatchError') throw new CheckpointError('PATH_CONFLICT', `Cannot use ${this.show(key)}: ${this.show(at)} is a file, not a folder. Choose another path.`);
        throw e;
      }
    }
    return dir;
  }

  /** The parent folder of `key` and what is at `key` in it. */
  private async at(key: StoreKey): Promise<{ parent: FileSystemDirectoryHandle | undefined; found: Found | undefined }> {
    const parent = await this.dirAt(keyDirname(key));
    return { parent, found: parent && (await entryOf(parent, keyBasename(key))) };
  }

  /**
   * Why a checkpoint folder cannot go in `found` (what is at its key now); undefined when it can.
   * Before staging (`when: 'stage'`, outside the folder's lock) a folder holding a commit placeholder
   * is another writer's commit or deletion under way, half moved in: the check under the lock at
   * commit time decides, once that writer is done.
   */
  private async folderConflict(key: StoreKey, found: Found | undefined, when: 'stage' | 'commit'): Promise<CheckpointError | undefined> {
    if (!found) return undefined;
    if (found.kind === 'file') return new CheckpointError('PATH_CONFLICT', `Cannot write a checkpoint to ${this.show(key)}: an object with that name exists. Remove it or choose another filepath.`);
    const entries = [...(await names(found.handle)).keys()];
    if (entries.includes(COMMIT_MARKER) || entries.every((name) => isTemporaryName(name))) return undefined;
    if (when === 'stage' && entries.some((name) => tokenOf(name) !== undefined && name.startsWith(`.${COMMIT_MARKER}${TEMP_MARK}`))) return undefined;
    return new CheckpointError(
      'PATH_CONFLICT',
      `Please specify a non-directory filepath: ${this.show(key)} is a folder that is not a checkpoint, and replacing it would hide its contents. ` +
        'Choose a filepath that names the checkpoint itself (e.g. add {epoch:02d}).',
    );
  }

  private fileConflict(key: StoreKey, found: Found | undefined): CheckpointError | undefined {
    if (found?.kind !== 'directory') return undefined;
    return new CheckpointError('PATH_CONFLICT', `Cannot write a checkpoint file to ${this.show(key)}: a folder, checkpoint or object has that name. Remove it or choose another filepath.`);
  }

  /** @internal Turns a browser refusal into the clear error (quota) or passes it on. */
  async failed(e: unknown, key: StoreKey, bytes: number | undefined): Promise<never> {
    if (isQuotaError(e)) throw await quotaError(e, this.show(key), bytes);
    throw e;
  }

  /**
   * What a checkpoint and a single file share before their first byte: the step hook, the conflict
   * check, the quota check, the writer's lock, and the parent folder with the temporary name; `make`
   * builds the staged object, and a failure there releases the lock.
   */
  private async begin<T>(key: StoreKey, options: StageOptions, conflict: (found: Found | undefined) => Promise<CheckpointError | undefined> | CheckpointError | undefined, make: (parent: FileSystemDirectoryHandle, tempName: string, token: string, release: () => void) => Promise<T>): Promise<T> {
    this.step('stage', key);
    const refused = await conflict((await this.at(key)).found);
    if (refused) throw refused;
    await assertFits(options.expectedBytes, this.show(key));
    const token = writerToken();
    const release = await holdWriter(token);
    try {
      const parent = (await this.dirAt(keyDirname(key), true))!;
      return await make(parent, tempSiblingName(keyBasename(key), token), token, release);
    } catch (e) {
      release();
      return this.failed(e, key, options.expectedBytes);
    }
  }

  async stage(key: StoreKey, options: StageOptions = {}): Promise<StagedCheckpoint> {
    return this.begin(key, options, (found) => this.folderConflict(key, found, 'stage'), async (parent, tempName, token, release) => {
      const temp = await parent.getDirectoryHandle(tempName, { create: true });
      return stagedCheckpoint(key, {
        write: (name, chunks) => {
          this.step('write', joinKey(key, name));
          return this.writeFile(temp, name, chunks, key, options.expectedBytes);
        },
        commit: (at) => this.commitFolder(at, token, parent, temp, options.claim),
        discard: () => parent.removeEntry(tempName, { recursive: true }).catch(() => undefined),
        release,
      });
    });
  }

  /** @internal Streams `chunks` into a new file `name` of `dir`; returns its size and CRC-32. */
  async writeFile(dir: FileSystemDirectoryHandle, name: string, chunks: ByteChunks, key: StoreKey, expectedBytes: number | undefined): Promise<{ size: number; crc32: number }> {
    try {
      const handle = await dir.getFileHandle(name, { create: true });
      const sync = this.options.writeWith !== 'stream' && typeof (handle as SyncCapableHandle).createSyncAccessHandle === 'function';
      return await (sync ? writeThroughSyncHandle(handle as SyncCapableHandle, chunks) : writeThroughStream(handle, chunks));
    } catch (e) {
      return this.failed(e, key, expectedBytes);
    }
  }

  /** @internal Puts the staged files of `temp` at `key` (or the key `claim` gives), marker last; see the top of this file. */
  async commitFolder(key: StoreKey, token: string, parent: FileSystemDirectoryHandle, temp: FileSystemDirectoryHandle, claim: ((taken: StoreKey) => StoreKey) | undefined): Promise<StoreKey> {
    this.step('commit', key);
    return withLock(this.lockName(keyDirname(key)), async () => {
      let target = key;
      let found = await entryOf(parent, keyBasename(target));
      while (claim && found?.kind === 'directory' && (await fileOf(found.handle, COMMIT_MARKER))) {
        target = claim(target);
        found = await entryOf(parent, keyBasename(target));
      }
      const refused = await this.folderConflict(target, found, 'commit');
      if (refused) throw new CheckpointError('PATH_CONFLICT', `Cannot commit ${this.show(target)}: ${refused.message} Nothing was committed.`);
      const name = keyBasename(target);
      const dir = await parent.getDirectoryHandle(name, { create: true });
      await dir.getFileHandle(placeholderName(token), { create: true });
      try {
        await this.moveIn(target, parent, dir, token, temp);
      } catch (e) {
        // Put things back as recover would: the old checkpoint if it was set aside, nothing new.
        await this.settle(parent, name, (t) => t === token).catch(() => undefined);
        throw e;
      }
      await parent.removeEntry(tempSiblingName(keyBasename(key), token), { recursive: true });
      return target;
    });
  }

  /** Steps 2 and 3 of the commit (see the top of this file). */
  private async moveIn(target: StoreKey, parent: FileSystemDirectoryHandle, dir: FileSystemDirectoryHandle, token: string, temp: FileSystemDirectoryHandle): Promise<void> {
    const name = keyBasename(target);
    // Each move is a step of its own, so tests can fail the commit between any two of them.
    const move = async (handle: FileSystemFileHandle, to: FileSystemDirectoryHandle, as: string) => {
      this.step('move', joinKey(target, as));
      await moveFile(handle, to, as);
    };
    const old = await plainFiles(dir);
    let aside: FileSystemDirectoryHandle | undefined;
    if (old.size > 0) {
      aside = await parent.getDirectoryHandle(oldSiblingName(name, token), { create: true });
      const marker = old.get(COMMIT_MARKER);
      if (marker) await move(marker, aside, COMMIT_MARKER);
      for (const [file, handle] of old) if (file !== COMMIT_MARKER) await move(handle, aside, file);
      // Everything old is aside: from here on, what is in the target folder is new (see settle).
      await aside.getFileHandle(placeholderName(token), { create: true });
    }
    const staged = await plainFiles(temp);
    for (const [file, handle] of staged) if (file !== COMMIT_MARKER) await move(handle, dir, file);
    const marker = staged.get(COMMIT_MARKER);
    if (marker) await move(marker, dir, COMMIT_MARKER); // the commit point
    if (aside) await parent.removeEntry(oldSiblingName(name, token), { recursive: true });
    await dir.removeEntry(placeholderName(token));
  }

  /**
   * Finishes what writers `isDead` accepts left at `name` in `folder`: a set-aside checkpoint goes
   * back unless the new one arrived (its marker is there); a folder holding a placeholder and no
   * marker was being filled or deleted, and goes. Returns the names removed.
   */
  private async settle(folder: FileSystemDirectoryHandle, name: string, isDead: (token: string) => boolean): Promise<string[]> {
    const removed: string[] = [];
    for (const [entry, found] of await names(folder)) {
      const token = tokenOf(entry);
      if (found.kind !== 'directory' || !entry.startsWith(`.${name}${OLD_MARK}`) || token === undefined || !isDead(token)) continue;
      const target = await folder.getDirectoryHandle(name, { create: true });
      if (!(await fileOf(target, COMMIT_MARKER))) {
        // New files arrive only after every old one is aside (the placeholder there says so); before
        // that, what is in the target folder is old files not yet set aside, which stay.
        if (await fileOf(found.handle, placeholderName(token))) for (const file of (await plainFiles(target)).keys()) await target.removeEntry(file);
        const back = await plainFiles(found.handle);
        for (const [file, handle] of back) if (file !== COMMIT_MARKER) await moveFile(handle, target, file);
        const marker = back.get(COMMIT_MARKER);
        if (marker) await moveFile(marker, target, COMMIT_MARKER);
      }
      await folder.removeEntry(entry, { recursive: true });
      removed.push(entry);
    }
    const target = await entryOf(folder, name);
    if (target?.kind !== 'directory') return removed;
    const inside = await names(target.handle);
    const stale = [...inside.keys()].filter((n) => n.startsWith(`.${COMMIT_MARKER}${TEMP_MARK}`) && isDead(tokenOf(n) ?? ''));
    if (stale.length === 0) return removed;
    if (inside.has(COMMIT_MARKER)) {
      for (const n of stale) await target.handle.removeEntry(n);
    } else {
      await folder.removeEntry(name, { recursive: true });
      removed.push(name);
    }
    return removed;
  }

  private lockName(dir: StoreKey): string {
    return `opfs:${dir}`;
  }

  async stageFile(key: StoreKey, options: StageOptions = {}): Promise<StagedFile> {
    return this.begin(key, options, (found) => this.fileConflict(key, found), async (parent, tempName, _token, release) =>
      stagedFile(key, {
        write: (_name, chunks) => {
          this.step('write', key);
          return this.writeFile(parent, tempName, chunks, key, options.expectedBytes);
        },
        commit: (at) => this.commitFile(at, parent, tempName, options.claim),
        discard: () => parent.removeEntry(tempName).catch(() => undefined),
        release,
      }),
    );
  }

  /** @internal Moves the temporary file `tempName` of `parent` onto `key` (or the key `claim` gives). */
  async commitFile(key: StoreKey, parent: FileSystemDirectoryHandle, tempName: string, claim: ((taken: StoreKey) => StoreKey) | undefined): Promise<StoreKey> {
    this.step('commit', key);
    return withLock(this.lockName(keyDirname(key)), async () => {
      let target = key;
      let found = await entryOf(parent, keyBasename(target));
      while (claim && found?.kind === 'file') {
        target = claim(target);
        found = await entryOf(parent, keyBasename(target));
      }
      const refused = this.fileConflict(target, found);
      if (refused) throw new CheckpointError('PATH_CONFLICT', `Cannot commit ${this.show(target)}: ${refused.message} Nothing was committed.`);
      await moveFile(await parent.getFileHandle(tempName), parent, keyBasename(target));
      return target;
    });
  }

  /** A file snapshot read by range; a snapshot whose file was replaced meanwhile reads as REPLACED_WHILE_READING. */
  private storedFile(file: File, where: string): StoredFile {
    return {
      size: file.size,
      read: async (dest, offset, length, position) => {
        if (position + length > file.size) throw new CorruptCheckpointError(`${where} ended early while being read: the file is truncated.`);
        let bytes: ArrayBuffer;
        try {
          bytes = await file.slice(position, position + length).arrayBuffer();
        } catch (e) {
          if (errorName(e) === 'NotReadableError' || errorName(e) === 'NotFoundError') throw new GenerationChanged(where);
          throw e;
        }
        dest.set(new Uint8Array(bytes), offset);
      },
    };
  }

  async openFile(key: StoreKey): Promise<OpenedFile | undefined> {
    const { found } = await this.at(key);
    if (!found) return undefined;
    if (found.kind === 'directory') throw new CheckpointError('PATH_CONFLICT', `${this.show(key)} is a folder, not a single-file checkpoint.`);
    const where = this.show(key);
    return { where, ...this.storedFile(await found.handle.getFile(), where), close: async () => undefined };
  }

  async open(key: StoreKey): Promise<CheckpointReader | undefined> {
    const { found } = await this.at(key);
    if (!found) return undefined;
    if (found.kind === 'file') throw new CheckpointError('PATH_CONFLICT', `${this.show(key)} is a single file, not a checkpoint folder.`);
    const dir = found.handle;
    const where = this.show(key);
    const markerNow = async () => {
      const handle = await fileOf(dir, COMMIT_MARKER).catch(() => undefined);
      return handle && bytesOf(handle).catch(() => undefined);
    };
    // Under the folder's lock, so a commit or deletion under way (which holds it) is waited out.
    const marker = await withLock(this.lockName(keyDirname(key)), markerNow);
    return {
      where,
      open: async (name) => {
        if (isTemporaryName(name)) return undefined;
        const handle = await fileOf(dir, name).catch((e: unknown) => (errorName(e) === 'NotFoundError' ? undefined : Promise.reject(e)));
        if (!handle) return undefined;
        try {
          return this.storedFile(await handle.getFile(), `${where}/${name}`);
        } catch (e) {
          // Moved away between finding it and opening it: a writer is replacing the checkpoint.
          if (errorName(e) === 'NotFoundError' || errorName(e) === 'NotReadableError') throw new GenerationChanged(where);
          throw e;
        }
      },
      confirm: async () => {
        const now = await markerNow();
        const same = now === marker || (now !== undefined && marker !== undefined && now.byteLength === marker.byteLength && now.every((b, i) => b === marker[i]));
        if (!same) throw new GenerationChanged(where);
      },
      close: async () => undefined,
    };
  }

  async list(prefix: StoreKey, { depth, accept = () => true, files }: ListOptions): Promise<ListedCheckpoint[]> {
    const start = await this.dirAt(prefix).catch((e: unknown) => (e instanceof CheckpointError && e.code === 'PATH_CONFLICT' ? undefined : Promise.reject(e)));
    const out: ListedCheckpoint[] = [];
    const walk = async (dir: FileSystemDirectoryHandle, key: StoreKey, level: number): Promise<void> => {
      for (const [name, found] of await names(dir)) {
        if (isTemporaryName(name) || !accept(level, name)) continue;
        const child = joinKey(key, name);
        if (level < depth - 1) {
          if (found.kind === 'directory') await walk(found.handle, child, level + 1);
          continue;
        }
        if (found.kind === 'file') {
          if (files?.(name)) out.push({ key: child, file: true, modifiedNs: BigInt((await found.handle.getFile()).lastModified) * 1_000_000n });
          continue;
        }
        const marker = await fileOf(found.handle, COMMIT_MARKER);
        if (marker) out.push({ key: child, modifiedNs: BigInt((await marker.getFile()).lastModified) * 1_000_000n });
      }
    };
    if (start) await walk(start, prefix, 0);
    return out;
  }

  async exists(key: StoreKey): Promise<boolean> {
    if (key === '/') return true;
    return (await this.at(key).catch((e: unknown) => (e instanceof CheckpointError && e.code === 'PATH_CONFLICT' ? { found: undefined } : Promise.reject(e)))).found !== undefined;
  }

  async remove(key: StoreKey): Promise<void> {
    this.step('remove', key);
    const { parent } = await this.at(key);
    if (!parent) return;
    await withLock(this.lockName(keyDirname(key)), async () => {
      const found = await entryOf(parent, keyBasename(key));
      if (!found) return;
      if (found.kind === 'file') {
        await parent.removeEntry(keyBasename(key));
        return;
      }
      // Placeholder first (a crash from here on leaves a folder `recover` removes), then the marker: the checkpoint is gone.
      const token = writerToken();
      const release = await holdWriter(token);
      try {
        await found.handle.getFileHandle(placeholderName(token), { create: true });
        if (await fileOf(found.handle, COMMIT_MARKER)) await found.handle.removeEntry(COMMIT_MARKER);
        await parent.removeEntry(keyBasename(key), { recursive: true });
      } finally {
        release();
      }
    });
  }

  async readSmall(key: StoreKey, maxBytes: number): Promise<Uint8Array | undefined> {
    const { found } = await this.at(key);
    if (found?.kind !== 'file') return undefined;
    const file = await found.handle.getFile();
    if (file.size > maxBytes) throw new CorruptCheckpointError(`${this.show(key)} is ${file.size} bytes, more than the ${maxBytes} it may have.`);
    return new Uint8Array(await file.arrayBuffer());
  }

  async writeSmall(key: StoreKey, bytes: Uint8Array): Promise<void> {
    this.step('writeSmall', key);
    const parent = (await this.dirAt(keyDirname(key), true))!;
    const found = await entryOf(parent, keyBasename(key));
    if (found?.kind === 'directory') throw new CheckpointError('PATH_CONFLICT', `Cannot write ${this.show(key)}: a checkpoint or folder has that name. Choose another path.`);
    const token = writerToken();
    const release = await holdWriter(token);
    const temp = tempSiblingName(keyBasename(key), token);
    try {
      await this.writeFile(parent, temp, [bytes], key, bytes.byteLength);
      // Moving onto the name replaces it in one step: readers see the old bytes or the new.
      await withLock(this.lockName(keyDirname(key)), async () => moveFile(await parent.getFileHandle(temp), parent, keyBasename(key)));
    } catch (e) {
      await parent.removeEntry(temp).catch(() => undefined);
      throw e;
    } finally {
      release();
    }
  }

  async removeSmall(key: StoreKey): Promise<void> {
    this.step('removeSmall', key);
    const { parent, found } = await this.at(key);
    if (parent && found?.kind === 'file') await parent.removeEntry(keyBasename(key));
  }

  async recover(dir: StoreKey, isOurs: (name: string) => boolean): Promise<StoreKey[]> {
    const folder = await this.dirAt(dir).catch(() => undefined);
    if (!folder) return [];
    const alive = await writersAlive();
    const dead = (token: string | undefined): boolean => token !== undefined && !alive(token, 0);
    const removed: StoreKey[] = [];
    await withLock(this.lockName(dir), async () => {
      const owners = new Set<string>();
      for (const name of (await names(folder)).keys()) {
        if (isTemporaryName(name)) owners.add(name.slice(1, Math.max(name.lastIndexOf(TEMP_MARK), name.lastIndexOf(OLD_MARK))));
        else owners.add(name);
      }
      for (const owner of owners) {
        if (!isOurs(owner)) continue;
        for (const name of await this.settle(folder, owner, dead)) removed.push(joinKey(dir, name));
      }
      // Temporaries of dead writers: unfinished writes, single files and pointers.
      for (const name of (await names(folder)).keys()) {
        if (!isTemporaryName(name) || !name.includes(TEMP_MARK) || !isOurs(name.slice(1, name.lastIndexOf(TEMP_MARK))) || !dead(tokenOf(name))) continue;
        await folder.removeEntry(name, { recursive: true });
        removed.push(joinKey(dir, name));
      }
    });
    return removed;
  }
}
