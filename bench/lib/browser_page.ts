/**
 * The browser benches' shared set-up: a page module bundled (test/browser/build_page.ts) and served
 * on loopback under `/<name>.js`, with `/` an HTML page loading it, plus any extra routes.
 */
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { fileURLToPath } from 'node:url';
import { buildPage, pageRoutes } from '../../test/browser/build_page.js';
import { CHROMIUM, CHROMIUM_ARGS, serve } from '../../test/browser/harness.js';
import { tempDir } from '../../test/helpers.js';

export interface ServedPage {
  /** The server's base URL (the page is at `${url}/`). */
  url: string;
  close(): Promise<void>;
}

export async function servePage(pageModule: URL, name: string, extraRoutes: Parameters<typeof serve>[0] = {}): Promise<ServedPage> {
  const bundle = join(await tempDir('tfjs-ckpt-bench-'), `${name}.js`);
  await buildPage(fileURLToPath(pageModule), bundle);
  const server = await serve({ ...pageRoutes(bundle, `/${name}.js`, name), ...extraRoutes });
  return { url: server.url, close: () => server.close() };
}

/** The page served, opened in headless Chromium, once it has set `window.__ready`; `close` ends both. */
export async function openReadyPage(pageModule: URL, name: string): Promise<{ tab: Page; close(): Promise<void> }> {
  const server = await servePage(pageModule, name);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const close = async () => {
    await browser.close();
    await server.close();
  };
  try {
    const tab = await browser.newPage();
    await tab.goto(`${server.url}/`);
    await tab.waitForFunction(() => (window as { __ready?: boolean }).__ready, undefined, { timeout: 120_000 });
    return { tab, close };
  } catch (e) {
    await close();
    throw e;
  }
}
