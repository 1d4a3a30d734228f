/**
 * IndexedDB's event-based requests as promises: the few calls the IndexedDB store needs. (The `idb`
 * package does the same and more, but ships ESM only, and this package's CommonJS build must load.)
 */

/** The result of one request. */
export function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB request failed'));
  });
}

/** Resolves when the transaction has committed; rejects with its error when it aborts. */
export function committed(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
    tx.onabort = () => reject(tx.error ?? new DOMException('The IndexedDB transaction was aborted (the tab may be closing).', 'AbortError'));
  });
}

/**
 * Runs `body` in one transaction over `stores` and resolves with its result once the transaction has
 * committed (durably, for 'strict'). `body` may await requests of this transaction only: awaiting
 * anything else lets the transaction commit early. If `body` throws, the transaction is aborted.
 */
export async function inTransaction<T>(
  db: IDBDatabase,
  stores: string[],
  mode: IDBTransactionMode,
  body: (tx: IDBTransaction) => Promise<T>,
  durability: 'strict' | 'relaxed' | 'default' = 'default',
): Promise<T> {
  const tx = db.transaction(stores, mode, { durability });
  const done = committed(tx);
  let result: T;
  try {
    result = await body(tx);
  } catch (e) {
    try {
      tx.abort();
    } catch {
      // already finished
    }
    await done.catch(() => undefined);
    throw e;
  }
  await done;
  return result;
}

export function openDatabase(factory: IDBFactory, name: string, version: number, upgrade: (db: IDBDatabase) => void): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = factory.open(name, version);
    req.onupgradeneeded = () => upgrade(req.result);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error(`Could not open the IndexedDB database ${name}`));
    req.onblocked = () => reject(new Error(`The IndexedDB database ${name} is held open at an older version by another tab; close it and retry.`));
  });
}
