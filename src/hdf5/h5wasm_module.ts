/**
 * h5wasm (the HDF5 C library compiled to WebAssembly) as every platform uses it: its types, the one
 * setup step after loading, and the gist of its errors. Which build is loaded, and where its files
 * live, is the platform's HDF5 host's business (hdf5_host.ts).
 */
import { CheckpointError } from '../errors.js';

export type H5Wasm = typeof import('h5wasm');
export type H5Module = Awaited<H5Wasm['ready']>;

/** A loaded h5wasm: the high-level API and its Emscripten module. */
export interface H5Lib {
  h5: H5Wasm;
  module: H5Module;
}

/** Waits for h5wasm's module and makes every HDF5 failure a JS exception. */
export async function readyH5(h5: H5Wasm): Promise<H5Lib> {
  const module = await h5.ready;
  // Without this, HDF5 failures print a trace and return -1, which h5wasm's high-level API does not
  // check everywhere; with it, every failure is a JS exception we can turn into our errors.
  module.activate_throwing_error_handler();
  return { h5, module };
}

/** The error for an h5wasm that could not be loaded; `advice` says what to do on this platform. */
export function h5wasmLoadError(error: unknown, advice: string): CheckpointError {
  return new CheckpointError('UNSUPPORTED_FORMAT', `HDF5 files (.h5, .weights.h5, .keras) need the "h5wasm" package, which could not be loaded: ${(error as Error)?.message ?? String(error)}. ${advice}`, { cause: error });
}

/**
 * The gist of an h5wasm/HDF5 exception: its message is the whole HDF5 error stack; the innermost
 * frame ("file signature not found", "truncated file: eof = …") is the useful part.
 */
export function hdf5Reason(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const frames = [...text.matchAll(/#\d+: .*? in [\w:]+\(\): (.*)$/gm)].map((m) => m[1]!.trim());
  return frames.at(-1) ?? text.split('\n')[0]!.slice(0, 300);
}
