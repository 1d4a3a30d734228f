/**
 * Stock TF.js reads small full-model checkpoints saved to `indexeddb://` by name:
 * `tf.loadLayersModel('indexeddb://stock/m03')` and `tf.io.listModels()` see them, the copies follow
 * retention and overwrites, and weights-only checkpoints or models over the limit get none.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { tempDir } from '../helpers.js';
import { buildPage, pageRoutes } from './build_page.js';
import { CHROMIUM, CHROMIUM_ARGS, NO_CHROMIUM, serve } from './harness.js';

const ENTRY = fileURLToPath(new URL('./stock_copy_page.ts', import.meta.url));

describe('stock TF.js loads indexeddb:// checkpoints by name', { skip: NO_CHROMIUM }, () => {
  let browser: Browser;
  let server: Awaited<ReturnType<typeof serve>>;
  let tab: Page;
  before(async () => {
    const bundle = join(await tempDir('tfjs-ckpt-page-'), 'stock_copy.js');
    await buildPage(ENTRY, bundle);
    server = await serve(pageRoutes(bundle, '/stock_copy.js', 'stock copy'));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    tab = await browser.newPage();
    await tab.goto(`${server.url}/`);
    await tab.waitForFunction(() => window.stockCopy !== undefined);
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it('each kept checkpoint is listed and loaded by stock TF.js; a deleted one is gone from its list too', async () => {
    const r = await tab.evaluate(() => window.stockCopy!.retention());
    assert.deepEqual(r.listed, ['indexeddb://stock/m02', 'indexeddb://stock/m03']);
    assert.deepEqual(r.stock, r.ours);
    assert.deepEqual(r.stock, r.trained);
  });

  it('a checkpoint saved again under the same name: stock TF.js loads the new one', async () => {
    const r = await tab.evaluate(() => window.stockCopy!.overwrite());
    assert.deepEqual(r.stock, r.expected);
  });

  it('weights-only checkpoints and models over the limit get no copy, and save all the same', async () => {
    const r = await tab.evaluate(() => window.stockCopy!.noCopy());
    assert.deepEqual(r.listed, []);
    assert.equal(r.loaded, 2);
  });
});
