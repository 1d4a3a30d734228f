/**
 * The one interface between checkpoints and the places they live. Everything above it (formats,
 * the manager, the callbacks) reads and writes through these calls only; each store is one file.
 *
 * What every store guarantees (test/stores/conformance.ts checks each one):
 * - **Complete or invisible.** Nothing staged is visible at its key until `commit()` resolves; a
 *   commit that fails or never happens leaves every committed checkpoint as it was. A checkpoint is
 *   *committed* exactly when its `checkpoint.json` is present: stores write it last and remove it
 *   first, and `list` returns nothing else.
 * - **One generation per read.** A reader (`open`) sees the files of one commit of a key, even while
 *   another writer replaces it, or `confirm()` says it did not.
 * - **Deletion is never half-visible**, and **small objects (pointers) are replaced atomically**.
 * - **Leftovers are recoverable**: what a crashed writer left is invisible to readers, and `recover`
 *   removes it once its writer is gone, never while it may be alive.
 *
 * How each store maps the commit (the protocol itself is in its file):
 * - fs (stores/fs.ts): files written into a temporary sibling directory and fsynced, one rename onto
 *   the key, fsync of the parent. Replacing renames the old directory aside first; delete renames to a
 *   temporary name, then removes it.
 * - memory (stores/memory.ts): files collected off to the side; commit swaps one map entry.
 * - S3 (object storage issue): data objects first, `checkpoint.json` last as the commit marker; delete
 *   removes the marker first. Generations are pinned by the marker's ETag/version.
 * - OPFS (browser issue): files under temporary names, each moved into place (files can be moved,
 *   directories cannot), marker last.
 * - IndexedDB (browser issue): data and marker in one transaction, or data then marker.
 *
 * Single-file checkpoints (`.safetensors`, `.h5`, `.keras`: formats other tools read as one file) are
 * the second kind: `stageFile` writes the file under a temporary name, and `commit()` puts it at its
 * key in one step (fs: rename, or link(2) to claim; memory: one map entry; S3: a server-side copy of
 * the uploaded temporary). A file is committed exactly when it is present under its name; what it
 * describes (metadata, checksums) is inside it, in the format's own place for such things.
 */
import { CheckpointError } from '../errors.js';
import type { StoreKey } from './keys.js';

export type { StoreKey } from './keys.js';

/** Bytes of one file, in order. Chunks may be views into memory that must stay unchanged until `write()` resolves (a store may hold several before writing them), so a writer never reuses a chunk buffer. */
export type ByteChunks = Iterable<Uint8Array | Promise<Uint8Array>> | AsyncIterable<Uint8Array>;

export interface WrittenFile {
  name: string;
  size: number;
  crc32: number;
}

export interface StageOptions {
  /**
   * When the key is taken by another checkpoint at commit time: the key to commit under instead
   * (a version suffix). Without it, the commit replaces that checkpoint atomically.
   */
  claim?: (taken: StoreKey) => StoreKey;
  /** About how many bytes will be written (the weights; metadata adds little): stores with a quota check it up front. */
  expectedBytes?: number;
}

/** A checkpoint being written. Nothing is visible at its key until `commit()` resolves. */
export interface StagedCheckpoint {
  /** The key it commits to; after `commit()`, the key it was committed under. */
  readonly key: StoreKey;
  /** Streams one file in, recording its size and CRC-32. `checkpoint.json` is written last. */
  write(name: string, chunks: ByteChunks): Promise<WrittenFile>;
  /**
   * Whether `write` may be called again before the previous call resolves (the writer keeps two in
   * flight). Such a store records the files in call order; their bytes and the work after them (the
   * fs store's read-back checksum) may overlap. Other stores get one call at a time.
   */
  readonly overlapsWrites?: boolean;
  /**
   * Optional: puts file `name` of the committed checkpoint at `from` into this one without writing
   * its bytes again (a hard link, a shared buffer), recording `expected`: its size and CRC-32 as the
   * caller knows them. Resolves to undefined, having changed nothing, when that file is gone or cannot
   * be shared here: the caller then writes it. Each checkpoint stays complete on its own, and
   * deleting one never affects the other.
   */
  reuse?(name: string, from: StoreKey, expected: { size: number; crc32: number }): Promise<WrittenFile | undefined>;
  /**
   * Optional, for copying between stores (a `localCache` upload): `write` of the bytes of `file`,
   * read straight into this store's own reused buffers, its CRC-32 taken from `file.checksum()` where
   * it has one. Stores without it get `write` of the file's bytes in chunks.
   */
  writeFile?(name: string, file: StoredFile): Promise<WrittenFile>;
  /** The files written so far, in order. */
  written(): readonly WrittenFile[];
  /** Makes the checkpoint visible, all at once; resolves to the key it is visible at. */
  commit(): Promise<StoreKey>;
  /** Discards everything written; no effect after commit. */
  abort(): Promise<void>;
}

/** A single-file checkpoint being written. Nothing is visible at its key until `commit()` resolves. */
export interface StagedFile {
  /** The key it commits to; after `commit()`, the key it was committed under. */
  readonly key: StoreKey;
  /** Streams the file's bytes in (called once), recording its size and CRC-32. */
  write(chunks: ByteChunks): Promise<WrittenFile>;
  /**
   * Instead of `write`, on stores backed by a local file system: `fill` creates the file at a
   * temporary path of the store's choosing (for libraries that write files by path, such as HDF5's),
   * and the store then records its size and CRC-32 and syncs it. Saves a copy of the whole file.
   */
  writeLocal?(fill: (path: string) => Promise<void>): Promise<WrittenFile>;
  /** Makes the file visible at its key, all at once (replacing what is there, or claiming another name); resolves to that key. */
  commit(): Promise<StoreKey>;
  /** Discards what was written; no effect after commit. */
  abort(): Promise<void>;
}

/** One file of an opened checkpoint. */
export interface StoredFile {
  readonly size: number;
  /** Fills `dest[offset, offset+length)` with the file's bytes from `position`; rejects if the file ends first. */
  read(dest: Uint8Array, offset: number, length: number, position: number): Promise<void>;
  /**
   * Optional: the file's size and CRC-32, computed off the caller's thread from the same opened file
   * (the fs store: its helper thread), so a reader can checksum while it reads instead of after;
   * undefined when that is not possible right now (the caller then checksums what it reads).
   */
  checksum?(): Promise<{ size: number; crc32: number } | undefined>;
  /**
   * Optional: the open file's descriptor (the fs store), which any thread of this process may read
   * by position until the file is closed; an upload thread sends parts straight from it.
   */
  descriptor?(): number | undefined;
}

/** The files of one generation of a checkpoint (or of a stock TF.js folder), held until `close()`. */
export interface CheckpointReader {
  /** Where the files are read from, as messages show it (during an fs replacement, the set-aside copy). */
  readonly where: string;
  /** Opens a file; undefined when it does not exist. Anything that is not a plain file is a CorruptCheckpointError. */
  open(name: string): Promise<StoredFile | undefined>;
  /** Rejects with REPLACED_WHILE_READING when the files opened so far may not all belong to the generation this reader began with. */
  confirm(): Promise<void>;
  close(): Promise<void>;
}

/** A single-file checkpoint opened for reading: the bytes of one commit of it, held until `close()`. */
export interface OpenedFile extends StoredFile {
  /** Where it is read from, as messages show it. */
  readonly where: string;
  /** On a local file system: its path (for libraries that open files by path, such as HDF5's). */
  readonly localPath?: string;
  close(): Promise<void>;
}

export interface ListedCheckpoint {
  key: StoreKey;
  /** True for a single-file checkpoint (listed because `files` accepted its name). */
  file?: boolean;
  /** When it was committed, as the store knows it (ns since the epoch); a tie-breaker only. */
  modifiedNs: bigint;
}

export interface ListOptions {
  /** How many segments below the prefix a checkpoint's key has (1: the prefix's children). */
  depth: number;
  /** Lets a store skip names early: `level` counts from 0 (the prefix's children). Callers still filter. */
  accept?: (level: number, name: string) => boolean;
  /** Also list the plain files at the last level whose names this accepts (single-file checkpoints). */
  files?: (name: string) => boolean;
}

export interface CheckpointStore {
  /** The URL scheme this kind of store is usually registered under (`file`, `memory`, …); informational. */
  readonly scheme: string;
  /** Starts writing a checkpoint at `key`. Refuses keys where a checkpoint cannot go (a file, a folder with other contents). */
  stage(key: StoreKey, options?: StageOptions): Promise<StagedCheckpoint>;
  /** Starts writing a single-file checkpoint at `key`. Refuses keys where a folder or checkpoint folder is. */
  stageFile(key: StoreKey, options?: StageOptions): Promise<StagedFile>;
  /** Opens the single file at `key`; undefined when nothing is there. A folder there is a PATH_CONFLICT. */
  openFile(key: StoreKey): Promise<OpenedFile | undefined>;
  /** Opens what is at `key` for reading (with or without `checkpoint.json`); undefined when nothing is there. */
  open(key: StoreKey): Promise<CheckpointReader | undefined>;
  /** The committed checkpoints exactly `depth` segments below `prefix` (uncommitted data is never listed). */
  list(prefix: StoreKey, options: ListOptions): Promise<ListedCheckpoint[]>;
  /** Whether anything (a checkpoint, a folder, a small object) is at `key`. */
  exists(key: StoreKey): Promise<boolean>;
  /**
   * Every name directly in `dir` that `exists` would call taken, in one listing. Only for stores
   * where `exists` is a network round trip: a manager then checks each new checkpoint's name against
   * this set instead of asking the store while `fit` waits (see checkpoint/taken_names.ts).
   * Undefined: this store checks names one by one after all (a wrapper whose store has no listing).
   */
  namesIn?(dir: StoreKey): Promise<Set<string> | undefined>;
  /** Deletes the checkpoint (folder or single file) at `key` so that no reader sees it half-deleted. Absent is not an error. */
  remove(key: StoreKey): Promise<void>;
  /** A small object (a pointer); undefined when absent. Larger than `maxBytes` is a CorruptCheckpointError. */
  readSmall(key: StoreKey, maxBytes: number): Promise<Uint8Array | undefined>;
  /** Replaces a small object atomically: readers see the old bytes or the new, never a mix. */
  writeSmall(key: StoreKey, bytes: Uint8Array): Promise<void>;
  removeSmall(key: StoreKey): Promise<void>;
  /**
   * Finishes what crashed writers left directly in `dir`, for names `isOurs` accepts: removes their
   * temporaries once their writer is gone, and puts back a checkpoint a crashed replacement set aside.
   * Returns the keys of what it removed.
   */
  recover(dir: StoreKey, isOurs: (name: string) => boolean): Promise<StoreKey[]>;
}

/** What `CheckpointReader.confirm()` rejects with: readers start over (see checkpoint/read.ts). */
export class GenerationChanged extends CheckpointError {
  constructor(where: string) {
    super('REPLACED_WHILE_READING', `${where} was replaced by another writer while it was being read. Load it again.`);
  }
}
