/**
 * The browser build: `dist/browser/tfjs-checkpoint.js` (built here with the same script as
 * `npm run build`) imports no `node:` module and nothing Node-only, and a plain `<script type="module">`
 * page in headless Chromium, with TF.js mapped by an import map, trains nothing fancy but saves and
 * loads weights on `memory://` in the TF.js layout and as safetensors, verifies them and finds the
 * latest without ever fetching h5wasm; h5wasm (tfjs-checkpoint.h5wasm.js, next to the bundle) is
 * fetched on the first `.weights.h5` save, which then loads back; without that file, the clear error.
 */
import assert from 'node:assert/strict';
import { builtinModules } from 'node:module';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { BROWSER_EXTERNALS, buildBrowserBundle, h5wasmFileOf } from '../../scripts/browser-bundle.mjs';
import { tempDir } from '../helpers.js';
import { CHROMIUM, CHROMIUM_ARGS, NO_CHROMIUM, serve, TFJS_ESM } from './harness.js';

let bundle: string;
before(async () => {
  bundle = join(await tempDir(), 'tfjs-checkpoint.js');
  await buildBrowserBundle(bundle);
});

describe('the browser bundle', () => {
  it('imports no node: module and nothing but TF.js from outside; h5wasm only dynamically, from the file beside it', async () => {
    const text = await readFile(bundle, 'utf8');
    const node = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
    const imported = [...text.matchAll(/(?:from|import)\s*["']([^"']+)["']/g)].map((m) => m[1]!);
    assert.deepEqual(imported.filter((s) => node.has(s) || s.startsWith('node:')), []);
    assert.deepEqual([...new Set(imported)].sort(), [...BROWSER_EXTERNALS].sort());
    assert.doesNotMatch(text, /\brequire\(["'](node:|fs|path|os|crypto|zlib)/);
    const dynamic = [...text.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]!);
    assert.deepEqual(dynamic, ['./tfjs-checkpoint.h5wasm.js']);
    const h5wasm = await readFile(h5wasmFileOf(bundle), 'utf8');
    assert.doesNotMatch(h5wasm, /(?:from|import)\s*\(?\s*["'](node:|fs|path|os|crypto)["']/);
    assert.doesNotMatch(h5wasm, /\brequire\(["'](node:|fs|path|os|crypto|zlib)/);
  });

  describe('in headless Chromium, from a plain module script', { skip: NO_CHROMIUM }, () => {
    let browser: Browser;
    before(async () => {
      browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    });
    after(() => browser?.close());

    it('saves, loads, verifies and finds checkpoints on memory://, in the TF.js layout, as safetensors and (fetching h5wasm only then) as .weights.h5', async () => {
      const page = `<!doctype html><meta charset="utf-8">
<script type="importmap">{"imports": {"@tensorflow/tfjs-core": "/tf.js", "@tensorflow/tfjs-layers": "/tf.js", "@tensorflow/tfjs": "/tf.js"}}</script>
<script type="module">
  import * as tf from '@tensorflow/tfjs';
  import { saveWeights, loadWeights, verify, latestCheckpoint, modelCheckpoint } from '/tfjs-checkpoint.js';
  const build = () => tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units: 4, activation: 'relu' }), tf.layers.dense({ units: 2 })] });
  const same = (a, b) => a.getWeights().every((w, i) => tf.equal(w, b.getWeights()[i]).all().dataSync()[0] === 1);
  try {
    await tf.setBackend('cpu');
    const model = build();
    model.compile({ optimizer: 'adam', loss: 'meanSquaredError' });
    const x = tf.randomNormal([16, 3]), y = tf.randomNormal([16, 2]);
    await model.fit(x, y, { epochs: 2, verbose: 0, callbacks: [modelCheckpoint({ filepath: 'memory://run/w{epoch:02d}', saveWeightsOnly: true })] });
    const folder = build(); await loadWeights(folder, 'memory://run/w02');
    await saveWeights(model, 'memory://run/w.safetensors');
    const st = build(); await loadWeights(st, 'memory://run/w.safetensors');
    const h5wasmFetched = () => performance.getEntriesByType('resource').some((e) => e.name.endsWith('/tfjs-checkpoint.h5wasm.js'));
    const before = h5wasmFetched();
    let hdf5;
    try {
      await saveWeights(model, 'memory://run/w.weights.h5');
      const h5 = build(); await loadWeights(h5, 'memory://run/w.weights.h5');
      hdf5 = same(h5, model) && (await verify('memory://run/w.weights.h5')).checksums;
    } catch (e) { hdf5 = e.code + ': ' + e.message; }
    window.__result = {
      folder: same(folder, model), safetensors: same(st, model),
      verified: [(await verify('memory://run/w02')).checksums, (await verify('memory://run/w.safetensors')).checksums],
      latest: await latestCheckpoint('memory://run/w{epoch:02d}'), h5wasm: [before, h5wasmFetched()], hdf5,
    };
  } catch (e) { window.__result = { error: String(e && e.stack || e) }; }
</script>`;
      const run = async (withH5wasm: boolean) => {
        const routes = { '/': { text: page }, '/tf.js': TFJS_ESM, '/tfjs-checkpoint.js': bundle, '/tfjs-checkpoint.js.map': `${bundle}.map`, ...(withH5wasm ? { '/tfjs-checkpoint.h5wasm.js': h5wasmFileOf(bundle) } : {}) };
        const server = await serve(routes);
        const tab = await browser.newPage();
        const errors: string[] = [];
        tab.on('pageerror', (e) => errors.push(String(e)));
        try {
          await tab.goto(`${server.url}/`);
          const result = (await (await tab.waitForFunction(() => (window as unknown as { __result?: unknown }).__result, undefined, { timeout: 60_000 })).jsonValue()) as Record<string, unknown>;
          assert.equal(result['error'], undefined, String(result['error']));
          assert.deepEqual(errors, []);
          return result;
        } finally {
          await tab.close();
          await server.close();
        }
      };
      const result = await run(true);
      assert.deepEqual(result, { folder: true, safetensors: true, verified: ['verified', 'verified'], latest: 'memory://run/w02', h5wasm: [false, true], hdf5: 'verified' });
      // The page served without the h5wasm file: the rest works, HDF5 says what is missing.
      const without = await run(false);
      assert.equal(without['folder'], true);
      assert.match(String(without['hdf5']), /^UNSUPPORTED_FORMAT: HDF5 files \(\.h5, \.weights\.h5, \.keras\) need the "h5wasm" package, which could not be loaded: .*serve tfjs-checkpoint\.h5wasm\.js next to it/);
    });
  });
});
