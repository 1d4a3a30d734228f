/**
 * The conformance suite in a dedicated worker (started by conformance_worker_page.ts), where OPFS
 * writes go through synchronous access handles: the same tests on the OPFS and IndexedDB stores, the
 * report posted back to the page. It also counts the sync handles opened, so the test can tell that
 * the worker's write path is the one under test.
 */
import * as tf from '@tensorflow/tfjs';
import { runConformance } from '../stores/conformance.js';
import { indexedDbFixture, opfsFixture } from './fixtures.js';
import { describeError, runCollected } from './shims/node_test.js';

let syncHandles = 0;
const proto = (globalThis as { FileSystemFileHandle?: { prototype: { createSyncAccessHandle?: (...a: unknown[]) => unknown } } }).FileSystemFileHandle?.prototype;
const original = proto?.createSyncAccessHandle;
if (proto && original) {
  proto.createSyncAccessHandle = function (this: unknown, ...args: unknown[]) {
    syncHandles++;
    return original.apply(this, args);
  };
}

const started = performance.now();
const grep = new URL(location.href).searchParams.get('grep');
try {
  await tf.setBackend('cpu');
  await tf.ready();
  runConformance(opfsFixture);
  runConformance(indexedDbFixture);
  const results = (await runCollected({ filter: grep ? (name) => name.includes(grep) : undefined })).map((r) => ({ ...r, name: `in a worker: ${r.name}` }));
  postMessage({ results, ms: performance.now() - started, backend: tf.getBackend(), userAgent: navigator.userAgent, syncHandles });
} catch (e) {
  postMessage({ results: [], ms: performance.now() - started, backend: tf.getBackend(), userAgent: navigator.userAgent, syncHandles, error: describeError(e).text });
}
