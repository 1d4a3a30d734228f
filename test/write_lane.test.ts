/**
 * Overlapping writes: a store's files go out one after another in call order while each file's
 * finishing work (the fs store's read-back checksum) runs beside the next file's bytes, and the
 * writer keeps two writes in flight only on stores that allow it, never aborting under a write.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { crc32 } from 'node:zlib';
import { describe, it } from 'node:test';
import { writeCheckpoint } from '../src/checkpoint/write.js';
import type { WeightEntry } from '../src/formats/weight_entry.js';
import { MemoryStore } from '../src/stores/memory.js';
import type { Location } from '../src/stores/registry.js';
import { StagedDirectory } from '../src/stores/fs.js';
import { nodeFs, type FsOps } from '../src/stores/fs_ops.js';
import type { ByteChunks, CheckpointStore, StagedCheckpoint, WrittenFile } from '../src/stores/store.js';
import { WriteLane } from '../src/stores/write_lane.js';

/** A promise with its resolver, to hold a step until the test lets it go. */
function gate<T = void>(): { promise: Promise<T>; open(value: T): void; fail(e: Error): void } {
  let open!: (value: T) => void;
  let fail!: (e: Error) => void;
  const promise = new Promise<T>((resolve, reject) => ((open = resolve), (fail = reject)));
  return { promise, open, fail };
}

/** Lets every queued callback run (the steps under test are promise chains, no timers). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('WriteLane', () => {
  it('a file failing while the one before is still finishing does not let the one after be recorded first', async () => {
    const recorded: string[] = [];
    const lane = new WriteLane<string>((r) => (recorded.push(r), r));
    const aFinish = gate();
    const a = lane.run(async () => 'a', async (x) => (await aFinish.promise, x));
    const b = lane.run(async (): Promise<string> => {
      throw new Error('name taken');
    }, async (x) => x);
    const c = lane.run(async () => 'c', async (x) => x);
    await assert.rejects(b, /name taken/);
    await settle();
    assert.deepEqual(recorded, [], 'c waits for a');
    aFinish.open();
    await Promise.all([a, c]);
    assert.deepEqual(recorded, ['a', 'c']);
  });

  it("a file's bytes go out after the previous file's, beside its finishing work; results are recorded in call order", async () => {
    const events: string[] = [];
    const recorded: string[] = [];
    const lane = new WriteLane<string>((r) => (recorded.push(r), r));
    const aFinish = gate();
    const bOut = gate();
    const a = lane.run(
      async () => (events.push('a out'), 'a'),
      async (x) => (await aFinish.promise, events.push('a finished'), x),
    );
    const b = lane.run(
      async () => (events.push('b out'), await bOut.promise, events.push('b out ended'), 'b'),
      async (x) => (events.push('b finished'), x),
    );
    await settle();
    assert.deepEqual(events, ['a out', 'b out'], "b's bytes start while a's finishing work is still running");
    bOut.open();
    await settle();
    assert.deepEqual(events, ['a out', 'b out', 'b out ended', 'b finished']);
    assert.deepEqual(recorded, [], 'b finished first but is recorded after a');
    aFinish.open();
    assert.deepEqual(await Promise.all([a, b]), ['a', 'b']);
    assert.deepEqual(recorded, ['a', 'b']);
  });

  it('the next file waits for the bytes of the one before; a failed file frees the lane and is not recorded', async () => {
    const events: string[] = [];
    const recorded: string[] = [];
    const lane = new WriteLane<string>((r) => (recorded.push(r), r));
    const aOut = gate<string>();
    const a = lane.run(() => aOut.promise, async (x) => x);
    const b = lane.run(async () => (events.push('b out'), 'b'), async (x) => x);
    const c = lane.run(async () => 'c', async () => {
      throw new Error('checksum failed');
    });
    const d = lane.run(async () => 'd', async (x) => x);
    await settle();
    assert.deepEqual(events, [], "b waits for a's bytes");
    aOut.fail(new Error('disk full'));
    await assert.rejects(a, /disk full/);
    assert.equal(await b, 'b');
    await assert.rejects(c, /checksum failed/);
    assert.equal(await d, 'd');
    assert.deepEqual(recorded, ['b', 'd']);
  });
});

describe('WriteLane without bytesInOrder', () => {
  it("the next file's bytes go out beside the previous file's; results are still recorded in call order", async () => {
    const events: string[] = [];
    const recorded: string[] = [];
    const lane = new WriteLane<string>((r) => (recorded.push(r), r), { bytesInOrder: false });
    const aOut = gate<string>();
    const a = lane.run(async () => (events.push('a out'), aOut.promise), async (x) => x);
    const b = lane.run(async () => (events.push('b out'), 'b'), async (x) => (events.push('b finished'), x));
    await settle();
    assert.deepEqual(events, ['a out', 'b out', 'b finished'], "b's bytes go out while a's are still going out");
    assert.deepEqual(recorded, [], 'b is done but recorded after a');
    aOut.open('a');
    assert.deepEqual(await Promise.all([a, b]), ['a', 'b']);
    assert.deepEqual(recorded, ['a', 'b']);
  });

  it('a failed file is not recorded and does not hold the ones after it', async () => {
    const recorded: string[] = [];
    const lane = new WriteLane<string>((r) => (recorded.push(r), r), { bytesInOrder: false });
    const aOut = gate<string>();
    const a = lane.run(() => aOut.promise, async (x) => x);
    const b = lane.run(async () => 'b', async (x) => x);
    aOut.fail(new Error('disk full'));
    await assert.rejects(a, /disk full/);
    assert.equal(await b, 'b');
    assert.deepEqual(recorded, ['b']);
  });
});

/** Waits, for up to `ms`, until `done()` holds; false if it never did. */
async function eventually(done: () => boolean, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!done() && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 1));
  return done();
}

/** The real file system, with every file's `writev` held until `release` opens; `started` names the files whose write began. */
function heldWrites(): { fs: FsOps; started: string[]; release: ReturnType<typeof gate<void>> } {
  const started: string[] = [];
  const release = gate();
  const fs: FsOps = {
    ...nodeFs,
    async open(path, flags, mode) {
      const handle = await nodeFs.open(path, flags, mode);
      const writev = handle.writev.bind(handle) as (...args: unknown[]) => Promise<{ bytesWritten: number; buffers: NodeJS.ArrayBufferView[] }>;
      return Object.assign(handle, {
        writev: async (...args: unknown[]) => {
          started.push(basename(String(path)));
          await release.promise;
          return writev(...args);
        },
      });
    },
  };
  return { fs, started, release };
}

describe('the fs store writes files beside each other', () => {
  // Inside fit the save moves on only between batches, so a file that waited for the one before it to be
  // written would cost the save a batch (src/callbacks/event_loop_turn.ts).
  it("a shard's bytes go out while the previous shard's are still being written; both land whole, recorded in call order", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tfjs-ckpt-lane-'));
    const { fs, started, release } = heldWrites();
    try {
      const staged = await StagedDirectory.begin(join(dir, 'ckpt'), fs);
      // Past the size the helper thread takes whole (1 MiB), so each is opened and written here.
      const a = staged.write('a.bin', [new Uint8Array(2 << 20).fill(1)]);
      const b = staged.write('b.bin', [new Uint8Array(3 << 20).fill(2)]);
      assert.ok(await eventually(() => started.length === 2), `b waited for a's bytes: writes started ${JSON.stringify(started)}`);
      assert.deepEqual([...started].sort(), ['a.bin', 'b.bin']);
      release.open();
      await Promise.all([a, b]);
      assert.deepEqual(
        staged.written().map((f) => [f.name, f.size]),
        [
          ['a.bin', 2 << 20],
          ['b.bin', 3 << 20],
        ],
      );
      await staged.commit();
      assert.equal(crc32(readFileSync(join(dir, 'ckpt', 'a.bin'))), crc32(new Uint8Array(2 << 20).fill(1)));
      assert.equal(crc32(readFileSync(join(dir, 'ckpt', 'b.bin'))), crc32(new Uint8Array(3 << 20).fill(2)));
      assert.equal(staged.written()[1]!.crc32, crc32(new Uint8Array(3 << 20).fill(2)));
    } finally {
      release.open();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a second write of one name fails at once, while the first is still going out, and the first is kept', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tfjs-ckpt-lane-'));
    const { fs, started, release } = heldWrites();
    try {
      const staged = await StagedDirectory.begin(join(dir, 'ckpt'), fs);
      const first = staged.write('a.bin', [new Uint8Array(2 << 20).fill(1)]);
      assert.ok(await eventually(() => started.length === 1), 'the first write started');
      await assert.rejects(staged.write('a.bin', [new Uint8Array(3 << 20).fill(2)]), /a\.bin is already being written/);
      release.open();
      assert.equal((await first).size, 2 << 20);
      await staged.commit();
      assert.equal(crc32(readFileSync(join(dir, 'ckpt', 'a.bin'))), crc32(new Uint8Array(2 << 20).fill(1)));
    } finally {
      release.open();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** A weight of `n` bytes, each `value`. */
function entry(name: string, n: number, value: number): WeightEntry {
  return { name, shape: [n / 4], dtype: 'float32', byteLength: n, read: async () => new Uint8Array(n).fill(value) };
}

/**
 * A memory store whose staged checkpoints say they overlap writes and hold each write until the test
 * releases it, recording how many were in flight and when abort ran.
 */
function gatedStore(overlaps: boolean) {
  const memory = new MemoryStore();
  const log: string[] = [];
  const gates = new Map<string, { open(): void; fail(e: Error): void }>();
  let inFlight = 0;
  let maxInFlight = 0;
  const store = Object.create(memory) as CheckpointStore;
  store.stage = async (key, options) => {
    const staged = await memory.stage(key, options);
    let chain: Promise<void> = Promise.resolve();
    const wrapped: StagedCheckpoint = {
      key,
      ...(overlaps ? { overlapsWrites: true } : {}),
      async write(name: string, chunks: ByteChunks): Promise<WrittenFile> {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        log.push(`write ${name}`);
        // Gates may open in any order; the writes reach the memory store in call order, as the
        // contract of overlapsWrites says.
        const before = chain;
        const g = gate<void>();
        gates.set(name, g);
        const done = g.promise.then(() => before).then(() => staged.write(name, chunks));
        chain = done.then(
          () => undefined,
          () => undefined,
        );
        try {
          return await done;
        } finally {
          inFlight--;
          log.push(`end ${name}`);
        }
      },
      written: () => staged.written(),
      commit: () => staged.commit(),
      abort: async () => {
        log.push('abort');
        await staged.abort();
      },
    };
    return wrapped;
  };
  const location: Location = { store, scheme: 'memory', key: 'ckpt', url: 'memory://ckpt' };
  return { memory, location, log, gates, maxInFlight: () => maxInFlight };
}

const contents = { kind: 'weights' as const, entries: [entry('a', 64, 1), entry('b', 64, 2), entry('c', 64, 3)] };

describe('writeCheckpoint with overlapping writes', () => {
  it("two files in flight on a store that overlaps writes; checkpoint.json waits for every file's CRC-32; files listed in plan order", async () => {
    const { memory, location, log, gates, maxInFlight } = gatedStore(true);
    const saving = writeCheckpoint(location, contents, { maxShardBytes: 64 });
    await settle();
    assert.deepEqual(log, ['write group1-shard1of3.bin', 'write group1-shard2of3.bin'], 'the second shard is handed over before the first resolves');
    for (const name of ['group1-shard2of3.bin', 'group1-shard1of3.bin', 'group1-shard3of3.bin', 'weights.json']) {
      await settle();
      gates.get(name)!.open();
    }
    await settle();
    assert.ok(!log.includes('write checkpoint.json') || log.indexOf('write checkpoint.json') > log.indexOf('end weights.json'));
    gates.get('checkpoint.json')!.open();
    const written = await saving;
    assert.equal(maxInFlight(), 2);
    assert.deepEqual(
      written.metadata.files.map((f) => f.name),
      ['group1-shard1of3.bin', 'group1-shard2of3.bin', 'group1-shard3of3.bin', 'weights.json'],
    );
    assert.equal(written.metadata.files[1]!.crc32, crc32(new Uint8Array(64).fill(2)));
    assert.equal(await memory.exists('ckpt'), true);
  });

  it('one file at a time on other stores', async () => {
    const { location, gates, maxInFlight } = gatedStore(false);
    const saving = writeCheckpoint(location, contents, { maxShardBytes: 64 });
    for (const name of ['group1-shard1of3.bin', 'group1-shard2of3.bin', 'group1-shard3of3.bin', 'weights.json', 'checkpoint.json']) {
      await settle();
      gates.get(name)!.open();
    }
    await saving;
    assert.equal(maxInFlight(), 1);
  });

  it('a failed write: the save fails, and the staged checkpoint is aborted only after the write in flight beside it has ended', async () => {
    const { memory, location, log, gates } = gatedStore(true);
    const saving = writeCheckpoint(location, contents, { maxShardBytes: 64 });
    await settle();
    gates.get('group1-shard1of3.bin')!.fail(new Error('disk full'));
    await settle();
    assert.ok(!log.includes('abort'), 'not aborted while shard 2 is still being written');
    gates.get('group1-shard2of3.bin')!.open();
    await assert.rejects(saving, /disk full/);
    assert.ok(log.indexOf('abort') > log.indexOf('end group1-shard2of3.bin'), log.join(', '));
    assert.ok(!log.includes('write group1-shard3of3.bin'), 'nothing more is written after a failure');
    assert.equal(await memory.exists('ckpt'), false);
  });
});
