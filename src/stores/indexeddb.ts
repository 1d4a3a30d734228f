/**
 * The IndexedDB store (`indexeddb://name-{epoch}`): checkpoints in the browser's IndexedDB, of any
 * size. Stock TF.js keeps a model as one record holding all its weights, and fails near 2 GB
 * (tensorflow/tfjs#7702); here every file is a run of records of at most 8 MiB, written as they
 * stream in and read back by range, so no step holds more than one record beyond the caller's data.
 *
 * Layout (database `tfjs-checkpoint` unless the constructor says otherwise):
 * - `entries`: store key → what is there: a checkpoint folder (its generation and file list), a
 *   single file, or a small object (pointer bytes inline).
 * - `chunks`: [generation, file name, index] → up to 8 MiB of that file. A generation is a random
 *   token per write; records of a generation no entry names are invisible.
 * - `staging`: generation → the key it is for and its writer, while it is being written.
 *
 * Reuse (incremental checkpoints): a folder's file may be a file of an earlier checkpoint, its records
 * left where they are and its record naming their generation. A staged checkpoint pins what it shares
 * (in its staging record) until its commit names it; records are deleted only once no entry and no
 * staging record names them, so removing or replacing one checkpoint never takes another's bytes.
 *
 * Commit: the data records are written first, each in its own transaction; then one transaction
 * (durability 'strict': flushed before it completes, where the browser offers it) checks the key,
 * puts the entry, deletes the replaced generation's records and the staging record. Readers hold
 * their generation: records are never rewritten, so a read returns that generation's bytes or, if a
 * replacement deleted them meanwhile, REPLACED_WHILE_READING (and the caller reads again). A tab
 * closed mid-save leaves a staging record and unnamed records, invisible; `recover` removes them once
 * their writer's Web Lock is gone (see browser_storage.ts).
 */
import { CheckpointError, CorruptCheckpointError } from '../errors.js';
import { crcStream } from './crc_offload.js';
import { idbRecordStream, type RecordStream } from './idb_writer.js';
import { assertFits, holdWriter, isQuotaError, quotaError, writersAlive, writerToken } from './browser_storage.js';
import { inTransaction, openDatabase, request } from './idb_requests.js';
import { isInside, joinKey, keyBasename, keyDirname, relativeKey, tempSiblingName, type StoreKey } from './keys.js';
import { removeStockCopy, STOCK_COPY_MAX_BYTES, writeStockCopy } from './idb_stock_copy.js';
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

/** `put`: one 8 MiB record of a file (where the writer worker puts it, the worker fails that put). */
export type IndexedDbStep = 'stage' | 'write' | 'put' | 'commit' | 'remove' | 'writeSmall' | 'removeSmall';

export interface IndexedDbStoreOptions {
  /** The database's name (default `tfjs-checkpoint`). */
  database?: string;
  /** The IndexedDB to use (default the global `indexedDB`). */
  indexedDB?: IDBFactory;
  /** Called before each step; throwing fails it (fault injection for tests). */
  faults?: (step: IndexedDbStep, key: StoreKey) => void;
  /**
   * Full models in the TF.js layout up to this many bytes also get a copy where stock TF.js reads
   * `indexeddb://` models, so `tf.loadLayersModel('indexeddb://name')` loads them (see
   * idb_stock_copy.ts). Default 64 MiB; 0 turns the copies off.
   */
  stockCopyMaxBytes?: number;
  /** Where a failed stock copy is reported (default `console`); the checkpoint itself is committed by then. */
  logger?: { warn(message: string): void };
}

const ENTRIES = 'entries';
const CHUNKS = 'chunks';
const STAGING = 'staging';
const COMMIT_MARKER = 'checkpoint.json';
/** Bytes per record: large enough that a 2 GiB model is 256 records, small enough to copy and clone quickly. */
export const RECORD_BYTES = 8 * 2 ** 20;
/**
 * Records handed to the writer worker and not yet stored, at most (beside the one being filled): 64 MiB.
 * Training on the page's thread (a batch is one long synchronous run of kernels on cpu and wasm) keeps
 * the page from taking the worker's acknowledgements, so a save only moves on when training yields; with
 * 2 in flight, most epochs' `onEpochEnd` waited about 250 ms for the rest of a 64 MiB save, with 8 about
 * 15 ms (`bench/browser_fit_held.ts`). Memory: up to this many records beside the weights.
 */
const RECORDS_IN_FLIGHT = 8;
/** The name a single file's records are stored under. */
const SINGLE = '';

interface FileRecord {
  name: string;
  size: number;
  crc32: number;
  /** The generation holding its records, when shared from an earlier checkpoint (else the entry's own). */
  gen?: string;
}

/** A file's records: generation and name. */
interface RecordsRef {
  gen: string;
  name: string;
}

type Entry =
  | { kind: 'folder'; gen: string; files: FileRecord[]; modifiedNs: string }
  | { kind: 'file'; gen: string; file: FileRecord; modifiedNs: string }
  | { kind: 'small'; bytes: Uint8Array };

interface Staging {
  gen: string;
  key: StoreKey;
  startedMs: number;
  /** Records of committed checkpoints this one shares: kept while it is staged. */
  shares?: RecordsRef[];
}

/** Commit times as the store knows them: ns since the epoch, strictly increasing within this context. */
let clock = 0n;
function tick(): bigint {
  const now = BigInt(Date.now()) * 1_000_000n;
  clock = now > clock ? now : clock + 1n;
  return clock;
}

/** Keys strictly inside `dir` (keys are strings; U+FFFF never occurs in a real path). */
function insideRange(dir: StoreKey): IDBKeyRange {
  const low = dir === '/' ? '/' : `${dir}/`;
  return IDBKeyRange.bound(low, `${low}\uffff`, dir === '/', false);
}

/**
 * Cuts `chunks` into records of RECORD_BYTES (the last may be shorter): each filled record goes to
 * `put` with how many of its bytes are used, and `put` resolves to the buffer to fill next. Resolves to
 * the number of bytes in all.
 */
async function packRecords(chunks: ByteChunks, put: (record: Uint8Array, used: number) => Promise<Uint8Array>): Promise<number> {
  let record: Uint8Array = new Uint8Array(RECORD_BYTES);
  let used = 0;
  let size = 0;
  for await (const chunk of chunks) {
    size += chunk.byteLength;
    for (let at = 0; at < chunk.byteLength; ) {
      const n = Math.min(RECORD_BYTES - used, chunk.byteLength - at);
      record.set(chunk.subarray(at, at + n), used);
      used += n;
      at += n;
      if (used === RECORD_BYTES) {
        record = await put(record, used);
        used = 0;
      }
    }
  }
  if (used > 0) await put(record, used);
  return size;
}

/** Every record of one generation. */
function generationRange(gen: string): IDBKeyRange {
  return IDBKeyRange.bound([gen], [gen, []]);
}

/** Every record of one file of a generation. */
function fileRange({ gen, name }: RecordsRef): IDBKeyRange {
  return IDBKeyRange.bound([gen, name], [gen, name, []]);
}

const refId = ({ gen, name }: RecordsRef) => JSON.stringify([gen, name]);

/** Where the records of each file of folder entry `entry` are. */
function recordsOf(entry: Extract<Entry, { kind: 'folder' }>): RecordsRef[] {
  return entry.files.map((f) => ({ gen: f.gen ?? entry.gen, name: f.name }));
}

export class IndexedDbStore implements CheckpointStore {
  readonly scheme = 'indexeddb';
  private db: Promise<IDBDatabase> | undefined;
  private readonly database: string;

  constructor(private readonly options: IndexedDbStoreOptions = {}) {
    this.database = options.database ?? 'tfjs-checkpoint';
  }

  /** How messages show a key (under the scheme it is usually registered as). */
  show(key: StoreKey): string {
    return `indexeddb:/${key}`;
  }

  /** @internal The database, opened once. */
  async open_(): Promise<IDBDatabase> {
    if (!this.db) {
      const factory = this.options.indexedDB ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB;
      if (!factory) {
        throw new CheckpointError('UNSUPPORTED_FORMAT', 'indexeddb:// needs IndexedDB, which this runtime does not have. In Node, use file:// or memory:// locations.');
      }
      this.db = openDatabase(factory, this.database, 1, (db) => {
        db.createObjectStore(ENTRIES);
        db.createObjectStore(CHUNKS);
        db.createObjectStore(STAGING);
      }).then(
        (db) => {
          // Another tab upgrading the database: let it, and reopen on next use.
          db.onversionchange = () => {
            db.close();
            this.db = undefined;
          };
          return db;
        },
        (e: unknown) => {
          this.db = undefined;
          throw new CheckpointError('IO_ERROR', `Could not open the IndexedDB database "${this.database}": ${(e as Error)?.message ?? String(e)}. Is storage blocked for this site (private mode, settings)?`, { cause: e });
        },
      );
    }
    return this.db;
  }

  /** @internal Runs a fault hook step; a throw there fails the step as a real failure would. */
  step(step: IndexedDbStep, key: StoreKey): void {
    try {
      this.options.faults?.(step, key);
    } catch (e) {
      throw this.stepError(step, key, e);
    }
  }

  private stepError(step: IndexedDbStep, key: StoreKey, e: unknown): CheckpointError {
    return new CheckpointError('IO_ERROR', `Could not ${step} ${this.show(key)}: ${(e as Error)?.message ?? String(e)}. Earlier checkpoints are untouched.`, { cause: e });
  }

  /** The fault a test's hook injects into this record's put, to be raised where the put runs (the writer worker). */
  private injectedFault(key: StoreKey): { name: string; message: string } | undefined {
    try {
      this.options.faults?.('put', key);
      return undefined;
    } catch (e) {
      return { name: (e as Error)?.name ?? 'Error', message: (e as Error)?.message ?? String(e) };
    }
  }

  /** @internal A transaction; a quota failure becomes the clear error. */
  async run<T>(stores: string[], mode: IDBTransactionMode, body: (tx: IDBTransaction) => Promise<T>, durability: 'strict' | 'default' = 'default', bytes?: number, key?: StoreKey): Promise<T> {
    const db = await this.open_();
    try {
      return await inTransaction(db, stores, mode, body, durability);
    } catch (e) {
      if (isQuotaError(e)) throw await quotaError(e, this.show(key ?? '/'), bytes);
      throw e;
    }
  }

  private async blockingAncestor(tx: IDBTransaction, key: StoreKey): Promise<StoreKey | undefined> {
    const entries = tx.objectStore(ENTRIES);
    for (let dir = keyDirname(key); dir !== '/'; dir = keyDirname(dir)) {
      if ((await request(entries.count(dir))) > 0) return dir;
    }
    return undefined;
  }

  private async hasChildren(tx: IDBTransaction, key: StoreKey): Promise<boolean> {
    return (await request(tx.objectStore(ENTRIES).count(insideRange(key)))) > 0;
  }

  private async entry(tx: IDBTransaction, key: StoreKey): Promise<Entry | undefined> {
    return (await request(tx.objectStore(ENTRIES).get(key))) as Entry | undefined;
  }

  /** @internal Why a checkpoint folder (`file: false`) or single file cannot go at `key` now; undefined when it can. */
  async conflict(tx: IDBTransaction, key: StoreKey, file: boolean): Promise<CheckpointError | undefined> {
    const blocking = await this.blockingAncestor(tx, key);
    if (blocking !== undefined) return new CheckpointError('PATH_CONFLICT', `Cannot write ${this.show(key)}: ${this.show(blocking)} is not a folder. Choose another filepath.`);
    const there = await this.entry(tx, key);
    if (file) {
      if ((there && there.kind !== 'file') || (!there && (await this.hasChildren(tx, key)))) {
        return new CheckpointError('PATH_CONFLICT', `Cannot write a checkpoint file to ${this.show(key)}: a folder, checkpoint or object has that name. Remove it or choose another filepath.`);
      }
      return undefined;
    }
    if (there && there.kind !== 'folder') {
      return new CheckpointError('PATH_CONFLICT', `Cannot write a checkpoint to ${this.show(key)}: an object with that name exists. Remove it or choose another filepath.`);
    }
    if (!there && (await this.hasChildren(tx, key))) {
      return new CheckpointError(
        'PATH_CONFLICT',
        `Please specify a non-directory filepath: ${this.show(key)} is a folder that is not a checkpoint, and replacing it would hide its contents. ` +
          'Choose a filepath that names the checkpoint itself (e.g. add {epoch:02d}).',
      );
    }
    return undefined;
  }

  private async begin(key: StoreKey, file: boolean, options: StageOptions): Promise<{ gen: string; release: () => void }> {
    this.step('stage', key);
    const refused = await this.run([ENTRIES], 'readonly', (tx) => this.conflict(tx, key, file));
    if (refused) throw refused;
    await assertFits(options.expectedBytes, this.show(key));
    const gen = writerToken();
    const release = await holdWriter(gen);
    try {
      const staging: Staging = { gen, key, startedMs: Date.now() };
      await this.run([STAGING], 'readwrite', async (tx) => void (await request(tx.objectStore(STAGING).put(staging, gen))));
    } catch (e) {
      release();
      throw e;
    }
    return { gen, release };
  }

  async stage(key: StoreKey, options: StageOptions = {}): Promise<StagedCheckpoint> {
    const { gen, release } = await this.begin(key, false, options);
    // File name → the generation holding its records, for files shared from earlier checkpoints.
    const shared = new Map<string, string>();
    return stagedCheckpoint(key, {
      write: (name, chunks) => {
        this.step('write', joinKey(key, name));
        return this.writeRecords(gen, name, chunks, key, options.expectedBytes);
      },
      reuse: async (name, from, expected) => {
        this.step('write', joinKey(key, name));
        const records = await this.pinShared(gen, name, from, expected);
        if (records) shared.set(name, records.gen);
        return records !== undefined;
      },
      commit: async (at, written) => {
        const files = written.map((f) => (shared.has(f.name) ? { ...f, gen: shared.get(f.name)! } : f));
        // Replacing `at`: its stock copy goes first, so a copy never outlives the checkpoint it copies.
        if (!options.claim) await this.removeStockCopy(at);
        const target = await this.commitEntry(at, gen, () => ({ kind: 'folder', gen, files, modifiedNs: tick().toString() }), options.claim);
        await this.writeStockCopy(target, gen, files);
        return target;
      },
      discard: () => this.discard(gen),
      release,
    });
  }

  async stageFile(key: StoreKey, options: StageOptions = {}): Promise<StagedFile> {
    const { gen, release } = await this.begin(key, true, options);
    return stagedFile(key, {
      write: (_name, chunks) => {
        this.step('write', key);
        return this.writeRecords(gen, SINGLE, chunks, key, options.expectedBytes);
      },
      commit: (at, [file]) => this.commitEntry(at, gen, () => ({ kind: 'file', gen, file: file!, modifiedNs: tick().toString() }), options.claim),
      discard: () => this.discard(gen),
      release,
    });
  }

  /** @internal Streams `chunks` into records of generation `gen` under `name`; returns size and CRC-32. */
  async writeRecords(gen: string, name: string, chunks: ByteChunks, key: StoreKey, expectedBytes: number | undefined): Promise<{ size: number; crc32: number }> {
    // On a page, through the writer worker (idb_writer.ts); a factory of the caller's own may not be the one a worker sees.
    const offloaded = this.options.indexedDB ? undefined : await idbRecordStream(this.database);
    if (offloaded) return this.writeRecordsOffloaded(offloaded, gen, name, chunks, key, expectedBytes);
    const checksum = await crcStream();
    let index = 0;
    const size = await packRecords(chunks, async (record, used) => {
      // put() clones the value at once; the record is then handed to the checksum worker (see
      // crc_offload.ts), and the next record gets a buffer of its own.
      const value = used === RECORD_BYTES ? record : record.slice(0, used);
      const at = [gen, name, index++];
      this.step('put', key);
      await this.run([CHUNKS], 'readwrite', async (tx) => void (await request(tx.objectStore(CHUNKS).put(value, at))), 'default', expectedBytes, key);
      checksum.update(value, true);
      return value === record ? new Uint8Array(RECORD_BYTES) : record;
    });
    return { size, crc32: await checksum.digest() };
  }

  /**
   * @internal Pins file `name` of the committed folder at `from` for staged generation `gen`, when it
   * is there with the expected size and CRC-32: its records stay until the commit names them or the
   * staged checkpoint is discarded. Resolves to where the records are, or undefined (nothing pinned).
   */
  async pinShared(gen: string, name: string, from: StoreKey, expected: { size: number; crc32: number }): Promise<RecordsRef | undefined> {
    return this.run([ENTRIES, STAGING], 'readwrite', async (tx) => {
      const source = await this.entry(tx, from);
      if (source?.kind !== 'folder') return undefined;
      const file = source.files.find((f) => f.name === name);
      if (!file || file.size !== expected.size || file.crc32 !== expected.crc32) return undefined;
      const staging = (await request(tx.objectStore(STAGING).get(gen))) as Staging | undefined;
      if (!staging) throw new CheckpointError('IO_ERROR', `Cannot reuse ${this.show(joinKey(from, name))}: this save's staging record is gone (removed by another tab's recovery?). Save again.`);
      const records = { gen: file.gen ?? source.gen, name };
      await request(tx.objectStore(STAGING).put({ ...staging, shares: [...(staging.shares ?? []), records] }, gen));
      return records;
    });
  }

  /**
   * @internal Deletes the records of `candidates` that no entry and no staging record names (in the
   * caller's transaction, after it changed the entries): what a removed or replaced checkpoint shared
   * with another stays.
   */
  private async sweep(tx: IDBTransaction, candidates: readonly RecordsRef[]): Promise<void> {
    if (candidates.length === 0) return;
    const entries = (await request(tx.objectStore(ENTRIES).getAll())) as Entry[];
    const stagings = (await request(tx.objectStore(STAGING).getAll())) as Staging[];
    const named = new Set<string>();
    for (const e of entries) if (e.kind === 'folder') for (const r of recordsOf(e)) named.add(refId(r));
    for (const s of stagings) for (const r of s.shares ?? []) named.add(refId(r));
    for (const r of candidates) if (!named.has(refId(r))) tx.objectStore(CHUNKS).delete(fileRange(r));
  }

  /** @internal Deletes the records of entry `old` (a replaced or removed checkpoint) that nothing else names. */
  private async dropRecords(tx: IDBTransaction, old: Entry | undefined): Promise<void> {
    if (!old || old.kind === 'small') return;
    if (old.kind === 'file') tx.objectStore(CHUNKS).delete(generationRange(old.gen));
    else await this.sweep(tx, recordsOf(old));
  }

  /**
   * `writeRecords` through the page's writer worker: this thread only copies bytes into a record and
   * transfers it; the worker checksums and puts it and hands the buffer back. At most
   * RECORDS_IN_FLIGHT records are on their way (memory: that many records beside the one being filled).
   */
  private async writeRecordsOffloaded(
    stream: RecordStream,
    gen: string,
    name: string,
    chunks: ByteChunks,
    key: StoreKey,
    expectedBytes: number | undefined,
  ): Promise<{ size: number; crc32: number }> {
    const spare: Uint8Array[] = [];
    const inFlight: Promise<void>[] = [];
    let index = 0;
    let size: number;
    try {
      size = await packRecords(chunks, async (record, used) => {
        const stored = stream.put([gen, name, index++], record, used, this.injectedFault(key)).then((back) => void spare.push(back));
        stored.catch(() => undefined); // awaited below
        inFlight.push(stored);
        while (inFlight.length > RECORDS_IN_FLIGHT) await inFlight.shift();
        return spare.pop() ?? new Uint8Array(RECORD_BYTES);
      });
      while (inFlight.length > 0) await inFlight.shift();
    } catch (e) {
      // No record may land after this: the caller then discards the generation.
      await Promise.allSettled(inFlight);
      stream.drop();
      if (isQuotaError(e)) throw await quotaError(e, this.show(key), expectedBytes);
      if (e instanceof CheckpointError) throw e;
      throw new CheckpointError(
        'IO_ERROR',
        `Could not write ${this.show(key)} to IndexedDB: ${(e as Error)?.message ?? String(e)}. Earlier checkpoints are untouched; save again, and if it keeps failing, check the site's storage (its quota, private browsing).`,
        { cause: e },
      );
    }
    return { size, crc32: await stream.digest() };
  }

  /** @internal Deletes generation `gen`'s records and staging record, and releases what it pinned. */
  async discard(gen: string): Promise<void> {
    await this.run([ENTRIES, CHUNKS, STAGING], 'readwrite', async (tx) => {
      const staging = (await request(tx.objectStore(STAGING).get(gen))) as Staging | undefined;
      tx.objectStore(CHUNKS).delete(generationRange(gen));
      await request(tx.objectStore(STAGING).delete(gen));
      await this.sweep(tx, staging?.shares ?? []);
    });
  }

  /** @internal Puts a written generation at `key` (or the key `claim` gives) in one durable transaction. */
  async commitEntry(key: StoreKey, gen: string, make: () => Entry, claim: ((taken: StoreKey) => StoreKey) | undefined): Promise<StoreKey> {
    this.step('commit', key);
    const file = make().kind === 'file';
    return this.run(
      [ENTRIES, CHUNKS, STAGING],
      'readwrite',
      async (tx) => {
        let target = key;
        if (claim) {
          for (let there = await this.entry(tx, target); there && there.kind === (file ? 'file' : 'folder'); there = await this.entry(tx, target)) target = claim(target);
        }
        const refused = await this.conflict(tx, target, file);
        if (refused) throw new CheckpointError('PATH_CONFLICT', `Cannot commit ${this.show(target)}: ${refused.message} Nothing was committed.`);
        const old = await this.entry(tx, target);
        await request(tx.objectStore(ENTRIES).put(make(), target));
        await request(tx.objectStore(STAGING).delete(gen));
        // After the new entry is in: what it shares with the one it replaces stays.
        await this.dropRecords(tx, old);
        return target;
      },
      'strict',
    );
  }

  private factory(): IDBFactory {
    return (this.options.indexedDB ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB)!;
  }

  private get stockCopyMaxBytes(): number {
    return this.options.stockCopyMaxBytes ?? STOCK_COPY_MAX_BYTES;
  }

  /** TF.js's name for the model at `key`: what follows `indexeddb://`. */
  private static modelPath(key: StoreKey): string {
    return key.slice(1);
  }

  /** @internal The committed checkpoint at `key`, copied for stock TF.js when it is a small full model. Never fails the save. */
  async writeStockCopy(key: StoreKey, gen: string, files: readonly FileRecord[]): Promise<void> {
    if (this.stockCopyMaxBytes <= 0) return;
    const where = this.show(key);
    const records = new Map(files.map((f) => [f.name, f]));
    try {
      await writeStockCopy(this.factory(), IndexedDbStore.modelPath(key), files, async (name) => {
        const record = records.get(name);
        return record && this.storedFile(record.gen ?? gen, record, name, `${where}/${name}`);
      }, this.stockCopyMaxBytes);
    } catch (e) {
      (this.options.logger ?? console).warn(
        `The checkpoint ${where} is saved, but its copy for stock tf.loadLayersModel('${where}') could not be written: ${(e as Error)?.message ?? String(e)}. Load it with loadModel('${where}') instead.`,
      );
    }
  }

  /**
   * @internal Removes the stock TF.js copy of the checkpoint folder at `key`, if any. Only a folder of
   * ours can have one: other names (a new checkpoint's, a model the user saved with TF.js) are left alone,
   * and TF.js's database is not even opened for them.
   */
  async removeStockCopy(key: StoreKey): Promise<void> {
    if (this.stockCopyMaxBytes <= 0) return;
    if ((await this.run([ENTRIES], 'readonly', (tx) => this.entry(tx, key)))?.kind !== 'folder') return;
    try {
      await removeStockCopy(this.factory(), IndexedDbStore.modelPath(key));
    } catch (e) {
      throw new CheckpointError('IO_ERROR', `Could not remove the stock TF.js copy of ${this.show(key)}: ${(e as Error)?.message ?? String(e)}. The checkpoint is untouched.`, { cause: e });
    }
  }

  /** @internal Reads one record of a generation; undefined when it is gone (replaced or deleted). */
  async record(gen: string, name: string, index: number): Promise<Uint8Array | undefined> {
    return this.run([CHUNKS], 'readonly', async (tx) => (await request(tx.objectStore(CHUNKS).get([gen, name, index]))) as Uint8Array | undefined);
  }

  private storedFile(gen: string, record: FileRecord, recordName: string, where: string): StoredFile {
    let cached: { index: number; bytes: Uint8Array } | undefined;
    return {
      size: record.size,
      read: async (dest, offset, length, position) => {
        if (position + length > record.size) throw new CorruptCheckpointError(`${where} ended early while being read: the file is truncated.`);
        for (let done = 0; done < length; ) {
          const at = position + done;
          const index = Math.floor(at / RECORD_BYTES);
          if (cached?.index !== index) {
            const bytes = await this.record(gen, recordName, index);
            if (!bytes) throw new GenerationChanged(where);
            cached = { index, bytes };
          }
          const from = at - index * RECORD_BYTES;
          const n = Math.min(length - done, cached.bytes.byteLength - from);
          if (n <= 0) throw new CorruptCheckpointError(`${where} ended early while being read: a record is missing bytes.`);
          dest.set(cached.bytes.subarray(from, from + n), offset + done);
          done += n;
        }
      },
    };
  }

  async openFile(key: StoreKey): Promise<OpenedFile | undefined> {
    const { there, children } = await this.run([ENTRIES], 'readonly', async (tx) => ({ there: await this.entry(tx, key), children: await this.hasChildren(tx, key) }));
    if (!there || there.kind !== 'file') {
      if ((there && there.kind === 'folder') || children) throw new CheckpointError('PATH_CONFLICT', `${this.show(key)} is a folder, not a single-file checkpoint.`);
      return undefined;
    }
    const where = this.show(key);
    return { where, ...this.storedFile(there.gen, there.file, SINGLE, where), close: async () => undefined };
  }

  async open(key: StoreKey): Promise<CheckpointReader | undefined> {
    const there = await this.run([ENTRIES], 'readonly', (tx) => this.entry(tx, key));
    if (!there) return undefined;
    if (there.kind === 'file') throw new CheckpointError('PATH_CONFLICT', `${this.show(key)} is a single file, not a checkpoint folder.`);
    if (there.kind === 'small') throw new CheckpointError('PATH_CONFLICT', `${this.show(key)} is an object, not a checkpoint.`);
    const where = this.show(key);
    const files = new Map(there.files.map((f) => [f.name, f]));
    return {
      where,
      open: async (name) => {
        const record = files.get(name);
        return record && this.storedFile(record.gen ?? there.gen, record, name, `${where}/${name}`);
      },
      // Reads are of this generation's records or fail; confirm says whether it is still the one at the key.
      confirm: async () => {
        const now = await this.run([ENTRIES], 'readonly', (tx) => this.entry(tx, key));
        if (now?.kind !== 'folder' || now.gen !== there.gen) throw new GenerationChanged(where);
      },
      close: async () => undefined,
    };
  }

  async list(prefix: StoreKey, { depth, accept = () => true, files }: ListOptions): Promise<ListedCheckpoint[]> {
    const { keys, values } = await this.run([ENTRIES], 'readonly', async (tx) => {
      const range = insideRange(prefix);
      const store = tx.objectStore(ENTRIES);
      return { keys: (await request(store.getAllKeys(range))) as StoreKey[], values: (await request(store.getAll(range))) as Entry[] };
    });
    const out: ListedCheckpoint[] = [];
    keys.forEach((key, i) => {
      const entry = values[i]!;
      if (entry.kind === 'small' || !isInside(key, prefix)) return;
      const segments = relativeKey(prefix, key).split('/');
      if (segments.length !== depth || !segments.every((name, level) => accept(level, name))) return;
      if (entry.kind === 'file' && files?.(segments[depth - 1]!)) out.push({ key, file: true, modifiedNs: BigInt(entry.modifiedNs) });
      if (entry.kind === 'folder' && entry.files.some((f) => f.name === COMMIT_MARKER)) out.push({ key, modifiedNs: BigInt(entry.modifiedNs) });
    });
    return out;
  }

  async exists(key: StoreKey): Promise<boolean> {
    return this.run([ENTRIES], 'readonly', async (tx) => (await this.entry(tx, key)) !== undefined || (await this.hasChildren(tx, key)));
  }

  async remove(key: StoreKey): Promise<void> {
    this.step('remove', key);
    await this.removeStockCopy(key);
    // The entry and its records go in one transaction: no reader sees it half-deleted.
    await this.run(
      [ENTRIES, CHUNKS, STAGING],
      'readwrite',
      async (tx) => {
        const there = await this.entry(tx, key);
        if (!there || there.kind === 'small') return;
        await request(tx.objectStore(ENTRIES).delete(key));
        await this.dropRecords(tx, there);
      },
      'strict',
    );
  }

  async readSmall(key: StoreKey, maxBytes: number): Promise<Uint8Array | undefined> {
    const there = await this.run([ENTRIES], 'readonly', (tx) => this.entry(tx, key));
    if (!there || there.kind !== 'small') return undefined;
    if (there.bytes.byteLength > maxBytes) throw new CorruptCheckpointError(`${this.show(key)} is ${there.bytes.byteLength} bytes, more than the ${maxBytes} it may have.`);
    return there.bytes;
  }

  async writeSmall(key: StoreKey, bytes: Uint8Array): Promise<void> {
    this.step('writeSmall', key);
    await this.run(
      [ENTRIES],
      'readwrite',
      async (tx) => {
        const blocking = await this.blockingAncestor(tx, key);
        if (blocking !== undefined) throw new CheckpointError('PATH_CONFLICT', `Cannot write ${this.show(key)}: ${this.show(blocking)} is not a folder. Choose another path.`);
        const there = await this.entry(tx, key);
        if ((there && there.kind !== 'small') || (!there && (await this.hasChildren(tx, key)))) {
          throw new CheckpointError('PATH_CONFLICT', `Cannot write ${this.show(key)}: a checkpoint or folder has that name. Choose another path.`);
        }
        const entry: Entry = { kind: 'small', bytes: bytes.slice() };
        await request(tx.objectStore(ENTRIES).put(entry, key));
      },
      'strict',
    );
  }

  async removeSmall(key: StoreKey): Promise<void> {
    this.step('removeSmall', key);
    await this.run(
      [ENTRIES],
      'readwrite',
      async (tx) => {
        const there = await this.entry(tx, key);
        if (there?.kind === 'small') await request(tx.objectStore(ENTRIES).delete(key));
      },
      'strict',
    );
  }

  async recover(dir: StoreKey, isOurs: (name: string) => boolean): Promise<StoreKey[]> {
    const staged = await this.run([STAGING], 'readonly', async (tx) => (await request(tx.objectStore(STAGING).getAll())) as Staging[]);
    const alive = await writersAlive();
    const removed: StoreKey[] = [];
    for (const s of staged) {
      if (keyDirname(s.key) !== dir || !isOurs(keyBasename(s.key)) || alive(s.gen, s.startedMs)) continue;
      await this.discard(s.gen);
      removed.push(joinKey(dir, tempSiblingName(keyBasename(s.key), s.gen)));
    }
    return removed;
  }

  /** Deletes the database (every checkpoint in it); for tests and for users starting over. */
  async destroy(): Promise<void> {
    const db = await this.db?.catch(() => undefined);
    db?.close();
    this.db = undefined;
    const factory = this.options.indexedDB ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB;
    if (factory) await request(factory.deleteDatabase(this.database) as IDBRequest<unknown>);
  }
}
