/**
 * The package's `browser` export through Vite, as an app would use it: a project with the packed
 * tarball installed (and this checkout's TF.js linked) that imports 'tfjs-checkpoint' and
 * '@tensorflow/tfjs' is built
 * with Vite, which must find no Node module to stub out and which puts h5wasm in a chunk of its own
 * (fetched on first use of an HDF5 file); the built page then saves and loads weights on IndexedDB,
 * in the TF.js layout and as `.weights.h5`, in headless Chromium.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { build } from 'vite';
import { installPacked, linkTfjs } from '../packed_install.js';
import { CHROMIUM, CHROMIUM_ARGS, NO_CHROMIUM, serve } from './harness.js';

const APP = `import * as tf from '@tensorflow/tfjs';
import { saveWeights, loadWeights, verify } from 'tfjs-checkpoint';
const build = () => tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units: 2, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) })] });
try {
  const model = build();
  await saveWeights(model, 'indexeddb://vite/w');
  const back = tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units: 2 })] });
  await loadWeights(back, 'indexeddb://vite/w');
  const same = model.getWeights().every((w, i) => tf.equal(w, back.getWeights()[i]).all().dataSync()[0] === 1);
  await saveWeights(model, 'indexeddb://vite/w.weights.h5');
  const h5 = tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units: 2 })] });
  await loadWeights(h5, 'indexeddb://vite/w.weights.h5');
  const sameH5 = model.getWeights().every((w, i) => tf.equal(w, h5.getWeights()[i]).all().dataSync()[0] === 1);
  window.__vite = { same, checksums: (await verify('indexeddb://vite/w')).checksums, sameH5, checksumsH5: (await verify('indexeddb://vite/w.weights.h5')).checksums };
} catch (e) { window.__vite = { error: String(e && e.stack || e) }; }
`;

let outDir: string;
let warnings: string[] = [];
before(async () => {
  // The package's exports point into dist/: build it when this checkout has not (.ci/run builds first).
  if (!existsSync('dist/esm/universal.js')) {
    const built = spawnSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
    assert.equal(built.status, 0, 'npm run build failed');
  }
  // The package as published: the packed tarball installed with its dependencies (TF.js linked).
  const project = await installPacked();
  await linkTfjs(project);
  await writeFile(join(project, 'index.html'), '<!doctype html><script type="module" src="/main.js"></script>');
  await writeFile(join(project, 'main.js'), APP);
  outDir = join(project, 'dist');
  warnings = [];
  await build({
    root: project,
    logLevel: 'warn',
    build: { outDir, target: 'es2022', minify: false },
    customLogger: { info: () => undefined, warn: (m: string) => void warnings.push(m), warnOnce: (m: string) => void warnings.push(m), error: (m: string) => void warnings.push(m), clearScreen: () => undefined, hasErrorLogged: () => false, hasWarned: false },
  });
});

describe('the browser export through Vite', () => {
  it('builds with no Node module stubbed out and no node: import', async () => {
    const assets = join(outDir, 'assets');
    const code = (await Promise.all((await readdir(assets)).filter((f) => f.endsWith('.js')).map((f) => readFile(join(assets, f), 'utf8')))).join('\n');
    assert.ok(code.includes('indexeddb'), 'the library is in the bundle');
    assert.doesNotMatch(code, /__vite-browser-external/);
    assert.doesNotMatch(code, /["']node:/);
    assert.deepEqual(warnings.filter((w) => /externalized for browser|node:/.test(w)), []);
    // h5wasm (its WASM glue calls H5open) is in a chunk the entry chunk only imports dynamically.
    const entry = /src="\/assets\/([^"]+\.js)"/.exec(await readFile(join(outDir, 'index.html'), 'utf8'))![1]!;
    const entryCode = await readFile(join(assets, entry), 'utf8');
    assert.doesNotMatch(entryCode, /H5open/);
    assert.ok((await readdir(assets)).some((f) => f !== entry && f.endsWith('.js')), 'a chunk besides the entry');
    assert.match(code, /H5open/);
  });

  describe('in headless Chromium', { skip: NO_CHROMIUM }, () => {
    let browser: Browser;
    before(async () => {
      browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    });
    after(() => browser?.close());

    it('the built app saves, loads and verifies weights on IndexedDB, also as .weights.h5', async () => {
      const files = await readdir(join(outDir, 'assets'));
      const routes: Record<string, string> = { '/index.html': join(outDir, 'index.html') };
      for (const f of files) routes[`/assets/${f}`] = join(outDir, 'assets', f);
      const server = await serve(routes);
      const tab = await browser.newPage();
      try {
        await tab.goto(`${server.url}/index.html`);
        const result = await (await tab.waitForFunction(() => (window as unknown as { __vite?: unknown }).__vite, undefined, { timeout: 60_000 })).jsonValue();
        assert.deepEqual(result, { same: true, checksums: 'verified', sameH5: true, checksumsH5: 'verified' });
      } finally {
        await tab.close();
        await server.close();
      }
    });
  });
});
