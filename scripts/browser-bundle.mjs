// The browser build: one ESM file of the universal entry (dist/browser/tfjs-checkpoint.js) for a plain
// <script type="module">. TF.js stays external: the page maps '@tensorflow/tfjs-core' and
// '@tensorflow/tfjs-layers' to its own TF.js ESM build (an import map), so there is one TF.js.
import { build } from 'esbuild';

export const BROWSER_EXTERNALS = ['@tensorflow/tfjs-core', '@tensorflow/tfjs-layers'];

/** Bundles the universal entry into `outfile`; returns esbuild's metafile (what went in). */
export async function buildBrowserBundle(outfile = 'dist/browser/tfjs-checkpoint.js') {
  const result = await build({
    entryPoints: [new URL('../src/universal.ts', import.meta.url).pathname],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2020',
    minify: true,
    external: BROWSER_EXTERNALS,
    sourcemap: true,
    metafile: true,
    logLevel: 'warning',
  });
  return result.metafile;
}

if (process.argv[1] && new URL(import.meta.url).pathname === process.argv[1]) await buildBrowserBundle(process.argv[2]);
