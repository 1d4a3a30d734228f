/**
 * Train, reload, resume, in headless Chromium, on each browser store and each TF.js backend (cpu,
 * wasm, WebGL on SwiftShader, WebGPU on SwiftShader): the page (resume_page.ts) trains with
 * `modelCheckpoint` and `backupAndRestore`, is loaded again (nothing survives but the store), and
 * must find the best model holding exactly the values the model had at its best epoch (the snapshot
 * is taken while training goes on, so a backend that updated weights in place would show here), the
 * backup's epoch and weights, and a best score a new `modelCheckpoint` knows when training begins.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { tempDir } from '../helpers.js';
import { buildPage, pageRoutes } from './build_page.js';
import { CHROMIUM, CHROMIUM_WEBGPU_ARGS, NO_CHROMIUM, serve } from './harness.js';

const ENTRY = fileURLToPath(new URL('./resume_page.ts', import.meta.url));
const WASM_DIR = join(process.cwd(), 'node_modules/@tensorflow/tfjs-backend-wasm/dist');
const WASM_FILES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'];

type Result = Record<string, unknown> & { error?: string };

const NO_WEBGPU = existsSync(join(process.cwd(), 'node_modules/@tensorflow/tfjs-backend-webgpu/package.json'))
  ? undefined
  : 'the WebGPU backend is not installed (it has no release for this tfjs version)';

let bundle: string;
before(async () => {
  bundle = join(await tempDir('tfjs-ckpt-page-'), 'resume.js');
  // Without the WebGPU backend (the oldest-tfjs leg: it has no release that old), an empty module stands in.
  await buildPage(ENTRY, bundle, NO_WEBGPU ? { '@tensorflow/tfjs-backend-webgpu': fileURLToPath(new URL('./shims/empty.ts', import.meta.url)) } : {});
});

describe('train, reload and resume in the browser', { skip: NO_CHROMIUM }, () => {
  let browser: Browser;
  let server: Awaited<ReturnType<typeof serve>>;
  before(async () => {
    const wasm = Object.fromEntries(WASM_FILES.map((f) => [`/wasm/${f}`, join(WASM_DIR, f)]));
    server = await serve({ ...pageRoutes(bundle, '/resume.js', 'resume'), ...wasm });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_WEBGPU_ARGS });
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  for (const store of ['indexeddb', 'opfs']) {
    for (const backend of ['cpu', 'wasm', 'webgl', 'webgpu']) {
      const skip = backend === 'webgpu' ? NO_WEBGPU : undefined;
      it(`${store}, ${backend} backend: the best model and score survive a reload, and training resumes from the backup`, { timeout: 180_000, skip }, async () => {
        const context = await browser.newContext(); // fresh storage
        const tab = await context.newPage();
        const errors: string[] = [];
        let failed!: (e: Error) => void;
        const pageFailed = new Promise<never>((_, reject) => (failed = reject));
        pageFailed.catch(() => undefined);
        tab.on('pageerror', (e) => {
          errors.push(String(e.stack ?? e));
          failed(new Error(`uncaught error in the page: ${e.stack ?? e}`));
        });
        if (process.env['TFJS_CKPT_BROWSER_VERBOSE']) tab.on('console', (m) => console.error(`[page ${m.type()}] ${m.text()}`));
        const run = async (phase: string): Promise<Result> => {
          await tab.goto(`${server.url}/?store=${store}&backend=${backend}&phase=${phase}`);
          const handle = await Promise.race([tab.waitForFunction(() => window.__resume, undefined, { timeout: 150_000, polling: 100 }), pageFailed]);
          const result = (await handle.jsonValue()) as Result;
          assert.equal(result.error, undefined, `${phase}: ${result.error}`);
          return result;
        };
        try {
          const trained = await run('train');
          assert.equal(trained['backend'], backend);
          assert.equal(trained['verified'], 'verified');
          assert.ok(Number.isFinite(trained['best']), `best: ${trained['best']}`);
          assert.ok((trained['bestEpochs'] as number[]).length > 0);
          const resumed = await run('resume');
          assert.equal(resumed['backend'], backend);
          assert.deepEqual(resumed['bestPredictions'], trained['atBest'], 'the best model holds exactly the weights of its epoch');
          assert.deepEqual(resumed['stockPredictions'], trained['atBest'], 'stock tf.loadLayersModel(fileLoadHandler(url)) loads it');
          if (store === 'indexeddb') {
            assert.deepEqual(resumed['stockIndexedDb'], trained['atBest'], "TF.js's own indexeddb:// handler still works beside ours");
            assert.deepEqual(resumed['stockByName'], trained['atBest'], `stock tf.loadLayersModel('${store}://resume-${backend}/best') loads the checkpoint by name`);
          }
          assert.equal(resumed['initialEpoch'], 3);
          assert.deepEqual(resumed['restored'], trained['trained'], 'the backup holds the weights training ended with');
          assert.equal(resumed['bestAtStart'], trained['best'], 'the resumed checkpoint knows the best score');
          assert.ok((resumed['bestAfter'] as number) <= (trained['best'] as number));
          assert.equal(resumed['latest'], `${store}://resume-${backend}/best`);
          assert.deepEqual(errors, []);
        } finally {
          await context.close();
        }
      });
    }
  }
});
