/**
 * How long a checkpoint holds `fit` on a page, epoch by epoch: `npx tsx bench/browser_fit_held.ts`.
 * Headless Chromium, cpu backend, a 64 MiB model trained 4 short epochs (2 batches each) with a
 * weights-only `modelCheckpoint` to IndexedDB every epoch (browser_fit_held_page.ts), then the same
 * with a no-op callback. On a page the background save moves on only when training yields (a batch is
 * one synchronous run of kernels), so what is left of one save can hold the next epoch's `onEpochEnd`.
 */
import { join } from 'node:path';
import { openReadyPage } from './lib/browser_page.js';

const { tab, close } = await openReadyPage(new URL('./browser_fit_held_page.ts', import.meta.url), 'fit-held');
try {
  for (const variant of ['ckpt', 'none'] as const) {
    const { onEpochEndMs, betweenMs } = await tab.evaluate((v) => window.__run!(v), variant);
    const ms = (values: number[]) => values.map((v) => v.toFixed(0)).join(', ');
    console.log(`${variant === 'ckpt' ? 'modelCheckpoint' : 'no checkpoint'}: onEpochEnd ${ms(onEpochEndMs) || '—'} ms; between the callbacks around it ${ms(betweenMs)} ms`);
  }
} finally {
  await close();
}
