/**
 * The stores the conformance suite runs against. Each fixture gives a store over fresh, empty data,
 * registered under a scheme of its own (so the public API reaches it by URL, as users do), with a
 * fault switch: `arm(n)` makes the n-th later mutating step fail, as a full disk or a lost connection
 * would, and `steps()` counts the mutating steps taken since arming.
 */
import * as fsp from 'node:fs/promises';
import { FsStore, MemoryStore, registerStore, type FsOps } from '../../src/index.js';
import { faultSwitch, type FaultSwitch, type StoreFixture } from './fixture_types.js';
import { tempDir } from '../helpers.js';
import { ObjectStore, type Bucket } from '../../examples/object_store.js';
import { S3Store } from '../../src/stores/s3.js';
import { bodySender, setBodySender } from '../../src/stores/s3_thread_body.js';
import { TieredStore } from '../../src/stores/tiered.js';
import { S3RVER_CREDENTIALS, startS3Server, type S3TestServer } from './s3_server.js';

export type { StoreFixture, StoreUnderTest, FaultSwitch } from './fixture_types.js';
export { faultSwitch };

let schemes = 0;
function uniqueScheme(kind: string): string {
  return `conf-${kind}-${process.pid}-${++schemes}`;
}

/** FsOps whose mutating calls (open for writing, write, fsync, mkdir, rename, rm) go through the switch. */
function switchedFs(faults: FaultSwitch): FsOps {
  return {
    async open(path, flags, mode) {
      const writing = typeof flags === 'string' ? /[wa+]/.test(flags) : ((flags ?? 0) & 3) !== 0;
      if (writing) faults.step(`open ${String(path)}`);
      const handle = await fsp.open(path, flags, mode);
      const write = handle.write.bind(handle) as (...args: unknown[]) => Promise<{ bytesWritten: number }>;
      const sync = handle.sync.bind(handle);
      return Object.assign(handle, {
        write: async (...args: unknown[]) => {
          faults.step(`write ${String(path)}`);
          return write(...args);
        },
        sync: async () => {
          faults.step(`fsync ${String(path)}`);
          return sync();
        },
      });
    },
    async mkdir(path, options) {
      faults.step(`mkdir ${String(path)}`);
      return fsp.mkdir(path, options as never) as never;
    },
    async rename(from, to) {
      faults.step(`rename ${String(from)} → ${String(to)}`);
      return fsp.rename(from, to);
    },
    async rm(path, options) {
      faults.step(`rm ${String(path)}`);
      return fsp.rm(path, options);
    },
    async link(from, to) {
      faults.step(`link ${String(from)} → ${String(to)}`);
      return fsp.link(from, to);
    },
    readdir: fsp.readdir as FsOps['readdir'],
    stat: fsp.stat as FsOps['stat'],
  };
}

export const fsFixture: StoreFixture = {
  name: 'fs',
  hasLeftovers: true,
  async create() {
    const faults = faultSwitch();
    const store = new FsStore(switchedFs(faults));
    const scheme = uniqueScheme('fs');
    registerStore(scheme, { store, base: () => process.cwd() });
    const dir = await tempDir('tfjs-ckpt-conf-');
    const rel = dir.slice(1);
    return {
      store,
      base: `${scheme}://${dir}`,
      spellings: [`${scheme}://${dir}/`, `${scheme}://${dir}//./`, `${scheme}://${dir}/sub/..`, `${scheme}:///${rel}`, `${scheme}://${dir.replace(/\//g, '//')}`],
      ...faults,
    };
  },
};

export const memoryFixture: StoreFixture = {
  name: 'memory',
  hasLeftovers: false,
  async create() {
    const faults = faultSwitch();
    const store = new MemoryStore({ faults: (step, key) => faults.step(`${step} ${key}`) });
    const scheme = uniqueScheme('mem');
    registerStore(scheme, store);
    return {
      store,
      base: `${scheme}://run`,
      spellings: [`${scheme}:///run`, `${scheme}://run/`, `${scheme}://./run/./`, `${scheme}://x/../run`, `${scheme}:////run//`],
      ...faults,
    };
  },
};

/** The README's example of writing your own store (examples/object_store.ts), its bucket's puts and deletes faulted. */
export const objectStoreFixture: StoreFixture = {
  name: 'example object store',
  hasLeftovers: true,
  async create() {
    const faults = faultSwitch();
    class FaultyBucket extends Map<string, { bytes: Uint8Array; modified: bigint }> {
      override set(key: string, value: { bytes: Uint8Array; modified: bigint }): this {
        faults.step(`put ${key}`);
        return super.set(key, value);
      }
      override delete(key: string): boolean {
        faults.step(`delete ${key}`);
        return super.delete(key);
      }
    }
    const store = new ObjectStore(new FaultyBucket() as Bucket);
    const scheme = uniqueScheme('obj');
    registerStore(scheme, store);
    return {
      store,
      base: `${scheme}://run`,
      spellings: [`${scheme}:///run`, `${scheme}://run/`, `${scheme}://./run/./`, `${scheme}://x/../run`],
      ...faults,
    };
  },
};

/** Commands that change a bucket: the ones a fault is injected into. */
const S3_WRITES = new Set(['PutObjectCommand', 'CreateMultipartUploadCommand', 'UploadPartCommand', 'CompleteMultipartUploadCommand', 'DeleteObjectCommand', 'DeleteObjectsCommand', 'CopyObjectCommand']);

let server: Promise<S3TestServer> | undefined;
let prefixes = 0;

/**
 * Makes a store whose commands sent to the SDK on the upload thread (s3_thread_calls.ts) first pass
 * `hook`, here on the main thread (a fault it throws is that command's error).
 */
function withThreadHook<T>(hook: (command: string) => void, make: () => T): T {
  const installed = bodySender();
  const openClient = installed?.openClient;
  if (!installed || !openClient) return make();
  setBodySender({
    ...installed,
    openClient: (options) => {
      const client = openClient(options);
      return client && { call: async (command, input, credentials) => (hook(`${command}Command`), client.call(command, input, credentials)) };
    },
  });
  try {
    return make();
  } finally {
    setBodySender(installed);
  }
}

/**
 * The S3 store against a real S3 server (s3rver on 127.0.0.1, one per test process); each store gets
 * a fresh prefix. `route`: configured as users do (endpoint, credentials), so the store makes its own
 * client and its requests go to the SDK on its upload thread (s3_thread_calls.ts); or with a client
 * of your own, whose requests and bodies the SDK sends from the main thread. The faults hook into the
 * store's client, and into the upload thread's commands.
 */
function s3FixtureVia(route: 'upload thread' | 'client of your own'): StoreFixture {
  return {
    name: `s3 (s3rver, ${route})`,
    hasLeftovers: true,
    async create() {
      const running = await (server ??= startS3Server());
      const faults = faultSwitch();
      const fault = (command: string) => void (S3_WRITES.has(command) && faults.step(command));
      const store =
        route === 'upload thread'
          ? withThreadHook(fault, () => new S3Store({ endpoint: running.endpoint, forcePathStyle: true, credentials: S3RVER_CREDENTIALS }))
          : new S3Store({ client: running.client() });
      store.client.middlewareStack.add(
        (next, context) => async (args) => {
          fault((context as { commandName?: string }).commandName ?? '');
          return next(args);
        },
        { step: 'initialize', name: 'conformanceFaults' },
      );
      const scheme = uniqueScheme('s3');
      registerStore(scheme, store);
      const prefix = `t${process.pid}-${++prefixes}`;
      return {
        store,
        base: `${scheme}://bucket/${prefix}`,
        spellings: [`${scheme}:///bucket/${prefix}`, `${scheme}://bucket/${prefix}/`, `${scheme}://bucket//${prefix}/./`, `${scheme}://bucket/x/../${prefix}`],
        ...faults,
      };
    },
  };
}

export const s3Fixture = s3FixtureVia('upload thread');
export const s3OwnClientFixture = s3FixtureVia('client of your own');

/** Stops the fixture's S3 server (call from an `after` hook of the file that used it). */
export async function stopS3Fixture(): Promise<void> {
  const running = server;
  server = undefined;
  if (running) await (await running).stop();
}

export const FIXTURES: StoreFixture[] = [fsFixture, memoryFixture, objectStoreFixture, s3Fixture];

/**
 * The local tier (localCache): an fs store, its file-system calls faulted, in front of a memory store
 * as the remote one. Everything the suite checks must hold through the tier's union of both.
 */
export const tieredFixture: StoreFixture = {
  name: 'tiered (fs in front of memory)',
  hasLeftovers: true,
  async create() {
    const faults = faultSwitch();
    const local = new FsStore(switchedFs(faults));
    const dir = await tempDir('tfjs-ckpt-tier-');
    const store = new TieredStore(new MemoryStore(), local, dir, { retryDelayMs: 10 });
    const scheme = uniqueScheme('tier');
    registerStore(scheme, store);
    return {
      store,
      base: `${scheme}://run`,
      spellings: [`${scheme}:///run`, `${scheme}://run/`, `${scheme}://./run/./`, `${scheme}://x/../run`],
      ...faults,
    };
  },
};
