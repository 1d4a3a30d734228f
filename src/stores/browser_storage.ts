/**
 * What the browser stores (IndexedDB, OPFS) share: knowing whether a writer is alive, and the
 * origin's storage quota.
 *
 * Writers. A writer holds a Web Lock named after its token for as long as it writes; the browser
 * releases it when the tab, worker or process ends, however it ends. So `recover` removes exactly the
 * leftovers whose lock nobody holds, in this tab or any other of the origin. Without Web Locks (old
 * browsers, Node with an IndexedDB shim), only this context's writers are known, and other leftovers
 * count as alive until they are a day old.
 *
 * Quota. Before a write of known size, `navigator.storage.estimate()` says whether it fits; when it
 * does not, or the browser refuses a write for lack of space, the error names the store, the bytes
 * needed and the bytes free, and what to do. Nothing committed is touched either way.
 */
import { CheckpointError } from '../errors.js';

const LOCK_PREFIX = 'tfjs-checkpoint:writer:';
/** Leftovers of writers we cannot ask about (no Web Locks) count as alive for this long. */
const UNKNOWN_WRITER_GRACE_MS = 24 * 3600 * 1000;

interface LockManagerLike {
  request(name: string, options: { mode: 'exclusive' }, callback: () => Promise<void>): Promise<void>;
  query(): Promise<{ held?: { name?: string }[]; pending?: { name?: string }[] }>;
}

function lockManager(): LockManagerLike | undefined {
  const locks = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks;
  return locks && typeof locks.request === 'function' && typeof locks.query === 'function' ? locks : undefined;
}

/** Writers of this context that are writing now (by token). */
const ownWriters = new Set<string>();

/** A token no other writer has: random, and short enough for file names. */
export function writerToken(): string {
  const bytes = new Uint8Array(8);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Marks the writer `token` as alive (in every tab of the origin) until the returned function is called. */
export async function holdWriter(token: string): Promise<() => void> {
  ownWriters.add(token);
  const locks = lockManager();
  let release = () => {
    ownWriters.delete(token);
  };
  if (locks) {
    let unlock!: () => void;
    const held = new Promise<void>((resolve) => (unlock = resolve));
    await new Promise<void>((granted, failed) => {
      locks.request(`${LOCK_PREFIX}${token}`, { mode: 'exclusive' }, () => (granted(), held)).catch(failed);
    });
    release = () => {
      ownWriters.delete(token);
      unlock();
    };
  }
  return release;
}

/** Whether the writer `token`, which started at `startedMs`, may still be writing. */
export async function writersAlive(): Promise<(token: string, startedMs: number) => boolean> {
  const locks = lockManager();
  if (!locks) return (token, startedMs) => ownWriters.has(token) || Date.now() - startedMs < UNKNOWN_WRITER_GRACE_MS;
  const state = await locks.query();
  const held = new Set([...(state.held ?? []), ...(state.pending ?? [])].map((l) => l.name ?? ''));
  return (token) => ownWriters.has(token) || held.has(`${LOCK_PREFIX}${token}`);
}

interface StorageEstimateLike {
  quota?: number;
  usage?: number;
}

async function estimate(): Promise<StorageEstimateLike | undefined> {
  const storage = (globalThis as { navigator?: { storage?: { estimate?: () => Promise<StorageEstimateLike> } } }).navigator?.storage;
  try {
    return typeof storage?.estimate === 'function' ? await storage.estimate() : undefined;
  } catch {
    return undefined;
  }
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

const ADVICE =
  'Earlier checkpoints are untouched. Free space (fewer checkpoints: keepLast, saveBestOnly; or delete old ones), ' +
  'or ask the browser to keep this origin\'s data with navigator.storage.persist(), which also raises some browsers\' quotas.';

/** Throws a clear IO_ERROR when `bytes` more would not fit in the origin's quota, as far as the browser says. */
export async function assertFits(bytes: number | undefined, where: string): Promise<void> {
  if (bytes === undefined || bytes <= 0) return;
  const e = await estimate();
  if (e?.quota === undefined || e.usage === undefined) return;
  const free = e.quota - e.usage;
  if (bytes > free) {
    throw new CheckpointError('IO_ERROR', `Cannot save ${where}: it needs ${mib(bytes)} and the browser's storage quota leaves ${mib(free)} free (${mib(e.usage)} used of ${mib(e.quota)}). ${ADVICE}`);
  }
}

/** True for the browser's "no space" failures (IndexedDB, OPFS). */
export function isQuotaError(e: unknown): boolean {
  // By name (DOMException's code 22 is the legacy spelling of the same); never by message, which any error may mention.
  const error = e as { name?: unknown; code?: unknown } | null | undefined;
  return error?.name === 'QuotaExceededError' || (e instanceof DOMException && error?.code === 22);
}

/** The error for a write the browser refused for lack of space. */
export async function quotaError(e: unknown, where: string, bytes: number | undefined): Promise<CheckpointError> {
  const est = await estimate();
  const needed = bytes !== undefined ? `it needs about ${mib(bytes)}` : 'it did not fit';
  const free = est?.quota !== undefined && est.usage !== undefined ? `; the quota leaves ${mib(est.quota - est.usage)} free (${mib(est.usage)} used of ${mib(est.quota)})` : '';
  return new CheckpointError('IO_ERROR', `Cannot save ${where}: the browser refused the write for lack of space (${needed}${free}). ${ADVICE}`, { cause: e });
}

/** Per-context queues for `withLock` where Web Locks are missing. */
const localQueues = new Map<string, Promise<unknown>>();

/**
 * Runs `body` holding the exclusive lock `name` for the whole origin (every tab and worker), so
 * commits into one folder never interleave and claiming a name is exact. Without Web Locks, only
 * this context's callers are serialized.
 */
export async function withLock<T>(name: string, body: () => Promise<T>): Promise<T> {
  const locks = lockManager() as (LockManagerLike & { request<R>(name: string, options: { mode: 'exclusive' }, cb: () => Promise<R>): Promise<R> }) | undefined;
  if (locks) return locks.request(`tfjs-checkpoint:lock:${name}`, { mode: 'exclusive' }, body);
  const before = localQueues.get(name) ?? Promise.resolve();
  const run = before.then(body, body);
  const settled = run.catch(() => undefined);
  localQueues.set(name, settled);
  try {
    return await run;
  } finally {
    if (localQueues.get(name) === settled) localQueues.delete(name);
  }
}
