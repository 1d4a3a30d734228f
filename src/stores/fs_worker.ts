/**
 * The fs store's helper thread: the file-system steps of a save that need no bytes from the main
 * thread run here as plain synchronous calls, so the main thread (where training runs) pays one
 * message per step instead of a promise round trip per system call:
 *  - `checksumAsWritten`: a shard the main thread is writing is read back (from the page cache) as
 *    its bytes arrive, checksummed and fsync'd, so the per-byte work of a save never runs on the main
 *    thread and the shard becomes durable without waiting for it; checksumming the file as written
 *    also checks what the file system holds, not only what was handed to it;
 *  - `checksum`: the same for a file already written (where the write could not be followed);
 *  - `checksumFd`: a file a reader has open (loads, verify) checksummed through the reader's own
 *    descriptor while the reader reads it, so checking costs a load neither time nor main thread;
 *  - `writeFile`: a small file (the manifests, checkpoint.json) created, written and fsync'd whole;
 *  - `commit`: the staging folder checked to hold exactly the files written, fsync'd, renamed into
 *    place and its parent fsync'd, in that order (see store.ts for why each step is needed).
 * Shards are still written from the main thread's thread pool: their bytes live there.
 *
 * Two threads per process at most (see HelperLane), each a HelperThread (node/helper_thread.ts:
 * started on first use, never keeping a process alive). Where worker threads or `zlib.crc32` are
 * missing, or the thread fails, every call returns undefined and the caller does the step itself,
 * on its own thread, as before.
 */
import * as zlib from 'node:zlib';
import { HelperThread } from '../node/helper_thread.js';

/** How the main thread's writes of a file the helper thread follows ended (`checksumAsWritten`'s `signal[0]`). */
export const WRITING = 0;
export const WRITE_FAILED = 1;
export const ALL_WRITTEN = 2;

const SOURCE = `
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const { join, dirname } = require('node:path');
const { crc32 } = require('node:zlib');
// 1 MiB: as fast as larger reads from the page cache, and little memory beside a load.
const buffer = Buffer.allocUnsafe(1024 * 1024);
function fsyncPath(path) {
  const fd = fs.openSync(path, 'r');
  try { fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
}
const ops = {
  checksum({ path }) {
    const fd = fs.openSync(path, 'r');
    try {
      let crc = 0;
      let size = 0;
      for (;;) {
        const n = fs.readSync(fd, buffer, 0, buffer.length, size);
        if (n === 0) break;
        crc = crc32(buffer.subarray(0, n), crc);
        size += n;
      }
      return { size, crc32: crc };
    } finally { fs.closeSync(fd); }
  },
  checksumAsWritten({ path, size, signal }) {
    // The main thread's writes fill the file from its start, and the file's size says how far they
    // are: each byte is checksummed once it is in, then the file is fsync'd, with no word from the
    // main thread in between (inside fit it has none to give until the next batch ends). It says how
    // its writes ended through signal[0] (this loop holds the thread, so never by a message):
    // WRITE_FAILED, or ALL_WRITTEN, after which a file still short was changed by someone else.
    const fd = fs.openSync(path, 'r');
    try {
      let crc = 0;
      let at = 0;
      for (;;) {
        const state = Atomics.load(signal, 0);
        const length = fs.fstatSync(fd).size;
        if (length > size) throw new Error('the file holds ' + length + ' bytes, more than the ' + size + ' written');
        if (length < at) throw new Error('the file shrank to ' + length + ' bytes while ' + size + ' were written to it');
        while (at < length) {
          const n = fs.readSync(fd, buffer, 0, Math.min(buffer.length, length - at), at);
          if (n === 0) break;
          crc = crc32(buffer.subarray(0, n), crc);
          at += n;
        }
        if (at === size) break;
        if (state === ${WRITE_FAILED}) return { cancelled: true };
        if (state === ${ALL_WRITTEN}) throw new Error('the file holds ' + at + ' bytes, fewer than the ' + size + ' written');
        Atomics.wait(signal, 0, ${WRITING}, 2);
      }
      fs.fsyncSync(fd);
      return { size, crc32: crc };
    } finally { fs.closeSync(fd); }
  },
  checksumFd({ fd, size }) {
    let crc = 0;
    let at = 0;
    while (at < size) {
      const n = fs.readSync(fd, buffer, 0, Math.min(buffer.length, size - at), at);
      if (n === 0) break;
      crc = crc32(buffer.subarray(0, n), crc);
      at += n;
    }
    return { size: at, crc32: crc };
  },
  writeFile({ path, bytes }) {
    const fd = fs.openSync(path, 'wx');
    try {
      for (let at = 0; at < bytes.byteLength; ) at += fs.writeSync(fd, bytes, at, bytes.byteLength - at);
      fs.fsyncSync(fd);
    } finally { fs.closeSync(fd); }
    return { size: bytes.byteLength, crc32: crc32(bytes) };
  },
  commit({ staging, finalPath, files }) {
    const present = new Set(fs.readdirSync(staging));
    for (const f of files) {
      if (!present.has(f.name) || fs.statSync(join(staging, f.name)).size !== f.size) return { lost: f.name };
    }
    if (present.size !== files.length) return { extra: true };
    fsyncPath(staging);
    try {
      fs.renameSync(staging, finalPath);
    } catch (e) {
      if (e.code === 'ENOTEMPTY' || e.code === 'EEXIST' || e.code === 'EISDIR') return { taken: true };
      throw e;
    }
    fsyncPath(dirname(finalPath));
    return { committed: true };
  },
};
parentPort.on('message', ({ id, op, args }) => {
  try {
    parentPort.postMessage({ id, result: ops[op](args) });
  } catch (e) {
    parentPort.postMessage({ id, error: errorReply(e) });
  }
});
`;

export interface HelperOps {
  checksum: { args: { path: string }; result: { size: number; crc32: number } };
  /**
   * A file the main thread is writing, `size` bytes from its start: checksummed as its bytes arrive,
   * then fsync'd. The main thread stores how its writes ended in `signal[0]` (WRITE_FAILED or
   * ALL_WRITTEN; WRITING until then), with `Atomics.notify`: a failure ends the wait (`cancelled`), and
   * a file still short once all was written is an error (another process truncated it).
   */
  checksumAsWritten: { args: { path: string; size: number; signal: Int32Array }; result: { size: number; crc32: number } | { cancelled: true } };
  /** The first `size` bytes of an open descriptor (the main thread's; threads share them), read by position. */
  checksumFd: { args: { fd: number; size: number }; result: { size: number; crc32: number } };
  writeFile: { args: { path: string; bytes: Uint8Array }; result: { size: number; crc32: number } };
  commit: {
    args: { staging: string; finalPath: string; files: { name: string; size: number }[] };
    result: { committed: true } | { taken: true } | { lost: string } | { extra: true };
  };
}

/**
 * The two helper threads, started on first use: `background` for a save's steps, at the lowest
 * priority (training, on the main thread, always comes first); `waited` for a load's or a verify's
 * checksums, at normal priority, since the caller waits on them (at the lowest priority, two busy
 * threads beside it would starve it, and the checksum would finish after the read instead of beside it).
 */
export type HelperLane = 'background' | 'waited';

const helperThread = (lowPriority: boolean) =>
  new HelperThread(SOURCE, {
    lowPriority,
    available: typeof (zlib as { crc32?: unknown }).crc32 === 'function',
    // The thread holds a 1 MiB buffer and a few objects, and costs about 7 MiB of memory in all.
    resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 16, codeRangeSizeMb: 2 },
  });
const lanes: Record<HelperLane, HelperThread> = { background: helperThread(true), waited: helperThread(false) };

/** Whether a save's steps can go to its helper thread (else the caller does them itself). */
export function helperAvailable(): boolean {
  return lanes.background.available;
}

/**
 * Runs `op` on the helper thread of `lane` (default: a save's, in the background); undefined when
 * there is none (the caller then does the step itself). Rejects with the system error (its `code`
 * kept) when the step fails.
 */
export function onHelper<K extends keyof HelperOps>(op: K, args: HelperOps[K]['args'], lane: HelperLane = 'background'): Promise<HelperOps[K]['result'] | undefined> {
  return lanes[lane].run(op, args) as Promise<HelperOps[K]['result'] | undefined>;
}

/** Starts the helper thread of `lane` ahead of its first step (its start takes tens of milliseconds). */
export function startHelper(lane: HelperLane): void {
  lanes[lane].start();
}

/** Whether the helper thread of `lane` has been started in this process (for tests). */
export function helperStarted(lane: HelperLane): boolean {
  return lanes[lane].started;
}
