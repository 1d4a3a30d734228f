/**
 * Test pages for headless Chromium: a TypeScript entry (and everything it imports: the library's
 * sources, test suites written for Node's runner) bundled by esbuild into one ESM file, with the
 * `node:` modules those suites import swapped for the browser shims in ./shims/ and TF.js left
 * external (the page maps it to TF.js's own ESM build with an import map, as bundle.test.ts does).
 * Not minified, with a source map, so page stacks can be mapped back to the sources (`stackMapper`).
 */
import { readFile } from 'node:fs/promises';
import { SourceMap, type SourceMapPayload, type SourceMapping } from 'node:module';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Metafile, type Plugin } from 'esbuild';
import { TFJS_ESM } from './harness.js';

const here = dirname(fileURLToPath(import.meta.url));
const shim = (name: string) => resolve(here, 'shims', name);

/** What stays outside the page bundle: TF.js, one copy, from the import map. */
export const PAGE_EXTERNALS = ['@tensorflow/tfjs-core', '@tensorflow/tfjs-layers', '@tensorflow/tfjs'];

/** The `node:` modules a page may import, and the browser shims that stand in for them. Any other is a build error. */
export const NODE_SHIMS: Record<string, string> = {
  'node:test': shim('node_test.ts'),
  'node:assert/strict': shim('assert.ts'),
  'node:assert': shim('assert.ts'),
  'node:zlib': shim('zlib.ts'),
  'node:fs/promises': shim('fs_promises.ts'),
};

/**
 * Bundles `entry` into `outfile` (plus `outfile.map`) for a page, with modules swapped as `alias` says;
 * returns esbuild's metafile. `tfjsUrl` makes TF.js an import of that URL instead of a bare name: a
 * module worker has no import map.
 */
export async function buildPage(entry: string, outfile: string, alias: Record<string, string> = {}, { tfjsUrl }: { tfjsUrl?: string } = {}): Promise<Metafile> {
  const tfjsAt: Plugin = {
    name: 'tfjs-at-url',
    setup(b) {
      b.onResolve({ filter: /^@tensorflow\/tfjs(-core|-layers)?$/ }, () => ({ path: tfjsUrl!, external: true }));
    },
  };
  const result = await build({
    ...(tfjsUrl ? { plugins: [tfjsAt] } : {}),
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: false,
    sourcemap: true,
    external: PAGE_EXTERNALS,
    alias: { ...NODE_SHIMS, ...alias },
    metafile: true,
    logLevel: 'warning',
  });
  const text = await readFile(outfile, 'utf8');
  const leaked = [...text.matchAll(/(?:from|import)\s*\(?\s*["'](node:[^"']+)["']/g)].map((m) => m[1]);
  if (leaked.length > 0) throw new Error(`${outfile} still imports ${[...new Set(leaked)].join(', ')}: add a shim to NODE_SHIMS`);
  return result.metafile;
}

/** A page that maps TF.js to /tf.js and runs `script` (a URL path on the same server) as a module. */
export function pageHtml(script: string, title = 'test page'): string {
  const imports = Object.fromEntries(PAGE_EXTERNALS.map((name) => [name, '/tf.js']));
  return `<!doctype html><meta charset="utf-8"><title>${title}</title>
<link rel="icon" href="data:,">
<script type="importmap">${JSON.stringify({ imports })}</script>
<script type="module" src="${script}"></script>`;
}

/** Routes for `serve()` (harness.ts): the page at `/`, the bundle and its map at `script`, TF.js at /tf.js. */
export function pageRoutes(outfile: string, script = '/page.js', title?: string): Record<string, string | { text: string }> {
  return { '/': { text: pageHtml(script, title) }, '/tf.js': TFJS_ESM, [script]: outfile, [`${script}.map`]: `${outfile}.map` };
}

/**
 * Maps the positions in a page's stack text that point into the bundle (`bundleUrl:line:column`)
 * back to the sources (`test/stores/conformance.ts:line:column`, relative to the working directory).
 */
export async function stackMapper(outfile: string, bundleUrl: string): Promise<(stack: string) => string> {
  const payload = JSON.parse(await readFile(`${outfile}.map`, 'utf8')) as SourceMapPayload;
  const map = new SourceMap(payload);
  const base = dirname(outfile);
  const escaped = bundleUrl.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const position = new RegExp(`${escaped}:(\\d+):(\\d+)`, 'g');
  return (stack) =>
    stack.replace(position, (whole, line: string, column: string) => {
      const entry = map.findEntry(Number(line) - 1, Number(column) - 1) as Partial<SourceMapping>;
      if (entry.originalSource === undefined || entry.originalLine === undefined || entry.originalColumn === undefined) return whole;
      const source = entry.originalSource.startsWith('file:') ? fileURLToPath(entry.originalSource) : resolve(base, entry.originalSource);
      return `${relative(process.cwd(), source)}:${entry.originalLine + 1}:${entry.originalColumn + 1}`;
    });
}
