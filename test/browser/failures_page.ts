/**
 * The page of failures.test.ts: the library plus a few calls the test drives with `evaluate`
 * (window.failures). The stores under test are the browser's own (`indexeddb`, `opfs`), registered
 * again under `<kind>-test` with a fault hook that only counts writes, so the test can close the tab
 * while a save is in flight.
 */
import * as tf from '@tensorflow/tfjs';
import { CheckpointManager, IndexedDbStore, latestCheckpoint, modelCheckpoint, OpfsStore, registerStore, saveWeights, verify, type CheckpointStore } from '../../src/universal.js';

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
