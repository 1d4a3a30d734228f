/**
 * Keras HDF5 formats in the browser (headless Chromium), on IndexedDB and OPFS: the page
 * (hdf5_page.ts) trains a seeded model with `modelCheckpoint` to `.keras`, full-model `.h5` and
 * `.weights.h5` files, loads each back and predicts exactly what the model did, verifies them, and
 * gets CORRUPT_CHECKPOINT for damaged copies. The bytes it stored are byte-compatible: Node's codec
 * (h5wasm on real files) loads them to exactly the page's weights and predictions, and, where a
 * Python with Keras is set up (test/python.ts), real Keras loads the browser-written files.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { chromium, type Browser } from 'playwright-core';
import { loadModel, loadWeights } from '../../src/index.js';
import { tempDir } from '../helpers.js';
import { lcgNumbers } from '../model_helpers.js';
import { findPython, NO_PYTHON_MESSAGE, runPython } from '../python.js';
import { buildPage, pageRoutes } from './build_page.js';
import { CHROMIUM, CHROMIUM_ARGS, NO_CHROMIUM, serve } from './harness.js';

const ENTRY = fileURLToPath(new URL('./hdf5_page.ts', import.meta.url));

type Formats = { keras: unknown; h5: unknown; weightsH5: unknown };
interface PageResult {
  error?: string;
  expected: number[];
  predictions: Formats;
  weights: number[][];
  verified: Formats;
  latest: Formats;
  corrupt: Record<string, { code?: string; message: string }>;
  files: { keras: string; h5: string; weightsH5: string };
}

const numbers = lcgNumbers;
const PROBE = () => tf.tensor2d(numbers(4 * 5, 15), [4, 5]);

/** The page's architecture (weights come from the files). */
function build(): tf.LayersModel {
  return tf.sequential({ layers: [tf.layers.dense({ inputShape: [5], units: 8, activation: 'relu' }), tf.layers.dense({ units: 3 })] });
}

const PY_LOAD = `
import json, sys, numpy as np, keras
args = json.load(sys.stdin)
probe = np.array(args['probe'], dtype=np.float32).reshape(4, 5)
model = keras.models.load_model(args['keras'], compile=False)
weights_only = keras.Sequential([keras.Input((5,)), keras.layers.Dense(8, activation='relu'), keras.layers.Dense(3)])
weights_only.load_weights(args['weightsH5'])
print(json.dumps({'keras': model.predict(probe, verbose=0).ravel().tolist(), 'weightsH5': weights_only.predict(probe, verbose=0).ravel().tolist()}))
`;

let bundle: string;
before(async () => {
  bundle = join(await tempDir('tfjs-ckpt-page-'), 'hdf5.js');
  await buildPage(ENTRY, bundle);
});

describe('Keras HDF5 files in the browser', { skip: NO_CHROMIUM }, () => {
  let browser: Browser;
  let server: Awaited<ReturnType<typeof serve>>;
  before(async () => {
    server = await serve(pageRoutes(bundle, '/hdf5.js', 'hdf5'));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  for (const store of ['indexeddb', 'opfs']) {
    it(`${store}: .keras, .h5 and .weights.h5 from modelCheckpoint load back exactly, verify, refuse damage, and Node and Keras read them`, { timeout: 180_000 }, async () => {
      const context = await browser.newContext(); // fresh storage
      const tab = await context.newPage();
      const errors: string[] = [];
      tab.on('pageerror', (e) => errors.push(String(e.stack ?? e)));
      let result: PageResult;
      try {
        await tab.goto(`${server.url}/?store=${store}`);
        result = (await (await tab.waitForFunction(() => window.__h5, undefined, { timeout: 150_000, polling: 100 })).jsonValue()) as unknown as PageResult;
      } finally {
        await context.close();
      }
      assert.equal(result.error, undefined, result.error);
      assert.deepEqual(errors, []);

      // In the page.
      const { expected } = result;
      assert.equal(expected.length, 12);
      assert.deepEqual(result.predictions, { keras: expected, h5: expected, weightsH5: expected });
      assert.deepEqual(result.verified, { keras: 'verified', h5: 'verified', weightsH5: 'verified' });
      assert.deepEqual(result.latest, { keras: `${store}://h5run/m02.keras`, h5: `${store}://h5run/full02.h5`, weightsH5: `${store}://h5run/w02.weights.h5` });
      for (const name of ['keras', 'h5', 'weightsH5']) {
        for (const action of ['Load', 'Verify']) {
          const error = result.corrupt[`${name}${action}`]!;
          assert.equal(error.code, 'CORRUPT_CHECKPOINT', `${name} ${action}: ${error.message}`);
          assert.match(error.message, /fails its checksum|damaged/, `${name} ${action}`);
        }
      }
      assert.equal(result.corrupt['signature']!.code, 'CORRUPT_CHECKPOINT', result.corrupt['signature']!.message);
      assert.match(result.corrupt['signature']!.message, /nosig\.h5.*(not a readable HDF5 file|could not be read as HDF5).*signature/);

      // In Node: the bytes the browser stored, read by Node's codec from real files.
      const dir = await tempDir('tfjs-ckpt-h5-browser-');
      const paths = { keras: join(dir, 'm.keras'), h5: join(dir, 'full.h5'), weightsH5: join(dir, 'w.weights.h5') };
      for (const [name, path] of Object.entries(paths)) await writeFile(path, Buffer.from(result.files[name as keyof typeof paths], 'base64'));
      const loaded = [await loadModel(paths.keras), await loadModel(paths.h5), build()];
      await loadWeights(loaded[2]!, paths.weightsH5);
      for (const model of loaded) {
        assert.deepEqual(await Promise.all(model.getWeights().map(async (w) => Array.from(await w.data()))), result.weights);
        const probe = PROBE();
        assert.deepEqual(Array.from(await (model.predict(probe) as tf.Tensor).data()), expected);
        probe.dispose();
      }

      // In Keras, where set up.
      if (findPython()) {
        const keras = runPython(PY_LOAD, { ...paths, probe: Array.from(numbers(4 * 5, 15)) }) as { keras: number[]; weightsH5: number[] };
        for (const [name, values] of Object.entries(keras)) {
          values.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) <= 1e-5, `Keras ${name}[${i}]: ${v} vs ${expected[i]}`));
        }
      } else {
        console.warn(`hdf5.test.ts: ${NO_PYTHON_MESSAGE}`);
      }
    });
  }
});
