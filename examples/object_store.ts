/**
 * Writing your own store: a checkpoint store over a flat key → bytes map, the shape of S3 and most
 * key-value stores (no rename, no directories, one object written atomically at a time). The README's
 * "Stores" section walks through it, and test/stores/object_store.test.ts runs the conformance suite
 * on it, unchanged, as on the built-in stores.
 *
 * Protocol: each staged checkpoint writes its files under a fresh generation, `/.data/<generation>/<name>`,
 * where no reader looks. Commit is one object put: the marker `<key>/.commit` naming the generation.
 * A reader reads the marker once and reads that generation's objects; `confirm()` checks that the
 * marker still names it. Replace and delete move or drop the marker first, then remove the old
 * generation's objects. Pointers are single objects, replaced by one put. Single-file checkpoints
 * (`.safetensors`, `.h5`, `.keras`) are single objects too: collected, then put under their name at commit.
 */
import {
  CheckpointError,
  crc32,
  type ByteChunks,
  type CheckpointReader,
  type CheckpointStore,
  type ListedCheckpoint,
  type ListOptions,
  type OpenedFile,
  type StagedCheckpoint,
  type StagedFile,
  type StageOptions,
  type StoreKey,
  type WrittenFile,
} from '../src/index.js'; // in your project: from 'tfjs-checkpoint'

const MARKER = '.commit';
const DATA = '/.data';

/** The bucket: what S3, Redis or a KV service would hold. Each put and delete is atomic on its own. */
export type Bucket = Map<string, { bytes: Uint8Array; modified: bigint }>;

let generations = 0;

export class ObjectStore implements CheckpointStore {
  readonly scheme = 'objects';
  /** Generations being written by this process: `recover` never removes them. */
  private readonly live = new Set<string>();

  constructor(readonly bucket: Bucket = new Map()) {}

  private put(key: string, bytes: Uint8Array): void {
    this.bucket.set(key, { bytes, modified: process.hrtime.bigint() });
  }

  private marker(key: StoreKey): string | undefined {
    const found = this.bucket.get(`${key}/${MARKER}`);
    return found && new TextDecoder().decode(found.bytes);
  }

  private dropGeneration(generation: string): void {
    for (const name of [...this.bucket.keys()]) if (name.startsWith(`${DATA}/${generation}/`)) this.bucket.delete(name);
  }

  /** Every folder above `key` must not be an object (as no file can be inside a file). */
  private assertFolders(key: StoreKey): void {
    for (let dir = key.slice(0, key.lastIndexOf('/')); dir; dir = dir.slice(0, dir.lastIndexOf('/'))) {
      if (this.bucket.has(dir)) throw new CheckpointError('PATH_CONFLICT', `objects:/${dir} is an object, not a folder.`);
    }
  }

  async stage(key: StoreKey, options: StageOptions = {}): Promise<StagedCheckpoint> {
    if (this.bucket.has(key)) throw new CheckpointError('PATH_CONFLICT', `objects:/${key} is an object; a checkpoint cannot go there.`);
    const isFolder = [...this.bucket.keys()].some((k) => k.startsWith(`${key}/`) && !k.startsWith(`${key}/${MARKER}`));
    if (isFolder && this.marker(key) === undefined) {
      throw new CheckpointError('PATH_CONFLICT', `Please specify a non-directory filepath: objects:/${key} holds other objects.`);
    }
    this.assertFolders(key);
    const generation = `${process.pid}-${++generations}`;
    this.live.add(generation);
    const written: WrittenFile[] = [];
    const store = this;
    let target = key;
    let committed = false;
    return {
      get key() {
        return target;
      },
      async write(name: string, chunks: ByteChunks): Promise<WrittenFile> {
        const parts: Uint8Array[] = [];
        let checksum = 0;
        for await (const chunk of chunks) {
          parts.push(chunk.slice());
          checksum = crc32(chunk, checksum);
        }
        const bytes = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
        parts.reduce((at, p) => (bytes.set(p, at), at + p.byteLength), 0);
        store.put(`${DATA}/${generation}/${name}`, bytes);
        const file = { name, size: bytes.byteLength, crc32: checksum };
        written.push(file);
        return file;
      },
      written: () => written,
      async commit(): Promise<StoreKey> {
        // Check and put in one turn of the event loop: with a remote store this is a conditional put.
        while (options.claim && store.marker(target) !== undefined) target = options.claim(target);
        const previous = store.marker(target);
        store.put(`${target}/${MARKER}`, new TextEncoder().encode(generation));
        committed = true;
        store.live.delete(generation);
        // Committed: removing the replaced generation is tidying, and `recover` finishes it if this fails.
        if (previous !== undefined) {
          try {
            store.dropGeneration(previous);
          } catch {
            // left for recover()
          }
        }
        return target;
      },
      async abort(): Promise<void> {
        if (committed) return; // never remove what a marker now names
        store.live.delete(generation);
        store.dropGeneration(generation);
      },
    };
  }

  async stageFile(key: StoreKey, options: StageOptions = {}): Promise<StagedFile> {
    if (this.marker(key) !== undefined || [...this.bucket.keys()].some((k) => k.startsWith(`${key}/`))) {
      throw new CheckpointError('PATH_CONFLICT', `objects:/${key} is a checkpoint or folder; a checkpoint file cannot go there.`);
    }
    this.assertFolders(key);
    const store = this;
    let target = key;
    let bytes: Uint8Array | undefined;
    return {
      get key() {
        return target;
      },
      async write(chunks: ByteChunks): Promise<WrittenFile> {
        const parts: Uint8Array[] = [];
        let checksum = 0;
        for await (const chunk of chunks) {
          parts.push(chunk.slice());
          checksum = crc32(chunk, checksum);
        }
        bytes = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
        parts.reduce((at, p) => (bytes!.set(p, at), at + p.byteLength), 0);
        return { name: key.slice(key.lastIndexOf('/') + 1), size: bytes.byteLength, crc32: checksum };
      },
      async commit(): Promise<StoreKey> {
        if (!bytes) throw new Error('nothing written');
        // Check and put in one turn of the event loop: with a remote store this is a conditional put.
        while (options.claim && store.bucket.has(target)) target = options.claim(target);
        store.put(target, bytes);
        return target;
      },
      async abort(): Promise<void> {
        bytes = undefined;
      },
    };
  }

  async openFile(key: StoreKey): Promise<OpenedFile | undefined> {
    const object = this.bucket.get(key);
    if (!object) {
      if (await this.exists(key)) throw new CheckpointError('PATH_CONFLICT', `objects:/${key} is a folder, not a checkpoint file.`);
      return undefined;
    }
    const bytes = object.bytes; // puts replace the entry, so this generation stays as it is
    const where = `objects:/${key}`;
    return {
      where,
      size: bytes.byteLength,
      read: async (dest, offset, length, position) => {
        if (position + length > bytes.byteLength) throw new CheckpointError('CORRUPT_CHECKPOINT', `${where} ended early.`);
        dest.set(bytes.subarray(position, position + length), offset);
      },
      close: async () => undefined,
    };
  }

  async open(key: StoreKey): Promise<CheckpointReader | undefined> {
    if (this.bucket.has(key)) throw new CheckpointError('PATH_CONFLICT', `objects:/${key} is an object, not a checkpoint.`);
    const generation = this.marker(key);
    if (generation === undefined) return undefined;
    const where = `objects:/${key}`;
    return {
      where,
      open: async (name) => {
        const object = this.bucket.get(`${DATA}/${generation}/${name}`);
        if (!object) return undefined;
        const bytes = object.bytes;
        return {
          size: bytes.byteLength,
          read: async (dest, offset, length, position) => {
            if (position + length > bytes.byteLength) throw new CheckpointError('CORRUPT_CHECKPOINT', `${where}/${name} ended early.`);
            dest.set(bytes.subarray(position, position + length), offset);
          },
        };
      },
      confirm: async () => {
        if (this.marker(key) !== generation) throw new CheckpointError('REPLACED_WHILE_READING', `${where} was replaced while it was being read.`);
      },
      close: async () => undefined,
    };
  }

  async list(prefix: StoreKey, { depth, accept = () => true, files }: ListOptions): Promise<ListedCheckpoint[]> {
    const out: ListedCheckpoint[] = [];
    const start = prefix === '/' ? '/' : `${prefix}/`;
    for (const [name, object] of this.bucket) {
      const parts = name.slice(start.length).split('/');
      if (files && name.startsWith(start) && !name.startsWith(`${DATA}/`) && parts.length === depth && files(parts[depth - 1]!)) {
        if (parts.every((s, level) => accept(level, s))) out.push({ key: name, file: true, modifiedNs: object.modified });
        continue;
      }
      if (!name.startsWith(start) || !name.endsWith(`/${MARKER}`)) continue;
      const key = name.slice(0, -MARKER.length - 1);
      const segments = key.slice(start.length).split('/');
      if (segments.length !== depth || !segments.every((s, level) => accept(level, s))) continue;
      // Committed means checkpoint.json is in the generation the marker names.
      if (this.bucket.has(`${DATA}/${new TextDecoder().decode(object.bytes)}/checkpoint.json`)) out.push({ key, modifiedNs: object.modified });
    }
    return out;
  }

  async exists(key: StoreKey): Promise<boolean> {
    return this.bucket.has(key) || [...this.bucket.keys()].some((k) => k.startsWith(`${key}/`));
  }

  async remove(key: StoreKey): Promise<void> {
    const generation = this.marker(key);
    if (generation === undefined) {
      this.bucket.delete(key); // a single-file checkpoint (or nothing)
      return;
    }
    this.bucket.delete(`${key}/${MARKER}`); // invisible from here on
    this.dropGeneration(generation);
  }

  async readSmall(key: StoreKey, maxBytes: number): Promise<Uint8Array | undefined> {
    const object = this.bucket.get(key);
    if (object && object.bytes.byteLength > maxBytes) throw new CheckpointError('CORRUPT_CHECKPOINT', `objects:/${key} is too large.`);
    return object?.bytes.slice();
  }

  async writeSmall(key: StoreKey, bytes: Uint8Array): Promise<void> {
    if (this.marker(key) !== undefined) throw new CheckpointError('PATH_CONFLICT', `objects:/${key} is a checkpoint.`);
    this.put(key, bytes.slice());
  }

  async removeSmall(key: StoreKey): Promise<void> {
    this.bucket.delete(key);
  }

  /** Generations no marker names and no live writer of this process owns are what crashed writers left. */
  async recover(): Promise<StoreKey[]> {
    const named = new Set<string>();
    for (const [name, object] of this.bucket) if (name.endsWith(`/${MARKER}`)) named.add(new TextDecoder().decode(object.bytes));
    const removed = new Set<string>();
    for (const name of this.bucket.keys()) {
      const generation = name.startsWith(`${DATA}/`) ? name.slice(DATA.length + 1).split('/')[0]! : undefined;
      if (generation !== undefined && !named.has(generation) && !this.live.has(generation)) removed.add(generation);
    }
    for (const generation of removed) this.dropGeneration(generation);
    return [...removed].map((g) => `${DATA}/${g}`);
  }
}
