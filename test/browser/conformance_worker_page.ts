/** The page that starts conformance_worker.ts in a dedicated worker and puts its report where conformance.test.ts reads it. */
import type { ConformanceReport } from './conformance_page.js';

declare global {
  interface Window {
    __conformance?: ConformanceReport;
    __conformanceStarted?: boolean;
  }
}

window.__conformanceStarted = true;
const worker = new Worker(`/conformance-worker.js${location.search}`, { type: 'module' });
worker.onmessage = (e: MessageEvent<ConformanceReport>) => void (window.__conformance = e.data);
worker.onerror = (e) => void (window.__conformance = { results: [], ms: 0, backend: 'none', userAgent: navigator.userAgent, error: `the worker failed: ${e.message} (${e.filename}:${e.lineno})` });
