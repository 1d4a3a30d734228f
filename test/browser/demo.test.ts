/**
 * The browser example (examples/browser, served by `npm run demo:browser`) in headless Chromium, on
 * IndexedDB and OPFS: train, see the checkpoints and the curve, reload, find them all again with the
 * best and latest marked, train on from where the run stopped. The test takes the README's
 * screenshot (docs/browser-demo.png, rewritten when TFJS_CKPT_UPDATE_SCREENSHOT=1).
 */
import assert from 'node:assert/strict';
import { copyFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startDemoServer } from '../../scripts/demo-browser.mjs';
import { tempDir } from '../helpers.js';
import { CHROMIUM, CHROMIUM_ARGS, NO_CHROMIUM } from './harness.js';

describe('the browser example', { skip: NO_CHROMIUM }, () => {
  let browser: Browser;
  let server: Awaited<ReturnType<typeof startDemoServer>>;
  before(async () => {
    server = await startDemoServer(0);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  const status = (tab: Page) => tab.locator('#status').innerText();
  const rows = async (tab: Page) => (await tab.locator('#checkpoints tr').allInnerTexts()).map((r) => r.split('\t').map((c) => c.trim()));
  async function ready(tab: Page): Promise<void> {
    await tab.waitForFunction(() => (window as unknown as { demoReady?: boolean }).demoReady === true);
  }
  async function trainUntil(tab: Page, epoch: number): Promise<void> {
    await tab.click('#train');
    await tab.waitForFunction(() => /^(Trained|Failed)/.test(document.getElementById('status')!.textContent!), undefined, { timeout: 120_000 });
    assert.match(await status(tab), new RegExp(`^Trained to epoch ${epoch}\\.`));
  }

  for (const store of ['indexeddb', 'opfs']) {
    it(`${store}: trains with checkpoints, shows them, and resumes after a reload`, { timeout: 240_000 }, async () => {
      const context = await browser.newContext({ viewport: { width: 940, height: 640 } });
      try {
        const tab = await context.newPage();
        const errors: string[] = [];
        tab.on('pageerror', (e) => errors.push(String(e)));
        await tab.goto(`${server.url}?epochs=3`);
        await ready(tab);
        await tab.check(`input[value=${store}]`);
        assert.equal(await status(tab), 'No checkpoints yet.');
        await trainUntil(tab, 3);
        assert.deepEqual((await rows(tab)).map((r) => r[1]), ['1', '2', '3']);

        await tab.reload();
        await ready(tab);
        await tab.check(`input[value=${store}]`);
        await tab.waitForFunction(() => document.querySelectorAll('#checkpoints tr').length === 3);
        const after = await rows(tab);
        assert.equal(after[0]![0], `${store}://demo/flowers-01`);
        assert.ok(after.some((r) => r[5]!.includes('best')), 'a best checkpoint is marked');
        assert.ok(after[2]![5]!.includes('latest'), JSON.stringify(after));

        await trainUntil(tab, 6);
        const resumed = await rows(tab);
        assert.deepEqual(resumed.map((r) => r[1]), ['1', '2', '3', '4', '5', '6'], 'training went on from epoch 3');
        // (The rows and the page's errors in the message: this failed once in CI, under the load of the full run, and never here.)
        assert.ok(resumed.every((r) => Number(r[2]) > 0 && /KiB$/.test(r[4]!)), `${JSON.stringify(resumed)} ${errors.join('; ')}`);
        assert.deepEqual(errors, []);

        if (store === 'indexeddb') {
          const shot = join(await tempDir('tfjs-ckpt-shot-'), 'browser-demo.png');
          await tab.screenshot({ path: shot, fullPage: true });
          assert.ok((await stat(shot)).size > 10_000, 'the screenshot shows the page');
          if (process.env['TFJS_CKPT_UPDATE_SCREENSHOT']) await copyFile(shot, 'docs/browser-demo.png');
        }
      } finally {
        await context.close();
      }
    });
  }
});
