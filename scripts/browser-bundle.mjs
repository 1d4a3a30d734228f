// The browser build: one ESM file of the universal entry (dist/browser/tfjs-checkpoint.js) for a plain
// <script type="module">. TF.js stays external: the page maps '@tensorflow/tfjs-core' and
// '@tensorflow/tfjs-layers' to its own TF.js ESM build (an import map), so there is one TF.js.
// h5wasm (4 MB, for .h5 and .keras files) is a second file next to it (tfjs-checkpoint.h5wasm.js),
// imported by a relative dynamic import on first use of an HDF5 file: a page that never touches one
// never downloads it, and a page needs no import map entry for it.
import { build } from 'esbuild';
import { basename, dirname, join } from 'node:path';

export const BROWSER_EXTERNALS = ['@tensorflow/tfjs-core', '@tensorflow/tfjs-layers'];

/** The h5wasm file that goes next to the bundle `outfile`. */
export function h5wasmFileOf(outfile) {
  return join(dirname(outfile), `${basename(outfile, '.js')}.h5wasm.js`);
}

const common = { bundle: true, format: 'esm', platform: 'browser', target: 'es2020', minify: true, sourcemap: true, metafile: true, logLevel: 'warning' };

/** Bundles the universal entry into `outfile`, and h5wasm next to it; returns esbuild's metafiles (what went into each). */
export async function buildBrowserBundle(outfile = 'dist/browser/tfjs-checkpoint.js') {
  const h5wasmFile = h5wasmFileOf(outfile);
  const main = await build({
    ...common,
    entryPoints: [new URL('../src/universal.ts', import.meta.url).pathname],
    outfile,
    external: BROWSER_EXTERNALS,
    plugins: [
      {
        name: 'h5wasm-beside',
        setup(b) {
          // Only the browser HDF5 host imports it (dynamically): point it at the file next to the bundle.
          b.onResolve({ filter: /^h5wasm$/ }, () => ({ path: `./${basename(h5wasmFile)}`, external: true }));
        },
      },
    ],
  });
  // utf8: the WASM binary is a string of raw bytes, which ASCII escapes would make 40% larger; no source map for machine code.
  const h5wasm = await build({ ...common, charset: 'utf8', sourcemap: false, stdin: { contents: "export * from 'h5wasm';", resolveDir: new URL('..', import.meta.url).pathname }, outfile: h5wasmFile });
  return { main: main.metafile, h5wasm: h5wasm.metafile };
}

if (process.argv[1] && new URL(import.meta.url).pathname === process.argv[1]) await buildBrowserBundle(process.argv[2]);
