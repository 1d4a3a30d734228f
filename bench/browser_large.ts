/**
 * Models past stock TF.js's IndexedDB limit: saves and loads 2.25 GiB (default; GIB=…) on IndexedDB
 * and OPFS in headless Chromium, and prints the times and rates (`npx tsx bench/browser_large.ts`).
 */
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS } from '../test/browser/harness.js';
import { tempDir } from '../test/helpers.js';
import { servePage } from './lib/browser_page.js';

const gib = Number(process.env['GIB'] ?? 2.25);
const server = await servePage(new URL('./browser_large_page.ts', import.meta.url), 'large');
try {
  for (const store of ['indexeddb', 'opfs']) {
    // A profile on disk: Playwright's usual contexts are off the record, with storage in memory (OPFS
    // there refused more than about 1.3 GiB, whatever storage.estimate() said).
    const context = await chromium.launchPersistentContext(await tempDir('tfjs-ckpt-profile-'), { executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const tab = await context.newPage();
    await tab.goto(`${server.url}/?store=${store}&gib=${gib}`);
    const result = (await (await tab.waitForFunction(() => window.__large, undefined, { timeout: 30 * 60_000, polling: 500 })).jsonValue()) as Record<string, number | string | boolean>;
    if (result['error']) throw new Error(String(result['error']));
    const mb = Number(result['bytes']) / 1e6;
    const rate = (ms: number) => `${(mb / (ms / 1000)).toFixed(0)} MB/s`;
    console.log(
      `${store}: ${(Number(result['bytes']) / 2 ** 30).toFixed(2)} GiB saved in ${(Number(result['saveMs']) / 1000).toFixed(1)} s (${rate(Number(result['saveMs']))}), ` +
        `loaded in ${(Number(result['loadMs']) / 1000).toFixed(1)} s (${rate(Number(result['loadMs']))}), verified in ${(Number(result['verifyMs']) / 1000).toFixed(1)} s: ` +
        `values ${result['exact'] ? 'exact' : 'WRONG'}, checksums ${result['checked']}`,
    );
    await context.close();
  }
} finally {
  await server.close();
}
