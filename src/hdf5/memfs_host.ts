/**
 * The HDF5 host for browsers and workers (see hdf5_host.ts): h5wasm's ESM build, reached by a dynamic
 * import on first use, so bundlers give it a chunk of its own and a page that never touches an HDF5
 * file never downloads it; scratch files live in its Emscripten in-memory file system (MEMFS).
 *
 * Memory: MEMFS holds the whole HDF5 file while it is written (then it is streamed into the store in
 * 8 MiB slices and removed) or read (copied in from the store in 8 MiB slices, removed on close).
 * While HDF5 writes, MEMFS grows the file's buffer by 1/8 at a time (a copy each time), so a save
 * briefly needs about twice the model's size in page memory; a load, the model's size.
 */
import type { StoredFile } from '../stores/store.js';
import { SCRATCH_SLICE, type Hdf5Host } from './hdf5_host.js';
import { h5wasmLoadError, readyH5, type H5Lib, type H5Wasm } from './h5wasm_module.js';

/** The part of Emscripten's FS API used here. */
interface MemFs {
  open(path: string, flags: string): unknown;
  close(stream: unknown): void;
  read(stream: unknown, buffer: Uint8Array, offset: number, length: number, position: number): number;
  write(stream: unknown, buffer: Uint8Array, offset: number, length: number, position?: number): number;
  truncate(path: string, length: number): void;
  stat(path: string): { size: number };
  unlink(path: string): void;
}

const LOAD_ADVICE =
  'With a bundler, install h5wasm next to tfjs-checkpoint; with the plain bundle (dist/browser/tfjs-checkpoint.js), serve tfjs-checkpoint.h5wasm.js next to it. ' +
  'Or save as .safetensors or in the TF.js layout, which need no HDF5.';

let loading: Promise<H5Lib> | undefined;

function load(): Promise<H5Lib> {
  loading ??= (async () => {
    try {
      return await readyH5((await import('h5wasm')) as H5Wasm);
    } catch (error) {
      loading = undefined; // a later save may try again (the network came back)
      throw h5wasmLoadError(error, LOAD_ADVICE);
    }
  })();
  return loading;
}

async function fs(): Promise<MemFs> {
  return (await load()).module.FS as unknown as MemFs;
}

/** A macrotask, so the page renders and fit's callbacks run; unlike setTimeout(0), never clamped to 4 ms. */
function pause(): Promise<void> {
  return new Promise((done) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      done();
    };
    channel.port2.postMessage(null);
  });
}

async function* chunks(path: string): AsyncIterable<Uint8Array> {
  const memfs = await fs();
  const size = memfs.stat(path).size;
  const stream = memfs.open(path, 'r');
  try {
    for (let done = 0; done < size; ) {
      // A buffer per slice: the store may keep it (an IndexedDB record) after the next one is read.
      const slice = new Uint8Array(Math.min(SCRATCH_SLICE, size - done));
      const n = memfs.read(stream, slice, 0, slice.byteLength, done);
      if (n !== slice.byteLength) throw new Error(`short read of ${path} at ${done}`);
      yield slice;
      done += n;
    }
  } finally {
    memfs.close(stream);
  }
}

async function copyIn(file: StoredFile, path: string, offset: number, length: number): Promise<void> {
  const memfs = await fs();
  const stream = memfs.open(path, 'w'); // a fresh tempPath: nothing to replace
  try {
    // Sized once: MEMFS then holds exactly the file, with no growing copies.
    memfs.truncate(path, length);
    const buffer = new Uint8Array(Math.min(SCRATCH_SLICE, Math.max(length, 1)));
    for (let done = 0; done < length; ) {
      const n = Math.min(buffer.byteLength, length - done);
      await file.read(buffer, 0, n, offset + done);
      memfs.write(stream, buffer, 0, n, done);
      done += n;
    }
  } finally {
    memfs.close(stream);
  }
}

let files = 0;

export const memfsHdf5Host: Hdf5Host = {
  h5wasm: load,
  pause,
  storePaths: false,
  tempPath: (extension) => `/tmp/tfjs-checkpoint-${++files}-${Math.random().toString(36).slice(2, 10)}${extension}`,
  absolute: (path) => path,
  append: async (path, bytes) => {
    const memfs = await fs();
    const stream = memfs.open(path, 'a');
    try {
      memfs.write(stream, bytes, 0, bytes.byteLength);
    } finally {
      memfs.close(stream);
    }
  },
  size: async (path) => (await fs()).stat(path).size,
  chunks,
  copyIn,
  remove: async (path) => {
    const memfs = await fs();
    try {
      memfs.unlink(path);
    } catch {
      // not there: nothing to remove
    }
  },
  writeAdvice:
    'In the browser the HDF5 file is built in page memory (about twice the model\'s size while it is written): close other tabs or free memory, or save as .safetensors or in the TF.js layout, which stream.',
};
