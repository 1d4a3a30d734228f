/**
 * The page that runs the store conformance suite (test/stores/conformance.ts) in the browser, on every
 * fixture of ./fixtures.ts. Bundled by buildPage (./build_page.ts), with `node:test` and friends
 * swapped for ./shims/; conformance.test.ts opens it in headless Chromium and reads the report from
 * `window.__conformance`. `?grep=text` runs only the tests whose full name contains `text`.
 */
import * as tf from '@tensorflow/tfjs';
import { runConformance } from '../stores/conformance.js';
import { browserFixtures } from './fixtures.js';
import { crcOffloaded } from '../../src/stores/crc_offload.js';
import { idbWriterOffloaded } from '../../src/stores/idb_writer.js';
import { describeError, runCollected, type TestResult } from './shims/node_test.js';

export interface ConformanceReport {
  results: TestResult[];
  /** Wall time of the run, in ms. */
  ms: number;
  backend: string;
  userAgent: string;
  /** On the page: whether checksums went to the CRC worker (src/stores/crc_offload.ts). */
  crcOffloaded?: boolean;
  idbWriterOffloaded?: boolean;
  /** In the worker: how many synchronous access handles OPFS writes opened. */
  syncHandles?: number;
  /** Set when the page itself failed (not one of its tests). */
  error?: string;
}

declare global {
  interface Window {
    __conformance?: ConformanceReport;
    __conformanceStarted?: boolean;
  }
}

window.__conformanceStarted = true;
const started = performance.now();
const grep = new URLSearchParams(location.search).get('grep');
try {
  // The CPU backend: exact arithmetic, as in Node (the suite compares weights for equality); no GPU here anyway.
  await tf.setBackend('cpu');
  await tf.ready();
  for (const fixture of browserFixtures) runConformance(fixture);
  const results = await runCollected({
    filter: grep ? (name) => name.includes(grep) : undefined,
    onResult: (r) => console.log(`[conformance] ${r.status} ${r.name} (${r.ms} ms)${r.status === 'fail' ? `\n${r.error}` : ''}`),
  });
  window.__conformance = { results, ms: performance.now() - started, backend: tf.getBackend(), userAgent: navigator.userAgent, crcOffloaded: await crcOffloaded(), idbWriterOffloaded: await idbWriterOffloaded() };
} catch (e) {
  window.__conformance = { results: [], ms: performance.now() - started, backend: tf.getBackend(), userAgent: navigator.userAgent, error: describeError(e).text };
}
