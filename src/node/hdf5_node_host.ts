/**
 * The HDF5 host for Node (see hdf5/hdf5_host.ts): h5wasm's node build, which reads and writes real
 * files by path, and scratch files in the OS's temporary directory, streamed in 8 MiB slices (never
 * whole in memory). The fs store's files are opened in place (`storePaths`).
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { appendFile, open, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { StoredFile } from '../stores/store.js';
import { SCRATCH_SLICE, type Hdf5Host } from '../hdf5/hdf5_host.js';
import { h5wasmLoadError, readyH5, type H5Lib, type H5Wasm } from '../hdf5/h5wasm_module.js';

/**
 * A real import() in both builds: tsc's CommonJS output turns import() into require(), which cannot
 * load h5wasm (an ES module whose package exports offer only "import").
 */
const importModule = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<unknown>;

let loading: Promise<H5Lib> | undefined;

/** The h5wasm node module, ready to use. One instance per process: WASM memory is shared by all files. */
function loadH5Wasm(): Promise<H5Lib> {
  loading ??= (async () => {
    let h5: H5Wasm;
    try {
      h5 = (await importModule('h5wasm/node')) as H5Wasm;
    } catch (error) {
      loading = undefined;
      throw h5wasmLoadError(error, 'Install it next to tfjs-checkpoint.');
    }
    return readyH5(h5);
  })();
  return loading;
}

async function copyIn(file: StoredFile, path: string, offset: number, length: number): Promise<void> {
  const out = await open(path, 'wx', 0o600);
  try {
    const buffer = new Uint8Array(Math.min(SCRATCH_SLICE, Math.max(length, 1)));
    for (let done = 0; done < length; ) {
      const n = Math.min(buffer.byteLength, length - done);
      await file.read(buffer, 0, n, offset + done);
      await out.write(buffer, 0, n, done);
      done += n;
    }
  } finally {
    await out.close();
  }
}

async function* chunks(path: string): AsyncIterable<Uint8Array> {
  for await (const chunk of createReadStream(path, { highWaterMark: SCRATCH_SLICE })) yield chunk as Uint8Array;
}

export const nodeHdf5Host: Hdf5Host = {
  h5wasm: loadH5Wasm,
  pause: () => new Promise<void>((done) => setImmediate(done)),
  storePaths: true,
  tempPath: (extension) => join(tmpdir(), `tfjs-checkpoint-${process.pid}-${randomBytes(6).toString('hex')}${extension}`),
  absolute: (path) => resolve(path),
  append: (path, bytes) => appendFile(path, bytes),
  size: async (path) => (await stat(path)).size,
  chunks,
  copyIn,
  remove: (path) => rm(path, { force: true }),
  writeAdvice: 'Check the directory exists, is writable and has space.',
};
