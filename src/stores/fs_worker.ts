/**
 * The fs store's helper thread: the file-system steps of a save that need no bytes from the main
 * thread run here as plain synchronous calls, so the main thread (where training runs) pays one
 * message per step instead of a promise round trip per system call:
 *  - `checksum`: a shard just written is read back (from the page cache) and checksummed, so the
 *    per-byte work of a save never runs on the main thread; checksumming the file as written also
 *    checks what the file system holds, not only what was handed to it;
 *  - `writeFile`: a small file (the manifests, checkpoint.json) created, written and fsync'd whole;
 *  - `stage`: what is at the checkpoint's path, and its parent and staging folders created;
 *  - `commit`: the staging folder checked to hold exactly the files written, fsync'd, renamed into
 *    place and its parent fsync'd, in that order (see store.ts for why each step is needed).
 * Shards are still written and fsync'd from the main thread's thread pool: their bytes live there.
 *
 * One thread per process, started on first use and unref'd while idle (it never keeps a process
 * alive). Its code is a few lines evaluated as a script (no file to resolve, in the ESM and the CJS
 * build alike). Where worker threads or `zlib.crc32` are missing, or the thread fails, every call
 * returns undefined and the caller does the step itself, on its own thread, as before.
 */
import { Worker } from 'node:worker_threads';
import * as zlib from 'node:zlib';

const SOURCE = `
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const { join, dirname } = require('node:path');
const { crc32 } = require('node:zlib');
const buffer = Buffer.allocUnsafe(8 * 1024 * 1024);
// The lowest priority for this thread (Linux: a thread's own nice value, set through its id), so a
// checksum never keeps training's thread from a core it is ready to run on.
try {
  require('node:os').setPriority(Number(fs.readlinkSync('/proc/thread-self').split('/').pop()), 19);
} catch {}
function fsyncPath(path) {
  const fd = fs.openSync(path, 'r');
  try { fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
}
function kindOf(path) {
  try {
    const s = fs.statSync(path);
    return s.isDirectory() ? 'directory' : s.isFile() ? 'file' : 'other';
  } catch (e) {
    if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return 'missing';
    throw e;
  }
}
function listOf(path) {
  try {
    return fs.readdirSync(path);
  } catch (e) {
    if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return [];
    throw e;
  }
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
  writeFile({ path, bytes }) {
    const fd = fs.openSync(path, 'wx');
    try {
      for (let at = 0; at < bytes.byteLength; ) at += fs.writeSync(fd, bytes, at, bytes.byteLength - at);
      fs.fsyncSync(fd);
    } finally { fs.closeSync(fd); }
    return { size: bytes.byteLength, crc32: crc32(bytes) };
  },
  stage({ finalPath, staging, replaceable }) {
    try {
      const kind = kindOf(finalPath);
      if (kind === 'file' || kind === 'other') return { refused: kind };
      if (kind === 'directory') {
        const entries = listOf(finalPath);
        if (entries.length > 0 && !entries.some((e) => replaceable.includes(e))) return { refused: 'folder' };
      }
    } catch (e) {
      e.step = 'inspect';
      throw e;
    }
    try {
      const firstCreated = fs.mkdirSync(dirname(finalPath), { recursive: true });
      if (firstCreated !== undefined) {
        for (let dir = dirname(finalPath); dir !== dirname(firstCreated); dir = dirname(dir)) fsyncPath(dirname(dir));
      }
    } catch (e) {
      e.step = 'parent';
      throw e;
    }
    try {
      fs.mkdirSync(staging);
    } catch (e) {
      e.step = 'staging';
      throw e;
    }
    return {};
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
    parentPort.postMessage({ id, error: String((e && e.message) || e), code: e && e.code, syscall: e && e.syscall, step: e && e.step });
  }
});
`;

export interface HelperOps {
  checksum: { args: { path: string }; result: { size: number; crc32: number } };
  writeFile: { args: { path: string; bytes: Uint8Array }; result: { size: number; crc32: number } };
  /** `refused`: what is at finalPath cannot become a checkpoint (nothing was created); errors carry `step`: 'inspect', 'parent' or 'staging'. */
  stage: { args: { finalPath: string; staging: string; replaceable: readonly string[] }; result: { refused?: 'file' | 'other' | 'folder' } };
  commit: {
    args: { staging: string; finalPath: string; files: { name: string; size: number }[] };
    result: { committed: true } | { taken: true } | { lost: string } | { extra: true };
  };
}

interface Pending {
  resolve(value: unknown): void;
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
  worker.on('message', (m: { id: number; result?: unknown; error?: string; code?: string; syscall?: string; step?: string }) => {
    const job = pending.get(m.id);
    pending.delete(m.id);
    if (!job) return;
    if (m.error !== undefined) job.reject(Object.assign(new Error(m.error), m.code ? { code: m.code } : {}, m.syscall ? { syscall: m.syscall } : {}, m.step ? { step: m.step } : {}));
    else job.resolve(m.result);
    if (pending.size === 0) worker?.unref();
  });
  // A dead thread: its jobs fall back to the caller's own thread, and so does every later one.
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

/** Whether steps can go to the helper thread (else the caller does them itself). */
export function helperAvailable(): boolean {
  return !broken;
}

/**
 * Runs `op` on the helper thread; undefined when there is none (the caller then does the step
 * itself). Rejects with the system error (its `code` kept) when the step fails.
 */
export function onHelper<K extends keyof HelperOps>(op: K, args: HelperOps[K]['args']): Promise<HelperOps[K]['result'] | undefined> {
  const w = start();
  if (!w) return Promise.resolve(undefined);
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
    // Referenced while it has work: a save awaiting a step keeps the process alive, as a write would.
    w.ref();
    w.postMessage({ id, op, args });
  });
}
