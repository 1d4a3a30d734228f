/**
 * The `.keras` archive: a zip of `config.json`, `metadata.json` and `model.weights.h5`, as Keras 3's
 * saving_lib writes it (and Python's zipfile reads it). Written as a stream, so a weights file of
 * several GiB never sits in memory; read with ranged reads, so the stored (uncompressed) weights
 * entry can be used in place, from a file or an object store. No `node:` imports: runs in browsers.
 */
import { Reader, Uint8ArrayWriter, ZipReader, ZipWriter, type Entry } from '@zip.js/zip.js';
import { CheckpointError, CorruptCheckpointError } from '../../errors.js';

export const KERAS_CONFIG = 'config.json';
export const KERAS_METADATA = 'metadata.json';
export const KERAS_WEIGHTS = 'model.weights.h5';

export interface KerasZipEntries {
  /** config.json bytes (see toKeras3Config). */
  config: Uint8Array;
  /** Extra metadata.json keys; `keras_version` and `date_saved` are filled in unless given. */
  metadata?: Record<string, unknown>;
  /** The model.weights.h5 bytes, streamed in order. */
  weights: AsyncIterable<Uint8Array>;
  /** Its size when known; without it (or above 4 GiB) the archive uses ZIP64 records. */
  weightsSize?: number;
}

export interface KerasZipOptions {
  /** Force ZIP64 records (default: when the weights size is unknown or may pass 4 GiB). */
  zip64?: boolean;
  /** The keras_version metadata.json claims (the Keras format version this writer follows). */
  kerasVersion?: string;
}

const ZIP32_LIMIT = 0xffff_ffff - 1024 * 1024; // leave room for the small entries and headers

/** Keras's date_saved format: 2026-11-30@06:36:16 (local time, as Python's strftime). */
function dateSaved(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}@${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Pull-based, so zip.js asks for the next chunk only when it has written the previous one. */
function readableOf(source: AsyncIterable<Uint8Array>): ReadableStream<Uint8Array> {
  const it = source[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { value, done } = await it.next();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    async cancel(reason) {
      await it.return?.(reason);
    },
  });
}

const bytesOf = (b: Uint8Array) => new ReadableStream<Uint8Array>({ start: (c) => { c.enqueue(b); c.close(); } });

/**
 * The archive as a stream of chunks. Nothing is produced ahead of the consumer: zip.js waits for
 * each chunk to be taken, and the weights are pulled from `entries.weights` only as needed.
 */
export function kerasZipStream(entries: KerasZipEntries, options: KerasZipOptions = {}): AsyncIterable<Uint8Array> {
  const zip64 = options.zip64 ?? (entries.weightsSize === undefined || entries.weightsSize > ZIP32_LIMIT);
  const metadata = { keras_version: options.kerasVersion ?? '3.15.1', date_saved: dateSaved(new Date()), ...(entries.metadata ?? {}) };
  const metadataBytes = new TextEncoder().encode(JSON.stringify(metadata));
  const pipe = new TransformStream<Uint8Array, Uint8Array>();
  // Sequential adds (keepOrder, awaited one by one): no entry is buffered to write entries in parallel.
  const writer = new ZipWriter(pipe.writable, { zip64, level: 0, keepOrder: true, useWebWorkers: false, bufferedWrite: false });
  const done = (async () => {
    await writer.add(KERAS_METADATA, bytesOf(metadataBytes), { level: 0 });
    await writer.add(KERAS_CONFIG, bytesOf(entries.config), { level: 0 });
    await writer.add(KERAS_WEIGHTS, readableOf(entries.weights), { level: 0, zip64, ...(entries.weightsSize !== undefined ? { uncompressedSize: entries.weightsSize } : {}) });
    await writer.close(undefined, { zip64 });
  })();
  // A failure aborts the stream, so the consumer sees it instead of a short archive.
  done.catch((e) => pipe.writable.abort(e).catch(() => undefined));
  return {
    async *[Symbol.asyncIterator]() {
      const reader = pipe.readable.getReader();
      try {
        for (;;) {
          const { value, done: end } = await reader.read();
          if (end) break;
          yield value;
        }
        await done;
      } finally {
        reader.releaseLock();
      }
    },
  };
}

/** A consumer with backpressure: each write is awaited before the next chunk is produced. */
export interface KerasZipSink {
  write(chunk: Uint8Array): Promise<void>;
}

/** Writes the archive into `sink`; resolves with its size in bytes. */
export async function writeKerasZip(entries: KerasZipEntries, sink: KerasZipSink, options: KerasZipOptions = {}): Promise<number> {
  let size = 0;
  for await (const chunk of kerasZipStream(entries, options)) {
    await sink.write(chunk);
    size += chunk.length;
  }
  return size;
}

// ---- reading -----------------------------------------------------------------------------------

/** Random access to the archive's bytes (a file, an S3 object, a Uint8Array). */
export interface RandomAccessSource {
  size: number;
  /** Fills dest[offset, offset + length) with the bytes at `position`. */
  read(dest: Uint8Array, offset: number, length: number, position: number): Promise<void>;
}

/** zip.js reads the archive through this: every read is one ranged read of the source. */
class RangedReader extends Reader<RandomAccessSource> {
  constructor(private readonly source: RandomAccessSource) {
    super(source);
    this.size = source.size;
  }
  override async readUint8Array(index: number, length: number): Promise<Uint8Array> {
    const n = Math.max(0, Math.min(length, this.size - index));
    const out = new Uint8Array(n);
    if (n > 0) await this.source.read(out, 0, n, index);
    return out;
  }
}

export interface KerasZipContents {
  names: string[];
  readConfig(): Promise<Uint8Array>;
  readMetadata(): Promise<Uint8Array>;
  /** Where the stored model.weights.h5 bytes are inside the archive. */
  weights: { offset: number; length: number };
}

const corrupt = (where: string, problem: string, cause?: unknown) =>
  new CorruptCheckpointError(`${where} is not a valid .keras archive: ${problem}.`, cause === undefined ? undefined : { cause });

/** Opens a `.keras` archive: its entry names, the JSON entries, and the weights' byte range. */
export async function readKerasZip(source: RandomAccessSource, where = 'The file'): Promise<KerasZipContents> {
  const reader = new ZipReader(new RangedReader(source), { useWebWorkers: false });
  let entries: Entry[];
  try {
    entries = await reader.getEntries();
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    throw corrupt(where, `it is not a zip file (${(e as Error)?.message ?? String(e)})`, e);
  }
  const byName = new Map(entries.map((e) => [e.filename, e]));
  for (const name of [KERAS_CONFIG, KERAS_METADATA, KERAS_WEIGHTS]) {
    if (!byName.has(name)) throw corrupt(where, `it has no ${name} (entries: ${entries.map((e) => e.filename).join(', ') || 'none'})`);
  }
  const weights = byName.get(KERAS_WEIGHTS)!;
  if (weights.encrypted) throw corrupt(where, `${KERAS_WEIGHTS} is encrypted`);
  // Only a stored entry can be read in place; Keras itself stores it (zipfile.ZIP_STORED).
  if (weights.compressionMethod !== 0) throw corrupt(where, `${KERAS_WEIGHTS} is compressed (method ${weights.compressionMethod}); only stored weights can be read in place — re-save it with Keras or unzip it`);
  // The data starts after the local header: 30 bytes, the name and the local extra field.
  const header = new Uint8Array(30);
  if (weights.offset + 30 > source.size) throw corrupt(where, `the local header of ${KERAS_WEIGHTS} is past the end`);
  await source.read(header, 0, 30, weights.offset);
  const view = new DataView(header.buffer);
  if (view.getUint32(0, true) !== 0x04034b50) throw corrupt(where, `the local header of ${KERAS_WEIGHTS} has a bad signature`);
  const offset = weights.offset + 30 + view.getUint16(26, true) + view.getUint16(28, true);
  const length = weights.compressedSize;
  if (weights.uncompressedSize !== length || offset + length > source.size) throw corrupt(where, `${KERAS_WEIGHTS} does not fit the archive`);
  const readAll = async (name: string) => {
    try {
      const entry = byName.get(name)!;
      if (entry.directory) throw new Error('it is a directory');
      return await entry.getData(new Uint8ArrayWriter());
    } catch (e) {
      throw corrupt(where, `${name} cannot be read (${(e as Error)?.message ?? String(e)})`, e);
    }
  };
  return { names: entries.map((e) => e.filename), readConfig: () => readAll(KERAS_CONFIG), readMetadata: () => readAll(KERAS_METADATA), weights: { offset, length } };
}
