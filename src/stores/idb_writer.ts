/**
 * IndexedDB records written off a page's main thread. On the page, each 8 MiB record's `put` (the
 * structured clone and IndexedDB's wrapping of the value, then the IPC) and the record's checksum cost
 * the thread that training runs on about 0.4 s per 64 MiB (bench/RESULTS.md, the per-backend browser
 * bench). Here the page only copies the weights' bytes into a record and transfers it to one writer
 * worker per page, which checksums it, puts it through a connection of its own and hands the buffer
 * back for the next record (no fresh record per put).
 *
 * The worker is started from a few lines of source (with the CRC function's own source, as in
 * crc_offload.ts), so no extra file needs serving. Where there is no page (a worker's thread is not the
 * page's), no Worker, or the worker cannot start or fails its self-check, `idbRecordStream` gives
 * undefined and the store writes in place, as before.
 */
import { makeCrc32Pure } from '../formats/crc32.js';
import { startPageWorker } from './page_worker.js';

/** One file's records, in order; the CRC-32 of their bytes is kept by the worker. */
export interface RecordStream {
  /**
   * Puts the first `length` bytes of `record` at `key` (its buffer is transferred: the caller must not
   * use it again). Resolves, once the record is stored, to a buffer of the same size for the next one.
   */
  put(key: [string, string, number], record: Uint8Array, length: number, fault?: { name: string; message: string }): Promise<Uint8Array>;
  /** The CRC-32 of every byte put; ends the stream. */
  digest(): Promise<number>;
  /** Ends the stream without a result (after a failure). */
  drop(): void;
}

const WORKER_SOURCE = `
const crc32 = (${makeCrc32Pure.toString()})();
const databases = new Map();
const running = new Map();
function open(name) {
  let db = databases.get(name);
  if (!db) {
    db = new Promise((resolve, reject) => {
      const request = indexedDB.open(name);
      // The page creates the database; one that does not exist yet is not this worker's to create.
      request.onupgradeneeded = () => request.transaction.abort();
      request.onsuccess = () => {
        const opened = request.result;
        // Let the page upgrade or delete the database (a delete waits for every connection to close).
        opened.onversionchange = () => {
          opened.close();
          databases.delete(name);
        };
        resolve(opened);
      };
      request.onerror = () => {
        databases.delete(name);
        reject(request.error);
      };
    });
    databases.set(name, db);
  }
  return db;
}
onmessage = async ({ data }) => {
  const { id, op, stream } = data;
  try {
    if (op === 'check') postMessage({ id, crc32: crc32(data.bytes) });
    else if (op === 'put') {
      const value = data.length === data.bytes.byteLength ? data.bytes : data.bytes.slice(0, data.length);
      // In message order, before any wait: the stream's CRC follows its records.
      running.set(stream, crc32(value, running.get(stream) ?? 0));
      // A fault a test injected (the store's faults hook): this put fails as a refused one would.
      if (data.fault) throw Object.assign(new Error(data.fault.message), { name: data.fault.name });
      const db = await open(data.database);
      await new Promise((resolve, reject) => {
        const tx = db.transaction('chunks', 'readwrite');
        tx.objectStore('chunks').put(value, data.key);
        tx.oncomplete = resolve;
        tx.onabort = () => reject(tx.error || new DOMException('The transaction was aborted.', 'AbortError'));
      });
      postMessage({ id, bytes: data.bytes }, [data.bytes.buffer]);
    } else if (op === 'digest') {
      postMessage({ id, crc32: running.get(stream) ?? 0 });
      running.delete(stream);
    } else if (op === 'drop') running.delete(stream);
  } catch (e) {
    postMessage({ id, error: { name: (e && e.name) || 'Error', message: (e && e.message) || String(e) } });
  }
};
`;

/** "123456789": its CRC-32 is 0xCBF43926 (the standard check value). */
const CHECK = new TextEncoder().encode('123456789');

interface Reply {
  id: number;
  crc32?: number;
  bytes?: Uint8Array;
  error?: { name: string; message: string };
}

let started: Promise<Worker | undefined> | undefined;
let nextId = 1;
let nextStream = 1;
const waiting = new Map<number, { resolve(reply: Reply): void; reject(error: Error): void }>();

/** The error the worker reported, with its name kept (a quota error is told by its name). */
function asError(reported: { name: string; message: string }): Error {
  return Object.assign(new Error(reported.message), { name: reported.name });
}

function writerWorker(): Promise<Worker | undefined> {
  started ??= (async () => {
    const worker = await startPageWorker(
      WORKER_SOURCE,
      (started) =>
        new Promise<boolean>((resolve) => {
          started.onmessage = (e: MessageEvent<Reply>) => resolve(e.data.crc32 === 0xcbf43926);
          started.postMessage({ id: 0, op: 'check', bytes: CHECK });
        }),
    );
    if (!worker) return undefined;
    worker.onmessage = (e: MessageEvent<Reply>) => {
      const job = waiting.get(e.data.id);
      waiting.delete(e.data.id);
      if (e.data.error) job?.reject(asError(e.data.error));
      else job?.resolve(e.data);
    };
    // A worker that dies fails the writes waiting on it (never a hang); later files are written in place.
    worker.onerror = () => {
      started = Promise.resolve(undefined);
      for (const job of waiting.values()) job.reject(new Error('the IndexedDB writer worker stopped; retry the save'));
      waiting.clear();
    };
    return worker;
  })();
  return started;
}

function call(worker: Worker, message: Record<string, unknown>, transfer: Transferable[] = []): Promise<Reply> {
  const id = nextId++;
  return new Promise<Reply>((resolve, reject) => {
    waiting.set(id, { resolve, reject });
    worker.postMessage({ ...message, id }, transfer);
  });
}

/** A stream of records into `database` through the page's writer worker; undefined where there is none. */
export async function idbRecordStream(database: string): Promise<RecordStream | undefined> {
  const worker = await writerWorker();
  if (!worker) return undefined;
  const stream = nextStream++;
  return {
    put: async (key, record, length, fault) => {
      const own = record.byteOffset === 0 && record.byteLength === record.buffer.byteLength ? record : record.slice();
      return (await call(worker, { op: 'put', stream, database, key, bytes: own, length, ...(fault ? { fault } : {}) }, [own.buffer as ArrayBuffer])).bytes!;
    },
    digest: async () => (await call(worker, { op: 'digest', stream })).crc32!,
    drop: () => worker.postMessage({ id: 0, op: 'drop', stream }),
  };
}

/** @internal Whether records written here go through the writer worker (for tests). */
export async function idbWriterOffloaded(): Promise<boolean> {
  return (await writerWorker()) !== undefined;
}
