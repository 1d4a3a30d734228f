/**
 * What an HDF5 save and load cost the page's memory in headless Chromium: a 64 MiB model saved as
 * `.weights.h5` and `.keras` (and `.safetensors`, which streams, for comparison) on IndexedDB and OPFS,
 * then loaded back. The bench samples the renderer's V8 heap through the DevTools protocol
 * (`Runtime.getHeapUsage`: the JS heap plus ArrayBuffer backing stores, where MEMFS keeps its files)
 * every few milliseconds and prints each step's peak above the heap before it
 * (`npx tsx bench/browser_hdf5_memory.ts`).
 */
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS } from '../test/browser/harness.js';
import { servePage } from './lib/browser_page.js';

const server = await servePage(new URL('./browser_hdf5_memory_page.ts', import.meta.url), 'h5mem');
const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
const MiB = 2 ** 20;
console.log('| store | format | weights MiB | save: heap peak above start, MiB | load: heap peak above start, MiB |\n|---|---|---|---|---|');
try {
  for (const store of ['indexeddb', 'opfs']) {
    for (const format of ['safetensors', 'weights.h5', 'keras']) {
      const context = await browser.newContext();
      const tab = await context.newPage();
      const cdp = await context.newCDPSession(tab);
      const heap = async () => {
        const usage = (await cdp.send('Runtime.getHeapUsage')) as { usedSize: number; backingStorageSize?: number };
        return usage.usedSize + (usage.backingStorageSize ?? 0);
      };
      let phase = 'idle';
      const peaks: Record<string, { start: number; peak: number }> = {};
      await tab.exposeFunction('mark', async (label: string) => {
        await cdp.send('HeapProfiler.collectGarbage');
        const next = label === 'ready' ? 'save' : label === 'load' ? 'load' : 'idle';
        if (next !== 'idle') peaks[next] = { start: await heap(), peak: 0 };
        phase = next;
      });
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          const now = await heap().catch(() => 0);
          if (phase !== 'idle') peaks[phase]!.peak = Math.max(peaks[phase]!.peak, now);
          await new Promise((done) => setTimeout(done, 5));
        }
      })();
      await tab.goto(`${server.url}/?store=${store}&format=${format}`);
      const result = (await (await tab.waitForFunction(() => window.__h5mem, undefined, { timeout: 300_000, polling: 200 })).jsonValue()) as Record<string, unknown>;
      sampling = false;
      await sampler;
      if (result['error']) throw new Error(String(result['error']));
      const above = (p: { start: number; peak: number }) => ((p.peak - p.start) / MiB).toFixed(0);
      console.log(`| ${store} | .${format} | ${Number(result['weightMiB']).toFixed(0)} | ${above(peaks['save']!)} | ${above(peaks['load']!)} |`);
      await context.close();
    }
  }
} finally {
  await browser.close();
  await server.close();
}
