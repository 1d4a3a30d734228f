/**
 * Workers a page starts from a few lines of source (a Blob URL: no extra file to serve), each checked
 * once before use. Used for the page's CRC worker (crc_offload.ts) and IndexedDB writer (idb_writer.ts).
 */

/** Whether this runs on a page's main thread, with what a worker from source needs. */
function onPage(): boolean {
  const scope = globalThis as { document?: unknown; Worker?: unknown; Blob?: unknown; URL?: { createObjectURL?: unknown } };
  return typeof scope.document === 'object' && typeof scope.Worker === 'function' && typeof scope.Blob === 'function' && typeof scope.URL?.createObjectURL === 'function';
}

/**
 * A worker running `source`, once `check` (which may set its `onmessage`) resolved true. Undefined where
 * there is no page, where the worker cannot start (a Content-Security-Policy without `blob:` in
 * worker-src) and where it fails or errs in its check; the caller then does the work itself.
 */
export async function startPageWorker(source: string, check: (worker: Worker) => Promise<boolean>): Promise<Worker | undefined> {
  if (!onPage()) return undefined;
  let worker: Worker;
  try {
    const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
    worker = new Worker(url);
    URL.revokeObjectURL(url);
  } catch {
    return undefined;
  }
  const checked = await new Promise<boolean>((resolve) => {
    worker.onerror = () => resolve(false);
    check(worker).then(resolve, () => resolve(false));
  });
  if (!checked) {
    worker.terminate();
    return undefined;
  }
  return worker;
}
