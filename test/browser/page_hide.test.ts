/**
 * backupAndRestore in a browser, where page unload stands in for signals: with `saveOnPageHide`, the
 * page being hidden mid-epoch backs up at once, so a tab then closed resumes from that moment's
 * weights; without it, from the last epoch's backup.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { tempDir } from '../helpers.js';
import { buildPage, pageRoutes } from './build_page.js';
import { CHROMIUM, CHROMIUM_ARGS, NO_CHROMIUM, serve } from './harness.js';

const ENTRY = fileURLToPath(new URL('./page_hide_page.ts', import.meta.url));

describe('backupAndRestore when the page is hidden, then closed', { skip: NO_CHROMIUM }, () => {
  let browser: Browser;
  let server: Awaited<ReturnType<typeof serve>>;
  before(async () => {
    const bundle = join(await tempDir('tfjs-ckpt-page-'), 'page_hide.js');
    await buildPage(ENTRY, bundle);
    server = await serve(pageRoutes(bundle, '/page_hide.js', 'page hide'));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  for (const saveOnPageHide of [true, false]) {
    it(`saveOnPageHide: ${saveOnPageHide}`, { timeout: 60_000 }, async () => {
      const context = await browser.newContext();
      try {
        const dir = 'indexeddb://hide/backup';
        const first = await context.newPage();
        await first.goto(`${server.url}/`);
        await first.evaluate(([d, s]) => window.pageHide!.train(d, s), [dir, saveOnPageHide] as const);
        await first.waitForFunction(() => window.hiddenState !== undefined);
        const hidden = await first.evaluate(() => window.hiddenState!);
        await first.close({ runBeforeUnload: true });

        const second = await context.newPage();
        await second.goto(`${server.url}/`);
        const restored = await second.evaluate((d) => window.pageHide!.restore(d), dir);
        if (saveOnPageHide) {
          // 16 batches in epoch 1, 6 in epoch 2: the backup of the moment the page was hidden.
          assert.deepEqual({ step: restored.step, batch: restored.batch, initialEpoch: restored.initialEpoch }, { step: 22, batch: 6, initialEpoch: 1 });
          assert.deepEqual(restored.predictions, hidden.predictions, 'the weights of the moment the page was hidden');
        } else {
          assert.deepEqual({ step: restored.step, batch: restored.batch, initialEpoch: restored.initialEpoch }, { step: 16, batch: null, initialEpoch: 1 });
          assert.notDeepEqual(restored.predictions, hidden.predictions);
        }
      } finally {
        await context.close();
      }
    });
  }
});
