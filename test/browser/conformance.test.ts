/**
 * The store conformance suite (test/stores/conformance.ts) in headless Chromium, on the browser
 * fixtures (test/browser/fixtures.ts): the page (conformance_page.ts) is bundled with the `node:`
 * modules swapped for shims, served from 127.0.0.1 (a secure context, which IndexedDB and OPFS need)
 * and run; every test of the page then shows here as a subtest of its own, passed, failed (with the
 * page's message and stack, mapped back to the sources) or skipped. An uncaught error in the page
 * fails the run too. TFJS_CKPT_BROWSER_VERBOSE=1 echoes the page's console (one line per test), and
 * TFJS_CKPT_CONFORMANCE_GREP=text runs only the page tests whose full name contains `text`.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it, type TestContext } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { tempDir } from '../helpers.js';
import { buildPage, PAGE_EXTERNALS, pageRoutes, stackMapper } from './build_page.js';
import type { ConformanceReport } from './conformance_page.js';
import { CHROMIUM, CHROMIUM_ARGS, NO_CHROMIUM, serve } from './harness.js';

const ENTRY = fileURLToPath(new URL('./conformance_page.ts', import.meta.url));
const WORKER_PAGE = fileURLToPath(new URL('./conformance_worker_page.ts', import.meta.url));
const WORKER = fileURLToPath(new URL('./conformance_worker.ts', import.meta.url));
const SCRIPT = '/conformance.js';
const WORKER_SCRIPT = '/conformance-worker.js';
/** The whole suite on every browser fixture; generous, as a slow machine may need it. */
const RUN_TIMEOUT_MS = 10 * 60_000;
const VERBOSE = Boolean(process.env['TFJS_CKPT_BROWSER_VERBOSE']);
/** Runs only the page tests whose full name contains this (e.g. "store conformance: memory > the interface"). */
const GREP = process.env['TFJS_CKPT_CONFORMANCE_GREP'];

let bundle: string;
let workerPage: string;
let workerBundle: string;
before(async () => {
  const dir = await tempDir('tfjs-ckpt-page-');
  bundle = join(dir, 'conformance.js');
  workerPage = join(dir, 'conformance-worker-page.js');
  workerBundle = join(dir, 'conformance-worker.js');
  await buildPage(ENTRY, bundle);
  await buildPage(WORKER_PAGE, workerPage);
  await buildPage(WORKER, workerBundle, {}, { tfjsUrl: '/tf.js' });
});

describe('store conformance in the browser', () => {
  it('the page bundles with no node: module and nothing but TF.js from outside', async () => {
    const text = await readFile(bundle, 'utf8');
    const imported = new Set([...text.matchAll(/^\s*import\s[^;]*?from\s*["']([^"']+)["']/gm)].map((m) => m[1]!));
    assert.ok([...imported].every((s) => PAGE_EXTERNALS.includes(s)), `imports: ${[...imported]}`);
    assert.doesNotMatch(text, /(?:\bfrom|\bimport\s*\()\s*["']node:/);
    assert.doesNotMatch(text, /\brequire\(["'](node:|fs|path|os|crypto|zlib)/);
  });

  describe('in headless Chromium', { skip: NO_CHROMIUM }, () => {
    let browser: Browser;
    let server: Awaited<ReturnType<typeof serve>>;
    let workerServer: Awaited<ReturnType<typeof serve>>;
    before(async () => {
      server = await serve(pageRoutes(bundle, SCRIPT, 'store conformance'));
      workerServer = await serve({ ...pageRoutes(workerPage, SCRIPT, 'store conformance in a worker'), [WORKER_SCRIPT]: workerBundle, [`${WORKER_SCRIPT}.map`]: `${workerBundle}.map` });
      browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    });
    after(async () => {
      await browser?.close();
      await server?.close();
      await workerServer?.close();
    });

    it('runs the conformance suite on every browser fixture (each page test a subtest)', { timeout: RUN_TIMEOUT_MS + 60_000 }, async (t) => {
      const report = await runSuite(t, server.url, bundle, SCRIPT);
      assert.equal(report.crcOffloaded, true, "the page's checksums went to the CRC worker (and every CRC they recorded was checked by the suite's reads and verify)");
      assert.equal(report.idbWriterOffloaded, true, "the page's IndexedDB records went through the writer worker (and the suite read every one back)");
    });

    it('runs it in a dedicated worker on OPFS (synchronous access handles) and IndexedDB', { timeout: RUN_TIMEOUT_MS + 60_000 }, async (t) => {
      const report = await runSuite(t, workerServer.url, workerBundle, WORKER_SCRIPT);
      assert.ok((report.syncHandles ?? 0) > 0, 'OPFS wrote through synchronous access handles in the worker');
    });

    async function runSuite(t: TestContext, url: string, bundleFile: string, script: string): Promise<ConformanceReport> {
      const mapStack = await stackMapper(bundleFile, `${url}${script}`);
      const tab = await browser.newPage();
      const pageErrors: string[] = [];
      let failLoad!: (e: Error) => void;
      const loadFailed = new Promise<never>((_, reject) => (failLoad = reject));
      loadFailed.catch(() => undefined);
      tab.on('pageerror', (e) => {
        const text = mapStack(e.stack ?? String(e));
        pageErrors.push(text);
        // Before the page's own code ran (an import that did not resolve, a syntax error), nothing will ever report.
        void tab
          .evaluate(() => window.__conformanceStarted === true)
          .then(
            (ran) => ran || failLoad(new Error(`the conformance page failed to load:\n${text}`)),
            () => undefined,
          );
      });
      tab.on('crash', () => failLoad(new Error('the page crashed')));
      if (VERBOSE) tab.on('console', (m) => console.error(`[page ${m.type()}] ${mapStack(m.text())}`));
      const wall = performance.now();
      let report: ConformanceReport;
      try {
        await tab.goto(`${url}/${GREP ? `?grep=${encodeURIComponent(GREP)}` : ''}`);
        const handle = await Promise.race([tab.waitForFunction(() => window.__conformance, undefined, { timeout: RUN_TIMEOUT_MS, polling: 250 }), loadFailed]);
        report = (await handle.jsonValue()) as ConformanceReport;
      } finally {
        await tab.close();
      }
      const seconds = ((performance.now() - wall) / 1000).toFixed(1);
      assert.equal(report.error, undefined, report.error && mapStack(report.error));
      assert.ok(report.results.length > 0, 'the page ran no test');

      for (const result of report.results) {
        await t.test(result.name, (sub) => {
          if (result.status === 'skip') {
            sub.skip(result.reason ?? 'skipped in the page');
          } else if (result.status === 'fail') {
            const error = new Error(result.message ?? 'failed in the page');
            error.stack = mapStack(result.error ?? error.message);
            throw error;
          }
          for (const line of result.diagnostics ?? []) sub.diagnostic(line);
          if (result.ms >= 1000) sub.diagnostic(`took ${(result.ms / 1000).toFixed(1)} s in the page`);
        });
      }
      await t.test('no uncaught error in the page', () => {
        assert.equal(pageErrors.length, 0, `uncaught errors in the page:\n\n${pageErrors.join('\n\n')}`);
      });
      const count = (status: string) => report.results.filter((r) => r.status === status).length;
      t.diagnostic(
        `${report.results.length} page tests: ${count('pass')} passed, ${count('fail')} failed, ${count('skip')} skipped; ` +
          `suite ${(report.ms / 1000).toFixed(1)} s, page ${seconds} s (backend ${report.backend}, ${report.userAgent})`,
      );
      return report;
    }
  });
});
