/**
 * CRC-32s off a page's main thread. In a browser, training and the background write share the page's
 * one thread, and the pure-JS CRC-32 (about 0.5 GB/s) was the largest per-byte step of a save there.
 * A `CrcStream` hands its bytes to one dedicated worker per page (started from the CRC function's own
 * source, `makeCrc32Pure`, so no extra file needs serving), which keeps the running CRC; the page only
 * copies or transfers the bytes, which is several times cheaper.
 *
 * Where there is no page (a worker: its thread is not the page's; Node), no Worker, or the worker
 * cannot start (a Content-Security-Policy without `blob:` in worker-src) or fails its self-check,
 * the stream computes the CRC in place, as before.
 */
import { crc32, makeCrc32Pure } from '../formats/crc32.js';
import { startPageWorker } from './page_worker.js';

export interface CrcStream {
  /**
   * Adds the next bytes. With `transfer`, the bytes' buffer is handed to the worker (the caller must
   * not use it again, and it must hold nothing else); without, they are copied first.
   */
  update(bytes: Uint8Array, transfer: boolean): void;
  /** The CRC-32 of all the bytes added. */
  digest(): Promise<number>;
}

const WORKER_SOURCE = `
const crc32 = (${makeCrc32Pure.toString()})();
const running = new Map();
onmessage = ({ data }) => {
  if (data.bytes) running.set(data.id, crc32(data.bytes, running.get(data.id) ?? 0));
  else {
    postMessage({ id: data.id, crc32: running.get(data.id) ?? 0 });
    running.delete(data.id);
  }
};
`;

/** "123456789": its CRC-32 is 0xCBF43926 (the standard check value). */
const CHECK = new TextEncoder().encode('123456789');

let offload: Promise<Worker | undefined> | undefined;
let nextId = 1;
const waiting = new Map<number, { resolve(crc: number): void; reject(error: Error): void }>();

/** The page's CRC worker, started and self-checked once; undefined where there is none. */
function crcWorker(): Promise<Worker | undefined> {
  offload ??= (async () => {
    const worker = await startPageWorker(
      WORKER_SOURCE,
      (started) =>
        new Promise<boolean>((resolve) => {
          started.onmessage = (e: MessageEvent<{ crc32: number }>) => resolve(e.data.crc32 === 0xcbf43926);
          started.postMessage({ id: 0, bytes: CHECK });
          started.postMessage({ id: 0 });
        }),
    );
    if (!worker) return undefined;
    worker.onmessage = (e: MessageEvent<{ id: number; crc32: number }>) => {
      waiting.get(e.data.id)?.resolve(e.data.crc32);
      waiting.delete(e.data.id);
    };
    // A worker that dies fails the saves waiting on it (never a hang), and later streams compute in place.
    worker.onerror = () => {
      offload = Promise.resolve(undefined);
      for (const job of waiting.values()) job.reject(new Error('the checksum worker stopped; retry the save'));
      waiting.clear();
    };
    return worker;
  })();
  return offload;
}

function inPlace(): CrcStream {
  let checksum = 0;
  return {
    update: (bytes) => void (checksum = crc32(bytes, checksum)),
    digest: async () => checksum,
  };
}

/** A CRC-32 stream: on the page's CRC worker where there is one, else computed in place. */
export async function crcStream(): Promise<CrcStream> {
  const worker = await crcWorker();
  if (!worker) return inPlace();
  const id = nextId++;
  return {
    update(bytes, transfer) {
      const own = transfer && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
      worker.postMessage({ id, bytes: own }, [own.buffer as ArrayBuffer]);
    },
    digest: () =>
      new Promise<number>((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        worker.postMessage({ id });
      }),
  };
}

/** @internal Whether streams here go to the CRC worker (for tests). */
export async function crcOffloaded(): Promise<boolean> {
  return (await crcWorker()) !== undefined;
}
