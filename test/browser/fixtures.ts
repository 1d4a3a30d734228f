/**
 * The stores the conformance suite runs against in the browser (test/browser/conformance.test.ts
 * bundles them into a page with test/stores/conformance.ts). Like test/stores/fixtures.ts, but without
 * Node: no `node:` import, no Buffer, no process. Each fixture gives a store over fresh, empty data,
 * registered under a scheme of its own, with the shared fault switch (test/stores/fixture_types.ts).
 */
import { IndexedDbStore, MemoryStore, OpfsStore, registerStore, type CheckpointStore } from '../../src/universal.js';
import { faultSwitch, type StoreFixture } from '../stores/fixture_types.js';

/** One random token per page load plus a counter: schemes never clash, also across reloads that share storage. */
const TOKEN = Math.random().toString(36).slice(2, 10).replace(/[^a-z0-9]/g, '') || 'x';
let schemes = 0;
export function uniqueScheme(kind: string): string {
  return `conf-${kind}-${TOKEN}-${++schemes}`;
}

/**
 * A fixture for a store made by `make`, its fault hook wired to the switch. Every `create()` registers
 * the store under a new scheme and hands out a new folder in it (`run-N`): stores whose data outlives
 * the store object (IndexedDB, OPFS: one origin's storage, kept across tests and page loads) start
 * from an empty place all the same.
 */
export function browserStoreFixture(
  name: string,
  make: (faults: (step: string, key: string) => void) => CheckpointStore,
  { hasLeftovers, dataRecords }: { hasLeftovers: boolean; dataRecords?: (store: CheckpointStore) => Promise<number> },
): StoreFixture {
  let runs = 0;
  return {
    name,
    hasLeftovers,
    async create() {
      const faults = faultSwitch();
      const store = make((step, key) => faults.step(`${step} ${key}`));
      const scheme = uniqueScheme(name.replace(/[^a-z0-9]+/gi, '').toLowerCase() || 'store');
      registerStore(scheme, store);
      const dir = `run-${TOKEN}-${++runs}`;
      return {
        store,
        base: `${scheme}://${dir}`,
        spellings: [`${scheme}:///${dir}`, `${scheme}://${dir}/`, `${scheme}://./${dir}/./`, `${scheme}://x/../${dir}`, `${scheme}:////${dir}//`],
        ...faults,
        ...(dataRecords ? { dataRecords: () => dataRecords(store) } : {}),
      };
    },
  };
}

/** The memory store in the page, its steps faulted (as memoryFixture in Node). */
export const browserMemoryFixture = browserStoreFixture('memory', (faults) => new MemoryStore({ faults }), { hasLeftovers: false });

// The browser's own stores; each create() gets a folder of its own in the origin's database / file system.
export const indexedDbFixture = browserStoreFixture('indexeddb', (faults) => new IndexedDbStore({ database: 'tfjs-checkpoint-conformance', faults }), {
  hasLeftovers: true,
  // Every data record in the database (all fixtures share it; tests run one at a time).
  dataRecords: async (store) => {
    const db = await (store as IndexedDbStore).open_();
    const count = db.transaction('chunks', 'readonly').objectStore('chunks').count();
    return new Promise<number>((resolve, reject) => {
      count.onsuccess = () => resolve(count.result);
      count.onerror = () => reject(count.error);
    });
  },
});
export const opfsFixture = browserStoreFixture('opfs', (faults) => new OpfsStore({ faults }), { hasLeftovers: true });

export const browserFixtures: StoreFixture[] = [browserMemoryFixture, indexedDbFixture, opfsFixture];
