/**
 * What a checkpoint costs a page training on each TF.js backend (cpu, wasm, WebGL and WebGPU on
 * SwiftShader): `npx tsx bench/browser_backends.ts` (`BACKENDS=cpu,webgl` for some of them). For each, the same training with and without a
 * weights-only `modelCheckpoint` to IndexedDB every epoch, in headless Chromium: the time `fit` is held
 * per checkpoint, the longest gap between animation frames (with and without: the difference is what the
 * save adds), the JS heap's peak above where it started, and `fit`'s wall time.
 */
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_WEBGPU_ARGS } from '../test/browser/harness.js';
import { servePage } from './lib/browser_page.js';

const WASM_DIR = join(process.cwd(), 'node_modules/@tensorflow/tfjs-backend-wasm/dist');
const wasm = Object.fromEntries(['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'].map((f) => [`/wasm/${f}`, join(WASM_DIR, f)]));
const server = await servePage(new URL('./browser_backends_page.ts', import.meta.url), 'backends', wasm);
const browser = await chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_WEBGPU_ARGS, '--enable-precise-memory-info'] });
const rows: string[] = [];
try {
  // BACKENDS=cpu,webgl runs only those.
  for (const backend of (process.env['BACKENDS'] ?? 'cpu,wasm,webgl,webgpu').split(',')) {
    const result: Record<string, Record<string, unknown>> = {};
    for (const mode of ['none', 'ckpt']) {
      const context = await browser.newContext();
      const tab = await context.newPage();
      await tab.goto(`${server.url}/?backend=${backend}&mode=${mode}`);
      const r = (await (await tab.waitForFunction(() => window.__bench, undefined, { timeout: 20 * 60_000, polling: 500 })).jsonValue()) as Record<string, unknown>;
      if (r['error']) throw new Error(`${backend}/${mode}: ${r['error']}`);
      result[mode] = r;
      await context.close();
    }
    const blocked = result['ckpt']!['blockedMs'] as number[];
    const f = (v: unknown) => Number(v).toFixed(1);
    rows.push(
      `| ${backend} | ${f(result['ckpt']!['weightMiB'])} | ${f(Math.max(...blocked))} (median ${f(blocked.sort((a, b) => a - b)[blocked.length >> 1])}) | ` +
        `${f(result['none']!['maxFrameGapMs'])} / ${f(result['ckpt']!['maxFrameGapMs'])} | ${f(result['none']!['heapExtraMiB'])} / ${f(result['ckpt']!['heapExtraMiB'])} | ` +
        `${f(Number(result['none']!['fitMs']) / 1000)} / ${f(Number(result['ckpt']!['fitMs']) / 1000)} |`,
    );
    console.log(rows[rows.length - 1]);
  }
} finally {
  await browser.close();
  await server.close();
}
console.log('\n| backend | weights MiB | fit held per checkpoint, ms: max (median) | longest frame gap ms: without / with | JS heap peak above start MiB: without / with | fit s: without / with |');
console.log('|---|---|---|---|---|---|');
for (const row of rows) console.log(row);
