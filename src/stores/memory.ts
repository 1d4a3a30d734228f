/**
 * The memory store (`memory://`): checkpoints in this process's memory, for tests and for users who
 * want them (a browser tab, a short experiment). Same guarantees as every store, trivially kept:
 *
 * Commit: files are collected off to the side (copied, since chunks may be views into live tensor
 * memory); commit puts the finished, frozen file map in place with one map assignment, which no
 * reader can observe half-done. Replace is the same assignment; delete is one map deletion.
 * Reads: a reader holds the file map of the generation it opened, so it never changes under it.
 * Pointers: one map assignment. Nothing survives the process, so there is nothing to recover.
 *
 * `faults` lets tests fail any step (see test/stores/conformance.ts): it is called before each one
 * with the step's name, and a throw there fails that step as a real store failure would.
 */
import { CheckpointError, CorruptCheckpointError } from '../errors.js';
import { bytesFile, collectChunks } from './bytes.js';
import { isInside, joinKey, keyDirname, relativeKey, type StoreKey } from './keys.js';
import type { ByteChunks, CheckpointReader, CheckpointStore, ListedCheckpoint, ListOptions, OpenedFile, StagedCheckpoint, StagedFile, StageOptions, WrittenFile } from './store.js';

type Files = ReadonlyMap<string, Uint8Array>;

export type MemoryStep = 'stage' | 'write' | 'commit' | 'remove' | 'writeSmall' | 'removeSmall';

export interface MemoryStoreOptions {
  /** Called before each step; throwing fails it (fault injection for tests). */
  faults?: (step: MemoryStep, key: StoreKey) => void;
}

const COMMIT_MARKER = 'checkpoint.json';

/** A monotonic "modification time" so listings can order commits made in the same millisecond. */
let clock = 0n;
function tick(): bigint {
  const now = BigInt(Date.now()) * 1_000_000n;
  clock = now > clock ? now : clock + 1n;
  return clock;
}

interface Entry {
  files: Files;
  modifiedNs: bigint;
}

export class MemoryStore implements CheckpointStore {
  readonly scheme = 'memory';
  private readonly checkpoints = new Map<StoreKey, Entry>();
  private readonly objects = new Map<StoreKey, Uint8Array>();
  /** Single-file checkpoints. */
  private readonly singles = new Map<StoreKey, { bytes: Uint8Array; modifiedNs: bigint }>();

  constructor(private readonly options: MemoryStoreOptions = {}) {}

  /** How messages show a key (under the scheme it is usually registered as). */
  private show(key: StoreKey): string {
    return `memory:/${key}`;
  }

  private step(step: MemoryStep, key: StoreKey): void {
    try {
      this.options.faults?.(step, key);
    } catch (e) {
      throw new CheckpointError('IO_ERROR', `Could not ${step} ${this.show(key)}: ${(e as Error)?.message ?? String(e)}. Earlier checkpoints are untouched.`, { cause: e });
    }
  }

  /** Whether anything lives strictly below `key` (it is then a folder, not a place for a checkpoint). */
  private hasChildren(key: StoreKey): boolean {
    for (const other of this.checkpoints.keys()) if (isInside(other, key)) return true;
    for (const other of this.objects.keys()) if (isInside(other, key)) return true;
    for (const other of this.singles.keys()) if (isInside(other, key)) return true;
    return false;
  }

  /** A small object or checkpoint that is an ancestor of `key`, which can then not exist (like a file in a path). */
  private blockingAncestor(key: StoreKey): StoreKey | undefined {
    for (let dir = keyDirname(key); dir !== '/'; dir = keyDirname(dir)) {
      if (this.objects.has(dir) || this.checkpoints.has(dir) || this.singles.has(dir)) return dir;
    }
    return undefined;
  }

  private assertPlaceable(key: StoreKey, what: string): void {
    const blocking = this.blockingAncestor(key);
    if (blocking !== undefined) {
      throw new CheckpointError('PATH_CONFLICT', `Cannot write ${what} ${this.show(key)}: ${this.show(blocking)} is not a folder. Choose another filepath.`);
    }
  }

  async stage(key: StoreKey, options: StageOptions = {}): Promise<StagedCheckpoint> {
    this.step('stage', key);
    if (this.objects.has(key) || this.singles.has(key)) {
      throw new CheckpointError('PATH_CONFLICT', `Cannot write a checkpoint to ${this.show(key)}: an object with that name exists. Remove it or choose another filepath.`);
    }
    if (!this.checkpoints.has(key) && this.hasChildren(key)) {
      throw new CheckpointError(
        'PATH_CONFLICT',
        `Please specify a non-directory filepath: ${this.show(key)} is a folder that is not a checkpoint, and replacing it would hide its contents. ` +
          'Choose a filepath that names the checkpoint itself (e.g. add {epoch:02d}).',
      );
    }
    this.assertPlaceable(key, 'a checkpoint to');
    return new MemoryStaged(this, key, options.claim);
  }

  /** @internal A committed checkpoint's file, for reuse. */
  committedFile(key: StoreKey, name: string): Uint8Array | undefined {
    return this.checkpoints.get(key)?.files.get(name);
  }

  /** @internal the staged checkpoint's write step. */
  writeStep(key: StoreKey): void {
    this.step('write', key);
  }

  /** @internal Puts a finished checkpoint in place (one assignment); returns the key it went to. */
  commitFiles(key: StoreKey, files: Files, claim: ((taken: StoreKey) => StoreKey) | undefined): StoreKey {
    this.step('commit', key);
    let target = key;
    while (claim && this.checkpoints.has(target)) target = claim(target);
    this.assertPlaceable(target, 'a checkpoint to');
    if (this.objects.has(target) || this.singles.has(target) || (!this.checkpoints.has(target) && this.hasChildren(target))) {
      throw new CheckpointError('PATH_CONFLICT', `Cannot commit ${this.show(target)}: something else took that name meanwhile. Nothing was committed.`);
    }
    this.checkpoints.set(target, { files, modifiedNs: tick() });
    return target;
  }

  async stageFile(key: StoreKey, options: StageOptions = {}): Promise<StagedFile> {
    this.step('stage', key);
    this.assertFilePlace(key);
    return new MemoryStagedFile(this, key, options.claim);
  }

  private assertFilePlace(key: StoreKey): void {
    if (this.objects.has(key) || this.checkpoints.has(key) || this.hasChildren(key)) {
      throw new CheckpointError('PATH_CONFLICT', `Cannot write a checkpoint file to ${this.show(key)}: a folder, checkpoint or object has that name. Remove it or choose another filepath.`);
    }
    this.assertPlaceable(key, 'a checkpoint file to');
  }

  /** @internal Puts a finished single file in place (one assignment); returns the key it went to. */
  commitFile(key: StoreKey, bytes: Uint8Array, claim: ((taken: StoreKey) => StoreKey) | undefined): StoreKey {
    this.step('commit', key);
    let target = key;
    while (claim && this.singles.has(target)) target = claim(target);
    this.assertFilePlace(target);
    this.singles.set(target, { bytes, modifiedNs: tick() });
    return target;
  }

  async openFile(key: StoreKey): Promise<OpenedFile | undefined> {
    const entry = this.singles.get(key);
    if (!entry) {
      if (this.checkpoints.has(key) || this.hasChildren(key)) throw new CheckpointError('PATH_CONFLICT', `${this.show(key)} is a folder, not a single-file checkpoint.`);
      return undefined;
    }
    return { where: this.show(key), ...bytesFile(entry.bytes, this.show(key)), close: async () => undefined };
  }

  async open(key: StoreKey): Promise<CheckpointReader | undefined> {
    const entry = this.checkpoints.get(key);
    if (!entry) {
      if (this.singles.has(key)) throw new CheckpointError('PATH_CONFLICT', `${this.show(key)} is a single file, not a checkpoint folder.`);
      if (this.objects.has(key)) throw new CheckpointError('PATH_CONFLICT', `${this.show(key)} is an object, not a checkpoint.`);
      return undefined;
    }
    const where = this.show(key);
    const files = entry.files;
    return {
      where,
      open: async (name) => {
        const bytes = files.get(name);
        return bytes && bytesFile(bytes, `${where}/${name}`);
      },
      confirm: async () => undefined, // the reader holds its generation's files: nothing can change under it
      close: async () => undefined,
    };
  }

  async list(prefix: StoreKey, { depth, accept = () => true, files }: ListOptions): Promise<ListedCheckpoint[]> {
    const out: ListedCheckpoint[] = [];
    if (files) {
      for (const [key, entry] of this.singles) {
        if (!isInside(key, prefix)) continue;
        const segments = relativeKey(prefix, key).split('/');
        if (segments.length === depth && files(segments[depth - 1]!) && segments.every((name, level) => accept(level, name))) out.push({ key, file: true, modifiedNs: entry.modifiedNs });
      }
    }
    for (const [key, entry] of this.checkpoints) {
      if (!isInside(key, prefix) || !entry.files.has(COMMIT_MARKER)) continue;
      const segments = relativeKey(prefix, key).split('/');
      if (segments.length === depth && segments.every((name, level) => accept(level, name))) out.push({ key, modifiedNs: entry.modifiedNs });
    }
    return out;
  }

  async exists(key: StoreKey): Promise<boolean> {
    return this.checkpoints.has(key) || this.objects.has(key) || this.singles.has(key) || this.hasChildren(key);
  }

  async remove(key: StoreKey): Promise<void> {
    this.step('remove', key);
    this.checkpoints.delete(key);
    this.singles.delete(key);
  }

  async readSmall(key: StoreKey, maxBytes: number): Promise<Uint8Array | undefined> {
    const bytes = this.objects.get(key);
    if (bytes && bytes.byteLength > maxBytes) throw new CorruptCheckpointError(`${this.show(key)} is ${bytes.byteLength} bytes, more than the ${maxBytes} it may have.`);
    return bytes?.slice();
  }

  async writeSmall(key: StoreKey, bytes: Uint8Array): Promise<void> {
    this.step('writeSmall', key);
    this.assertPlaceable(key, '');
    if (this.checkpoints.has(key) || this.singles.has(key) || this.hasChildren(key)) {
      throw new CheckpointError('PATH_CONFLICT', `Cannot write ${this.show(key)}: a checkpoint or folder has that name. Choose another path.`);
    }
    this.objects.set(key, bytes.slice());
  }

  async removeSmall(key: StoreKey): Promise<void> {
    this.step('removeSmall', key);
    this.objects.delete(key);
  }

  async recover(): Promise<StoreKey[]> {
    return []; // staged files live in their writer's memory and vanish with it
  }

  /** Every key held (checkpoints and small objects), for tests and tools. */
  keys(): StoreKey[] {
    return [...this.checkpoints.keys(), ...this.objects.keys(), ...this.singles.keys()].sort();
  }
}

class MemoryStaged implements StagedCheckpoint {
  private readonly files = new Map<string, Uint8Array>();
  private readonly record: WrittenFile[] = [];
  private done = false;

  constructor(
    private readonly store: MemoryStore,
    public key: StoreKey,
    private readonly claim: ((taken: StoreKey) => StoreKey) | undefined,
  ) {}

  async write(name: string, chunks: ByteChunks): Promise<WrittenFile> {
    if (this.done) throw new Error('This staged checkpoint was committed or aborted already.');
    this.store.writeStep(joinKey(this.key, name));
    const { bytes, size, crc32 } = await collectChunks(chunks);
    this.files.set(name, bytes);
    const written = { name, size, crc32 };
    this.record.push(written);
    return written;
  }

  /** The same bytes as the committed checkpoint at `from` holds (stored bytes are never changed in place). */
  async reuse(name: string, from: StoreKey, expected: { size: number; crc32: number }): Promise<WrittenFile | undefined> {
    if (this.done) throw new Error('This staged checkpoint was committed or aborted already.');
    this.store.writeStep(joinKey(this.key, name));
    const bytes = this.store.committedFile(from, name);
    if (!bytes || bytes.byteLength !== expected.size) return undefined;
    this.files.set(name, bytes);
    const written = { name, size: expected.size, crc32: expected.crc32 };
    this.record.push(written);
    return written;
  }

  written(): readonly WrittenFile[] {
    return this.record;
  }

  async commit(): Promise<StoreKey> {
    if (this.done) throw new Error('This staged checkpoint was committed or aborted already.');
    this.done = true;
    this.key = this.store.commitFiles(this.key, new Map(this.files), this.claim);
    return this.key;
  }

  async abort(): Promise<void> {
    this.done = true;
    this.files.clear();
  }
}

class MemoryStagedFile implements StagedFile {
  private bytes: Uint8Array | undefined;
  private done = false;

  constructor(
    private readonly store: MemoryStore,
    public key: StoreKey,
    private readonly claim: ((taken: StoreKey) => StoreKey) | undefined,
  ) {}

  async write(chunks: ByteChunks): Promise<WrittenFile> {
    if (this.done || this.bytes) throw new Error('This staged file was written, committed or aborted already.');
    this.store.writeStep(this.key);
    const { bytes, size, crc32 } = await collectChunks(chunks);
    this.bytes = bytes;
    return { name: this.key.slice(this.key.lastIndexOf('/') + 1), size, crc32 };
  }

  async commit(): Promise<StoreKey> {
    if (this.done || !this.bytes) throw new Error('This staged file was not written, or was committed or aborted already.');
    this.done = true;
    this.key = this.store.commitFile(this.key, this.bytes, this.claim);
    return this.key;
  }

  async abort(): Promise<void> {
    this.done = true;
    this.bytes = undefined;
  }
}
