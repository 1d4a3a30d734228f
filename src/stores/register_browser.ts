/**
 * The browser's stores, registered where the runtime has them (a page or a worker): `indexeddb://`
 * and `opfs://`. Both open their storage on first use, so registering costs nothing. In Node neither
 * exists, and the schemes stay unregistered (resolving one names the schemes there are).
 */
import { IndexedDbStore } from './indexeddb.js';
import { OpfsStore } from './opfs.js';
import { registerStore } from './registry.js';

export const indexedDbStore = new IndexedDbStore();
export const opfsStore = new OpfsStore();

export function registerBrowserStores(): void {
  const scope = globalThis as { indexedDB?: unknown; navigator?: { storage?: { getDirectory?: unknown } } };
  if (scope.indexedDB) registerStore('indexeddb', indexedDbStore);
  if (typeof scope.navigator?.storage?.getDirectory === 'function') registerStore('opfs', opfsStore);
}
