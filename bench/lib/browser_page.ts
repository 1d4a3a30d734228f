/**
 * The browser benches' shared set-up: a page module bundled (test/browser/build_page.ts) and served
 * on loopback under `/<name>.js`, with `/` an HTML page loading it, plus any extra routes.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPage, pageRoutes } from '../../test/browser/build_page.js';
import { serve } from '../../test/browser/harness.js';
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
