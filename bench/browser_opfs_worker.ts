/**
 * OPFS in a dedicated worker: writable streams against synchronous access handles (the store's
 * default there), the same weights saved in alternating rounds, in headless Chromium with a profile on
 * disk (`npx tsx bench/browser_opfs_worker.ts`; MIB=…, ROUNDS=…). Prints the median time to durable
 * of each and their ratio.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { buildPage, pageHtml, pageRoutes } from '../test/browser/build_page.js';
import { CHROMIUM, CHROMIUM_ARGS, serve } from '../test/browser/harness.js';
import { tempDir } from '../test/helpers.js';

const mib = Number(process.env['MIB'] ?? 256);
const rounds = Number(process.env['ROUNDS'] ?? 3);
const worker = join(await tempDir('tfjs-ckpt-bench-'), 'opfs-worker.js');
await buildPage(fileURLToPath(new URL('./browser_opfs_worker_page.ts', import.meta.url)), worker, {}, { tfjsUrl: '/tf.js' });
const page = `
const w = new Worker('/opfs-worker.js?mib=${mib}&rounds=${rounds}', { type: 'module' });
w.onmessage = (e) => { window.__opfs = e.data; };
w.onerror = (e) => { window.__opfs = { error: e.message }; };`;
const server = await serve({ ...pageRoutes(worker, '/opfs-worker.js'), '/': { text: pageHtml('/page.js', 'opfs in a worker') }, '/page.js': { text: page } });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
try {
  const context = await chromium.launchPersistentContext(await tempDir('tfjs-ckpt-profile-'), { executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const tab = await context.newPage();
  await tab.goto(`${server.url}/`);
  const result = (await (await tab.waitForFunction(() => (window as { __opfs?: unknown }).__opfs, undefined, { timeout: 20 * 60_000, polling: 250 })).jsonValue()) as { bytes: number; times: Record<string, number[]>; error?: string };
  await context.close();
  if (result.error) throw new Error(result.error);
  const mb = result.bytes / 1e6;
  const stream = median(result.times['stream']!);
  const sync = median(result.times['sync']!);
  console.log(`OPFS in a dedicated worker, ${(result.bytes / 2 ** 20).toFixed(0)} MiB of weights, ${rounds} rounds each (median time to durable):`);
  console.log(`  writable stream:       ${stream.toFixed(0)} ms (${(mb / (stream / 1000)).toFixed(0)} MB/s)  [${result.times['stream']!.map((t) => t.toFixed(0)).join(', ')}]`);
  console.log(`  sync access handle:    ${sync.toFixed(0)} ms (${(mb / (sync / 1000)).toFixed(0)} MB/s)  [${result.times['sync']!.map((t) => t.toFixed(0)).join(', ')}]`);
  console.log(`  stream / sync:         ${(stream / sync).toFixed(2)}x`);
} finally {
  await server.close();
}
