/**
 * h5wasm (the HDF5 C library compiled to WebAssembly), node build: it reads and writes real files by
 * path. Loaded on first use with a dynamic import, so programs that never touch an .h5 file never
 * load (or pay for) the WASM module.
 */
import { CheckpointError } from '../errors.js';

export type H5Wasm = typeof import('h5wasm/node');
export type H5Module = Awaited<H5Wasm['ready']>;

let loading: Promise<{ h5: H5Wasm; module: H5Module }> | undefined;

/**
 * A real import() in both builds: tsc's CommonJS output turns import() into require(), which cannot
 * load h5wasm (an ES module whose package exports offer only "import").
 */
const importModule = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<unknown>;

/** The h5wasm node module, ready to use. One instance per process: WASM memory is shared by all files. */
export function loadH5Wasm(): Promise<{ h5: H5Wasm; module: H5Module }> {
  loading ??= (async () => {
    let h5: H5Wasm;
    try {
      h5 = (await importModule('h5wasm/node')) as H5Wasm;
    } catch (error) {
      loading = undefined;
      throw new CheckpointError('UNSUPPORTED_FORMAT', `HDF5 (.h5) files need the "h5wasm" package, which could not be loaded: ${(error as Error).message}. Install it next to tfjs-checkpoint.`, { cause: error });
    }
    const module = await h5.ready;
    // Without this, HDF5 failures print a trace to stderr and return -1, which h5wasm's high-level API
    // does not check everywhere; with it, every failure is a JS exception we can turn into our errors.
    module.activate_throwing_error_handler();
    return { h5, module };
  })();
  return loading;
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
