/**
 * The page of failures.test.ts: the library plus a few calls the test drives with `evaluate`
 * (window.failures). The stores under test are the browser's own (`indexeddb`, `opfs`), registered
 * again under `<kind>-test` with a fault hook that only counts writes, so the test can close the tab
 * while a save is in flight.
 */
import * as tf from '@tensorflow/tfjs';
import { idbWriterOffloaded } from '../../src/stores/idb_writer.js';
import { CheckpointManager, IndexedDbStore, latestCheckpoint, modelCheckpoint, OpfsStore, registerStore, saveWeights, verify, type CheckpointStore } from '../../src/universal.js';

/** The Web Lock a live writer holds (src/stores/browser_storage.ts). */
const WRITER_LOCK_PREFIX = 'tfjs-checkpoint:writer:';

const stores: Record<string, CheckpointStore> = {};
let writes = 0;

/** A save held after its first file (see pauseSave), and the switch that lets it go on. */
let held: { paused: boolean; go: () => void; goes: Promise<void>; result?: Promise<{ ok: true } | { code?: string; message: string }> } | undefined;

/** `store`, with each staged checkpoint's first written file holding the save while `held` is set. */
function holding(store: CheckpointStore): CheckpointStore {
  const bind = <T extends object>(target: T, prop: string | symbol) => {
    const value = Reflect.get(target, prop) as unknown;
    return typeof value === 'function' ? value.bind(target) : value;
  };
  return new Proxy(store, {
    get: (target, prop) =>
      prop !== 'stage'
        ? bind(target, prop)
        : async (...args: Parameters<CheckpointStore['stage']>) => {
            const staged = await target.stage(...args);
            let files = 0;
            return new Proxy(staged, {
              get: (inner, p) =>
                p !== 'write'
                  ? bind(inner, p)
                  : async (...a: Parameters<typeof staged.write>) => {
                      const written = await inner.write(...a);
                      if (++files === 1 && held) {
                        held.paused = true;
                        await held.goes;
                      }
                      return written;
                    },
            });
          },
  });
}

function model(units: number): tf.LayersModel {
  return tf.sequential({ layers: [tf.layers.dense({ inputShape: [units], units, kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) })] });
}

/** A code and message for what a call threw. */
function caught(e: unknown): { code?: string; message: string } {
  return { code: (e as { code?: string })?.code, message: String((e as Error)?.message ?? e) };
}

const api = {
  setup(kind: 'indexeddb' | 'opfs'): string {
    const faults = (step: string) => void (step === 'write' && writes++);
    stores[kind] ??= kind === 'indexeddb' ? new IndexedDbStore({ faults }) : new OpfsStore({ faults });
    registerStore(`${kind}-test`, stores[kind]!);
    return `${kind}-test`;
  },
  writes: () => writes,
  /** Starts saving `mib` MiB to `<kind>-held://<path>` and holds it after its first file (its writer alive, its temporaries present). */
  pauseSave(kind: string, path: string, mib: number): string {
    let go!: () => void;
    const goes = new Promise<void>((resolve) => (go = resolve));
    held = { paused: false, go, goes };
    registerStore(`${kind}-held`, holding(stores[kind]!));
    held.result = api.saveBig(`${kind}-held://${path}`, mib);
    return `${kind}-held`;
  },
  isPaused: () => held?.paused === true,
  /** Lets the held save go on; resolves to how it ended. */
  async resumeSave() {
    held!.go();
    const result = await held!.result!;
    held = undefined;
    return result;
  },
  /** Three epochs of a small model with a checkpoint each. */
  async train(dir: string): Promise<void> {
    const m = model(8);
    m.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    const x = tf.ones([8, 8]);
    await m.fit(x, x, { epochs: 3, verbose: 0, callbacks: [modelCheckpoint({ filepath: `${dir}/w{epoch:02d}`, saveWeightsOnly: true })] });
  },
  /** Saves a model of about `mib` MiB of weights (written as shards, so the save takes many writes). */
  async saveBig(url: string, mib: number): Promise<{ ok: true } | { code?: string; message: string }> {
    const units = Math.floor(Math.sqrt((mib * 2 ** 20) / 4));
    try {
      await saveWeights(model(units), url, { maxShardBytes: 4 * 2 ** 20 });
      return { ok: true };
    } catch (e) {
      return caught(e);
    }
  },
  /**
   * IndexedDB: saves `mib` MiB as one file (many 8 MiB records) whose record number `failAt` the writer
   * worker fails to put, after a small checkpoint saved first. Reports how the save ended and the
   * database's data and staging records before and after (every record in flight must have landed
   * before the failed save's records were discarded, or some stay behind).
   */
  async failedPut(mib: number, failAt: number) {
    let puts = 0;
    let armed = false;
    const faults = (step: string) => {
      if (step === 'put' && armed && ++puts === failAt) throw new Error('injected put failure');
    };
    const store = new IndexedDbStore({ faults });
    registerStore('indexeddb-putfail', store);
    await store.exists('/putfail/first'); // the database is created (its schema in place) before it is counted
    const empty = await api.records();
    await saveWeights(model(8), 'indexeddb-putfail://putfail/first');
    const before = await api.records();
    const small = before.chunks - empty.chunks;
    armed = true;
    const units = Math.floor(Math.sqrt((mib * 2 ** 20) / 4));
    let failed: { ok: true } | { code?: string; message: string } = { ok: true };
    try {
      await saveWeights(model(units), 'indexeddb-putfail://putfail/second', { maxShardBytes: 2 * mib * 2 ** 20 });
    } catch (e) {
      failed = caught(e);
    }
    armed = false;
    // A save after it, through the same worker: its records' transactions begin after every earlier
    // one, so once it is committed every record the failed save had in flight has landed (or not).
    await saveWeights(model(8), 'indexeddb-putfail://putfail/third');
    const after = await api.records();
    return {
      failed,
      puts,
      offloaded: await idbWriterOffloaded(),
      before,
      // Less the records of the small save after it.
      after: { chunks: after.chunks - small, staging: after.staging },
      first: (await verify('indexeddb-putfail://putfail/first')).checksums,
    };
  },
  /** The data and staging records in the default database. */
  async records(): Promise<{ chunks: number; staging: number }> {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const req = indexedDB.open('tfjs-checkpoint');
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    const count = (store: string) =>
      new Promise<number>((resolve, reject) => {
        const req = db.transaction(store).objectStore(store).count();
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
    try {
      return { chunks: await count('chunks'), staging: await count('staging') };
    } finally {
      db.close();
    }
  },
  /** A raw stage of `mib` MiB with no size given up front (so only the browser's refusal can stop it). */
  async stageRaw(kind: string, key: string, mib: number): Promise<{ ok: true } | { code?: string; message: string }> {
    const staged = await stores[kind]!.stage(key);
    try {
      const chunk = new Uint8Array(2 ** 20).fill(7);
      await staged.write('data.bin', (function* () {
        for (let i = 0; i < mib; i++) yield chunk;
      })());
      await staged.commit();
      return { ok: true };
    } catch (e) {
      await staged.abort();
      return caught(e);
    }
  },
  /**
   * OPFS: a second writer stages `<dir>/w02` while another writer's commit of that name is half done
   * (its placeholder and files moved in, no marker yet, the folder's lock held). Built by hand from a
   * real checkpoint: the half state is set up, the lock taken, the second save started; once it waits
   * for the lock (seen in `navigator.locks.query()`), the first commit completes and lets go. The second
   * save must then claim `w02-v1`, never refuse the folder as "not a checkpoint".
   */
  async stageDuringHalfCommit(dir: string): Promise<{ ok: true; names: string[] } | { code?: string; message: string }> {
    const folder = dir.slice(dir.indexOf('://') + 3);
    const m = model(8);
    await saveWeights(m, `${dir}/source`);
    const root = await navigator.storage.getDirectory();
    const parent = await root.getDirectoryHandle(folder, { create: true });
    const source = await parent.getDirectoryHandle('source');
    const half = await parent.getDirectoryHandle('w02', { create: true });
    const copy = async (name: string) => {
      const bytes = await (await (await source.getFileHandle(name)).getFile()).arrayBuffer();
      const writable = await (await half.getFileHandle(name, { create: true })).createWritable();
      await writable.write(bytes);
      await writable.close();
    };
    const files: string[] = [];
    for await (const name of (source as unknown as { keys(): AsyncIterable<string> }).keys()) files.push(name);
    await half.getFileHandle('.checkpoint.json.tmp-0123456789abcdef', { create: true });
    for (const name of files) if (name !== 'checkpoint.json') await copy(name);

    // The first writer is alive: it holds its writer lock (so recover leaves its half commit alone).
    let writerDone!: () => void;
    await new Promise<void>((granted) => {
      void navigator.locks.request(`${WRITER_LOCK_PREFIX}0123456789abcdef`, () => new Promise<void>((release) => ((writerDone = release), granted())));
    });
    let letGo!: () => void;
    const lockName = `tfjs-checkpoint:lock:opfs:/${folder}`; // the folder's commit lock (see withLock)
    const held = new Promise<void>((resolve) => {
      void navigator.locks.request(lockName, () => new Promise<void>((release) => {
        letGo = release;
        resolve();
      }));
    });
    await held;
    // The store's own stage and commit, as the manager calls them once its name check (which ran
    // before the first writer made the folder) chose w02; the claim gives the next version.
    const manager = new CheckpointManager({ filepath: `${dir}/w{epoch:02d}`, asyncSave: false });
    let settled: { ok: true } | { code?: string; message: string } | undefined;
    const second = (async () => {
      const staged = await stores.opfs!.stage(`/${folder}/w02`, { claim: (taken) => `${taken}-v1` });
      try {
        for (const name of files) {
          const bytes = new Uint8Array(await (await (await source.getFileHandle(name)).getFile()).arrayBuffer());
          await staged.write(name, [bytes]);
        }
        await staged.commit();
      } catch (e) {
        await staged.abort();
        throw e;
      }
    })().then(() => ({ ok: true as const }), caught);
    void second.then((r) => (settled = r));
    // Wait (on the lock manager's own state, not a clock) until the second save queues for the lock.
    while (!(await navigator.locks.query()).pending?.some((l) => l.name === lockName)) {
      if (settled) {
        letGo();
        writerDone();
        return 'ok' in settled ? { message: 'the second save finished without waiting for the lock' } : settled;
      }
    }
    await copy('checkpoint.json');
    await half.removeEntry('.checkpoint.json.tmp-0123456789abcdef');
    letGo();
    writerDone();
    const result = await second;
    if (!('ok' in result)) return result;
    await parent.removeEntry('source', { recursive: true });
    const names = (await manager.list()).map((r) => r.key.slice(r.key.lastIndexOf('/') + 1)).sort();
    return { ok: true, names };
  },
  /** What a user sees: the checkpoints listed, each verified, and the latest. */
  async state(dir: string): Promise<{ epochs: (number | null)[]; verified: string[]; latest: string | null }> {
    const manager = new CheckpointManager({ directory: dir, name: 'w{epoch:02d}', asyncSave: false });
    const records = await manager.list();
    const verified = await Promise.all(records.map(async (r) => (await verify(r.path)).checksums));
    return { epochs: records.map((r) => r.metadata.epoch), verified, latest: await latestCheckpoint(`${dir}/w{epoch:02d}`) };
  },
  async recover(kind: string, key: string): Promise<string[]> {
    return stores[kind]!.recover(key, () => true);
  },
  /** Leftovers of unfinished writes: IndexedDB staging records, OPFS temporaries (names with .tmp-/.old-), anywhere. */
  async leftovers(kind: string): Promise<number> {
    if (kind === 'indexeddb') {
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const req = indexedDB.open('tfjs-checkpoint');
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
      const count = await new Promise<number>((resolve, reject) => {
        const req = db.transaction('staging').objectStore('staging').count();
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
      db.close();
      return count;
    }
    let found = 0;
    const walk = async (dir: FileSystemDirectoryHandle): Promise<void> => {
      for await (const [name, handle] of (dir as unknown as { entries(): AsyncIterable<[string, FileSystemHandle]> }).entries()) {
        if (/\.(tmp|old)-/.test(name)) found++;
        if (handle.kind === 'directory') await walk(handle as FileSystemDirectoryHandle);
      }
    };
    await walk(await navigator.storage.getDirectory());
    return found;
  },
  /** Makes navigator.storage.estimate() report `freeBytes` free (what a nearly full disk makes it say). */
  async fakeQuota(freeBytes: number | null): Promise<void> {
    const storage = navigator.storage as StorageManager & { realEstimate?: () => Promise<StorageEstimate> };
    storage.realEstimate ??= storage.estimate.bind(storage);
    const real = storage.realEstimate;
    storage.estimate = freeBytes === null ? real : async () => {
      const usage = (await real()).usage ?? 0;
      return { usage, quota: usage + freeBytes };
    };
  },
  async usage(): Promise<number> {
    return (await navigator.storage.estimate()).usage ?? 0;
  },
};

declare global {
  interface Window {
    failures?: typeof api;
  }
}

await tf.setBackend('cpu');
window.failures = api;
