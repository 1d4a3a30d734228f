/**
 * CRC-32s of written files, computed on a worker thread: the fs store writes a shard, then this
 * worker reads it back (from the page cache, right after the write) and checksums it, so the per-byte
 * work of a save never runs on the main thread, where training runs. Checksumming the file as written
 * also checks what the file system holds, not only what was handed to it.
 *
 * One worker per process, started on first use and unref'd (it never keeps a process alive). Its code
 * is a few lines evaluated as a script (no file to resolve, in the ESM and the CJS build alike).
 * Where worker threads or `zlib.crc32` are missing, or the worker fails, `crcOfFile` returns undefined
 * and the caller checksums on its own thread as before.
 */
import { Worker } from 'node:worker_threads';
import * as zlib from 'node:zlib';

const SOURCE = `
const { parentPort } = require('node:worker_threads');
const { openSync, readSync, closeSync } = require('node:fs');
const { crc32 } = require('node:zlib');
const buffer = Buffer.allocUnsafe(8 * 1024 * 1024);
parentPort.on('message', ({ id, path }) => {
  let fd;
  try {
    fd = openSync(path, 'r');
    let crc = 0;
    let size = 0;
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, size);
      if (n === 0) break;
      crc = crc32(buffer.subarray(0, n), crc);
      size += n;
    }
    parentPort.postMessage({ id, size, crc32: crc });
  } catch (e) {
    parentPort.postMessage({ id, error: String(e && e.message || e) });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
});
`;

interface Pending {
  resolve(value: { size: number; crc32: number } | undefined): void;
  reject(error: Error): void;
}

let worker: Worker | undefined;
let broken = !(typeof (zlib as { crc32?: unknown }).crc32 === 'function');
let nextId = 0;
const pending = new Map<number, Pending>();

function start(): Worker | undefined {
  if (broken) return undefined;
  if (worker) return worker;
  try {
    worker = new Worker(SOURCE, { eval: true });
  } catch {
    broken = true;
    return undefined;
  }
  worker.unref();
  worker.on('message', (m: { id: number; size?: number; crc32?: number; error?: string }) => {
    const job = pending.get(m.id);
    pending.delete(m.id);
    if (!job) return;
    if (m.error !== undefined) job.reject(new Error(m.error));
    else job.resolve({ size: m.size!, crc32: m.crc32! });
    if (pending.size === 0) worker?.unref();
  });
  // A dead worker: its jobs fall back to the caller's own thread, and so does every later one.
  const fail = () => {
    broken = true;
    worker = undefined;
    for (const job of pending.values()) job.resolve(undefined);
    pending.clear();
  };
  worker.on('error', fail);
  worker.on('exit', fail);
  return worker;
}

/** Whether checksums can go to the worker (else the caller computes them as it writes). */
export function crcWorkerAvailable(): boolean {
  return !broken;
}

/**
 * The size and CRC-32 of the file at `path`, read on the worker thread; undefined when there is no
 * worker (the caller then checksums itself). Rejects when the file cannot be read.
 */
export function crcOfFile(path: string): Promise<{ size: number; crc32: number } | undefined> {
  const w = start();
  if (!w) return Promise.resolve(undefined);
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    // Referenced while it has work: a save awaiting a checksum keeps the process alive, as a write would.
    w.ref();
    w.postMessage({ id, path });
  });
}
