/**
 * What the HDF5 codecs need from a platform. h5wasm reads and writes files by path only, so each
 * platform brings h5wasm (loaded on first use) and a place for scratch files h5wasm can open: Node
 * real temporary files (node/hdf5_node_host.ts), the browser Emscripten's in-memory file system
 * (memfs_host.ts). Everything else (layouts, trailers, checksums, streaming through the store) is
 * shared (checkpoint/codec_h5.ts, codec_keras.ts).
 */
import type { OpenedFile, StoredFile } from '../stores/store.js';
import type { H5Lib } from './h5wasm_module.js';

export interface Hdf5Host {
  /** h5wasm, ready; loaded on the first call (later calls share it). */
  h5wasm(): Promise<H5Lib>;
  /** Lets the page (or the process) run between long synchronous WASM calls. */
  pause(): Promise<void>;
  /**
   * Whether the files of a local-disk store (`StagedFile.writeLocal`, `OpenedFile.localPath`) are at
   * paths this host's h5wasm opens: then HDF5 writes and reads them in place, with no copy.
   */
  readonly storePaths: boolean;
  /** A fresh path for a scratch file (nothing there yet). */
  tempPath(extension: string): string;
  /** The path h5wasm is handed for `path`. */
  absolute(path: string): string;
  append(path: string, bytes: Uint8Array): Promise<void>;
  size(path: string): Promise<number>;
  /** The file's bytes in slices of at most 8 MiB, each a buffer of its own (for streaming into a store). */
  chunks(path: string): AsyncIterable<Uint8Array>;
  /** Creates `path` holding `length` bytes of `file` from `offset`, copied in slices of at most 8 MiB. */
  copyIn(file: StoredFile, path: string, offset: number, length: number): Promise<void>;
  /** Removes `path` if it is there. */
  remove(path: string): Promise<void>;
  /** What to check when writing a scratch file fails (disk space, page memory). */
  readonly writeAdvice: string;
}

/** Slices scratch files are streamed in: one store record, never a model-sized buffer. */
export const SCRATCH_SLICE = 8 * 1024 * 1024;

export interface LocalFile {
  path: string;
  cleanup(): Promise<void>;
}

/**
 * `length` bytes of `file` from `offset` (default: all of it) as a file h5wasm can open: the store's
 * own file where the host can open it, else a scratch copy, removed by `cleanup()`.
 */
export async function localCopy(host: Hdf5Host, file: OpenedFile, extension: string, range?: { offset: number; length: number }): Promise<LocalFile> {
  if (host.storePaths && file.localPath && !range) return { path: file.localPath, cleanup: async () => undefined };
  const { offset, length } = range ?? { offset: 0, length: file.size };
  const path = host.tempPath(extension);
  try {
    await host.copyIn(file, path, offset, length);
  } catch (e) {
    await host.remove(path);
    throw e;
  }
  return { path, cleanup: () => host.remove(path) };
}
