/**
 * The local tier (`localCache`) beyond the conformance suite (test/stores/tiered.test.ts): with a
 * remote store that can be taken down and brought back (a memory store behind a switch), saves keep
 * committing locally while it is down, `flush()` reports what is not uploaded, every checkpoint
 * reaches it once it is back (also when a new process takes over the cache), retention applies to
 * both tiers, resume takes the newest checkpoint of either, and a damaged local copy is reported,
 * not retried forever. The same against a real S3 server is in s3_store.test.ts.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { backupAndRestore, CheckpointError, CheckpointManager, MemoryStore, modelCheckpoint, registerStore, restoreTraining, TieredStore, verify, type CheckpointStore } from '../src/index.js';
import { fsStore } from '../src/index.js';
import { captureLogger, maxAbsDiff, smallClassifier, tempDir, toyData } from './helpers.js';

/** A store whose every call fails while `down` is set, as an unreachable server's would. */
function switchable(inner: CheckpointStore): CheckpointStore & { down: boolean; hang: boolean; readOnly: boolean; calls: number } {
  const wrapper = { down: false, hang: false, readOnly: false, calls: 0 } as CheckpointStore & { down: boolean; hang: boolean; readOnly: boolean; calls: number };
  const gate = <T>(call: () => Promise<T>): Promise<T> => {
    wrapper.calls += 1;
    // hang: a blackholed network, where requests never answer.
    if (wrapper.hang) return new Promise<T>(() => undefined);
    return wrapper.down ? Promise.reject(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' })) : call();
  };
  // readOnly: reads answer, every change is refused (a throttled or read-only bucket).
  const change = <T>(call: () => Promise<T>): Promise<T> => (wrapper.readOnly ? Promise.reject(new Error('AccessDenied: writes refused')) : gate(call));
  return Object.assign(wrapper, {
    scheme: inner.scheme,
    stage: (key: string, options?: Parameters<CheckpointStore['stage']>[1]) =>
      change(async () => {
        const staged = await inner.stage(key, options);
        return {
          get key() {
            return staged.key;
          },
          write: (name: string, chunks: Parameters<typeof staged.write>[1]) => gate(() => staged.write(name, chunks)),
          written: () => staged.written(),
          commit: () => gate(() => staged.commit()),
          abort: () => staged.abort(),
        };
      }),
    open: (key: string) => gate(() => inner.open(key)),
    list: (prefix: string, options: Parameters<CheckpointStore['list']>[1]) => gate(() => inner.list(prefix, options)),
    exists: (key: string) => gate(() => inner.exists(key)),
    remove: (key: string) => change(() => inner.remove(key)),
    readSmall: (key: string, max: number) => gate(() => inner.readSmall(key, max)),
    writeSmall: (key: string, bytes: Uint8Array) => change(() => inner.writeSmall(key, bytes)),
    removeSmall: (key: string) => change(() => inner.removeSmall(key)),
    recover: (dir: string, isOurs: (name: string) => boolean) => gate(() => inner.recover(dir, isOurs)),
  });
}

let schemes = 0;
/** A remote store (memory, switchable) under a fresh scheme, seen with and without a tier. */
async function setup() {
  const memory = new MemoryStore();
  const remote = switchable(memory);
  const scheme = `tierrem${process.pid}x${++schemes}`;
  registerStore(scheme, remote);
  // The remote store's own view, bypassing every tier.
  const direct = `tierdirect${process.pid}x${schemes}`;
  registerStore(direct, memory);
  const cache = await tempDir('tfjs-ckpt-cache-');
  return { remote, scheme, direct, cache };
}

/** The file of the frozen first layer's weights (its own shard: see the incremental checkpoints). */
const FROZEN_SHARD = 'group2-shard1of1.bin';

/**
 * A model with a frozen first layer trained with `modelCheckpoint` to `<scheme>://run/ck-{epoch:02d}`
 * (a memory store, also registered as `direct` when given) through a fresh `localCache`.
 */
async function frozenBaseRun(prefix: string, withDirect = false) {
  const memory = new MemoryStore();
  const scheme = `${prefix}${process.pid}x${++schemes}`;
  registerStore(scheme, memory);
  const direct = `${scheme}direct`;
  if (withDirect) registerStore(direct, memory);
  const cache = await tempDir('tfjs-ckpt-cache-');
  const model = smallClassifier(8);
  model.layers[0]!.trainable = false;
  model.compile({ optimizer: tf.train.adam(0.05), loss: 'categoricalCrossentropy' });
  const { x, y } = toyData(16);
  const callback = modelCheckpoint({ filepath: `${scheme}://run/ck-{epoch:02d}`, localCache: cache });
  /** Trains up to epoch `epochs` (from where the previous call stopped) and waits for every upload. */
  let done = 0;
  const train = async (epochs: number) => {
    await model.fit(x, y, { epochs, initialEpoch: done, batchSize: 8, shuffle: false, verbose: 0, callbacks: [callback] });
    done = epochs;
    await callback.flush();
  };
  return { memory, scheme, direct, cache, train, data: { x, y } };
}

async function epochsOf(manager: CheckpointManager): Promise<(number | null)[]> {
  return (await manager.list()).map((r) => r.metadata.epoch);
}

describe('the local tier', () => {
  it('keeps training going while the remote store is down, reports what is not uploaded, and uploads it all when it is back', async () => {
    const { remote, scheme, direct, cache } = await setup();
    const logger = captureLogger();
    const model = smallClassifier(3);
    const { x, y } = toyData(32);
    const callback = modelCheckpoint({ filepath: `${scheme}://run/w-{epoch:02d}`, localCache: cache, saveWeightsOnly: true, logger });
    remote.down = true;
    await model.fit(x, y, { epochs: 4, batchSize: 16, shuffle: false, verbose: 0, callbacks: [callback] });
    // Training finished; every epoch is committed locally, none remotely, and the end of fit said so.
    const local = new CheckpointManager({ filepath: `${cache}/run/w-{epoch:02d}` });
    assert.deepEqual(await epochsOf(local), [1, 2, 3, 4]);
    assert.ok(logger.warnings.some((w) => /could not|ECONNREFUSED/i.test(w) && /local tier/.test(w)), logger.warnings.join('\n'));
    assert.ok(logger.warnings.some((w) => /4 checkpoint\(s\) are committed to the local tier but not uploaded yet/.test(w) && w.includes(`${scheme}://run/w-04`)), logger.warnings.join('\n'));
    const pending = await callback.flush();
    assert.deepEqual(pending.notUploaded, [1, 2, 3, 4].map((e) => `${scheme}://run/w-0${e}`));
    assert.match(pending.error?.message ?? '', /ECONNREFUSED/);
    // Through the tier, the checkpoints are all there while the remote store is down.
    const tiered = new CheckpointManager({ filepath: `${scheme}://run/w-{epoch:02d}`, localCache: cache });
    assert.deepEqual(await epochsOf(tiered), [1, 2, 3, 4]);

    remote.down = false;
    const report = await callback.flush();
    assert.deepEqual(report, { notUploaded: [], damaged: [], otherPending: 0 });
    const remoteView = new CheckpointManager({ filepath: `${direct}://run/w-{epoch:02d}` });
    assert.deepEqual(await epochsOf(remoteView), [1, 2, 3, 4]);
    for (const checked of await remoteView.verify()) assert.equal(checked.checksums, 'verified');
    const weights = (await remoteView.restore('latest')) as tf.NamedTensorMap;
    const expected = model.getWeights();
    assert.equal(Object.keys(weights).length, expected.length);
    for (const [i, tensor] of Object.values(weights).entries()) assert.deepEqual(tensor.dataSync(), expected[i]!.dataSync());
    assert.ok(logger.warnings.some((w) => /answers again/.test(w)), logger.warnings.join('\n'));
  });

  it('applies retention to both tiers, deleting remotely once the store is back', async () => {
    const { remote, scheme, direct, cache } = await setup();
    const model = smallClassifier(4);
    const { x, y } = toyData(32);
    const manager = new CheckpointManager({ filepath: `${scheme}://run/w-{epoch:02d}`, localCache: cache, keepLast: 2, saveWeightsOnly: true, logger: captureLogger() });
    for (let epoch = 1; epoch <= 3; epoch++) {
      await model.fit(x, y, { epochs: 1, batchSize: 16, shuffle: false, verbose: 0 });
      await manager.save(epoch, model, { epoch });
    }
    assert.deepEqual((await manager.flush()).notUploaded, []);
    const remoteView = new CheckpointManager({ filepath: `${direct}://run/w-{epoch:02d}` });
    assert.deepEqual(await epochsOf(remoteView), [2, 3]);
    remote.down = true;
    for (let epoch = 4; epoch <= 6; epoch++) await manager.save(epoch, model, { epoch });
    const pending = await manager.flush();
    assert.deepEqual(pending.notUploaded, [`${scheme}://run/w-05`, `${scheme}://run/w-06`]);
    assert.equal(pending.otherPending, 3, 'the deletions of w-02, w-03 and w-04 wait for the store');
    // The tier's view applies retention already: the remote copies waiting for deletion are hidden.
    assert.deepEqual(await epochsOf(manager), [5, 6]);
    remote.down = false;
    assert.deepEqual(await manager.flush(), { notUploaded: [], damaged: [], otherPending: 0 });
    assert.deepEqual(await epochsOf(remoteView), [5, 6]);
    assert.deepEqual((await readdir(join(cache, 'run'))).filter((n) => !n.startsWith('.')).sort(), ['w-05', 'w-06']);
  });

  it('a deletion the remote store has not applied yet is hidden from the union while the store answers reads', async () => {
    const { remote, direct, cache } = await setup();
    // No retry delay: reads go to the store at once after a failed deletion (the default skips it for a while).
    const tier = new TieredStore(remote, fsStore, cache, { retryDelayMs: 0, maxRetryDelayMs: 0 });
    const scheme = `tierro${process.pid}x${schemes}`;
    registerStore(scheme, tier);
    const model = smallClassifier(12);
    const manager = new CheckpointManager({ filepath: `${scheme}://run/w-{epoch:02d}`, keepLast: 2, saveWeightsOnly: true, logger: captureLogger() });
    for (let epoch = 1; epoch <= 2; epoch++) await manager.save(epoch, model, { epoch });
    await manager.flush();
    remote.readOnly = true;
    await manager.save(3, model, { epoch: 3 });
    await manager.wait();
    assert.equal(tier.report().otherPending, 1);
    const remoteView = new CheckpointManager({ filepath: `${direct}://run/w-{epoch:02d}` });
    assert.deepEqual(await epochsOf(remoteView), [1, 2], 'the bucket still holds epoch 1');
    assert.deepEqual(await epochsOf(manager), [2, 3], 'but the tier does not show it');
    remote.readOnly = false;
    // settle() stops at a failed attempt, and one that began while the store refused writes can fail
    // after it accepts them again (retries run back to back here): settle until nothing is pending.
    for (let i = 0; i < 5; i++) {
      const report = await tier.settle();
      if (report.notUploaded.length === 0 && report.otherPending === 0) break;
    }
    assert.deepEqual(await epochsOf(remoteView), [2, 3]);
  });

  it('a new process with the same cache uploads what the previous one could not', async () => {
    const { remote, scheme, direct, cache } = await setup();
    const model = smallClassifier(5);
    const first = new TieredStore(remote, fsStore, cache, { retryDelayMs: 5 });
    const firstScheme = `tierfirst${process.pid}x${schemes}`;
    registerStore(firstScheme, first);
    remote.down = true;
    const writer = new CheckpointManager({ filepath: `${firstScheme}://run/w-{epoch:02d}`, saveWeightsOnly: true, logger: captureLogger() });
    for (let epoch = 1; epoch <= 3; epoch++) await writer.save(epoch, model, { epoch });
    await writer.wait();
    assert.equal(first.report().notUploaded.length, 3);
    // The first process goes away with its queue; the remote store comes back; a new one starts on the cache.
    remote.down = false;
    const next = new CheckpointManager({ filepath: `${scheme}://run/w-{epoch:02d}`, localCache: cache, saveWeightsOnly: true, logger: captureLogger() });
    await next.recover();
    assert.deepEqual(await next.flush(), { notUploaded: [], damaged: [], otherPending: 0 });
    assert.deepEqual(await epochsOf(new CheckpointManager({ filepath: `${direct}://run/w-{epoch:02d}` })), [1, 2, 3]);
  });

  it('a remote store that never answers holds a save for answerWithinMs once, not for its timeouts, and is not asked again until the retry delay', async () => {
    const { remote, direct, cache } = await setup();
    const tier = new TieredStore(remote, fsStore, cache, { answerWithinMs: 100, retryDelayMs: 60_000 });
    const tierScheme = `tierhang${process.pid}x${schemes}`;
    registerStore(tierScheme, tier);
    remote.hang = true;
    const manager = new CheckpointManager({ filepath: `${tierScheme}://run/w-{epoch:02d}`, saveWeightsOnly: true, keepLast: 2, logger: captureLogger() });
    const model = smallClassifier(10);
    for (let epoch = 1; epoch <= 4; epoch++) await manager.save(epoch, model, { epoch });
    await manager.wait();
    assert.deepEqual(await epochsOf(manager), [3, 4]);
    // One read timed out; every later save, listing and retention answered from the local tier alone
    // (the queue's own first attempt hangs too, and nothing else was sent while it did).
    assert.ok(remote.calls <= 3, `the remote store was asked ${remote.calls} times`);
    assert.match(tier.report().error?.message ?? '', /did not answer within 100 ms/);
    remote.hang = false;
    // The hung request never returns; a new process would upload. Here the next attempt goes after the (shortened) delay.
    assert.deepEqual(await epochsOf(new CheckpointManager({ filepath: `${direct}://run/w-{epoch:02d}` })), []);
  });

  it('resume takes the newest checkpoint of either tier', async () => {
    const { scheme, direct, cache } = await setup();
    const model = smallClassifier(6);
    const tiered = new CheckpointManager({ filepath: `${scheme}://run/w-{epoch:02d}`, localCache: cache, saveWeightsOnly: true });
    await tiered.save(1, model, { epoch: 1 });
    await tiered.flush();
    // Another machine (no cache here) writes epoch 2 to the remote store directly.
    const other = smallClassifier(7);
    const elsewhere = new CheckpointManager({ filepath: `${direct}://run/w-{epoch:02d}`, saveWeightsOnly: true });
    await elsewhere.save(2, other, { epoch: 2 });
    await elsewhere.wait();
    assert.equal((await tiered.latest())?.metadata.epoch, 2);
    const restored = smallClassifier(1);
    await tiered.restore('latest', restored);
    for (const [i, w] of restored.getWeights().entries()) assert.deepEqual(w.dataSync(), other.getWeights()[i]!.dataSync());
    // And a local checkpoint newer than the remote ones wins while it is still uploading.
    await tiered.save(3, model, { epoch: 3 });
    await tiered.wait();
    assert.equal((await tiered.latest())?.metadata.epoch, 3);
  });

  it('a damaged local copy is reported, not retried forever, and the uploads behind it go on', async () => {
    const { remote, scheme, direct, cache } = await setup();
    const model = smallClassifier(8);
    const logger = captureLogger();
    const manager = new CheckpointManager({ filepath: `${scheme}://run/w-{epoch:02d}`, localCache: cache, saveWeightsOnly: true, logger });
    remote.down = true;
    await manager.save(1, model, { epoch: 1 });
    // Other weights: an unchanged model would share w-01's shard (one inode), and so its damage.
    await manager.save(2, smallClassifier(9), { epoch: 2 });
    await manager.wait();
    const shard = (await readdir(join(cache, 'run', 'w-01'))).find((n) => n.endsWith('.bin'))!;
    await writeFile(join(cache, 'run', 'w-01', shard), 'damaged');
    remote.down = false;
    const report = await manager.flush();
    assert.deepEqual(report.notUploaded, []);
    assert.deepEqual(report.damaged, [`${scheme}://run/w-01`]);
    assert.ok(logger.warnings.some((w) => /Damaged in the local tier/.test(w)));
    assert.deepEqual(await epochsOf(new CheckpointManager({ filepath: `${direct}://run/w-{epoch:02d}` })), [2]);
    await assert.rejects(verify(`${cache}/run/w-01`), (e: unknown) => e instanceof CheckpointError && e.code === 'CORRUPT_CHECKPOINT');
  });

  it('backupAndRestore with a localCache backs up while the store is down, and restoreTraining resumes from either tier', async () => {
    const { remote, scheme, direct, cache } = await setup();
    const { x, y } = toyData(32);
    const first = smallClassifier(9);
    remote.down = true;
    await first.fit(x, y, { epochs: 2, batchSize: 16, shuffle: false, verbose: 0, callbacks: [backupAndRestore({ backupDir: `${scheme}://backup`, localCache: cache, deleteCheckpoint: false, logger: captureLogger() })] });
    // The store is still down: the local tier has the backup.
    const resumed = await restoreTraining(`${scheme}://backup`, () => smallClassifier(1), { localCache: cache });
    assert.equal(resumed.initialEpoch, 2);
    assert.equal(maxAbsDiff(resumed.model.getWeights(), first.getWeights()), 0);
    // Once it is back, the backup reaches it, and a machine without the cache resumes from there.
    remote.down = false;
    const uploader = new CheckpointManager({ directory: `${scheme}://backup`, name: 'backup-{step:012d}', localCache: cache });
    await uploader.recover();
    assert.deepEqual((await uploader.flush()).notUploaded, []);
    const elsewhere = await restoreTraining(`${direct}://backup`, () => smallClassifier(1));
    assert.equal(elsewhere.initialEpoch, 2);
    assert.equal(maxAbsDiff(elsewhere.model.getWeights(), first.getWeights()), 0);
  });

  it('a frozen base is shared in both tiers: hard-linked in the cache, shared from the earlier checkpoint remotely (not sent again)', async () => {
    const { memory, scheme, cache, train } = await frozenBaseRun('tiershare');
    await train(3);
    const frozen = FROZEN_SHARD;
    const local = await Promise.all(['ck-01', 'ck-02', 'ck-03'].map(async (n) => (await stat(join(cache, 'run', n, frozen))).ino));
    assert.equal(new Set(local).size, 1, 'one inode in the cache');
    const first = memory.committedFile('/run/ck-01', frozen);
    assert.ok(first && first.byteLength > 0);
    assert.equal(memory.committedFile('/run/ck-02', frozen), first, 'the same bytes remotely, not a second upload');
    assert.equal(memory.committedFile('/run/ck-03', frozen), first);
    assert.notEqual(memory.committedFile('/run/ck-03', 'group1-shard1of1.bin'), memory.committedFile('/run/ck-02', 'group1-shard1of1.bin'));
    await memory.remove('/run/ck-01');
    assert.equal((await verify(`${scheme}://run/ck-03`)).checksums, 'verified');
  });

  for (const change of ['removed', 'replaced by another writer'] as const) {
    it(`a shared file is sent, not shared, when the remote copy of the earlier checkpoint was ${change}`, async () => {
      const { memory, direct, cache, train, data } = await frozenBaseRun('tiersend', true);
      await train(1);
      const frozen = FROZEN_SHARD;
      const ours = memory.committedFile('/run/ck-01', frozen);
      assert.ok(ours && ours.byteLength > 0);
      if (change === 'removed') {
        await memory.remove('/run/ck-01');
      } else {
        // Another writer's checkpoint at the same key: the same file names, other bytes and CRC-32s.
        const other = smallClassifier(9);
        other.layers[0]!.trainable = false; // the same grouping into files
        other.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy' });
        const otherWriter = modelCheckpoint({ filepath: `${direct}://run/ck-01` });
        await other.fit(data.x, data.y, { epochs: 1, batchSize: 8, verbose: 0, callbacks: [otherWriter] });
        await otherWriter.flush();
        const theirs = memory.committedFile('/run/ck-01', frozen);
        assert.equal(theirs?.byteLength, ours.byteLength);
        assert.notDeepEqual(theirs, ours);
      }
      await train(2);
      // The cache still shared it (one inode); the bucket got the bytes themselves, not the other writer's.
      assert.equal((await stat(join(cache, 'run', 'ck-01', frozen))).ino, (await stat(join(cache, 'run', 'ck-02', frozen))).ino);
      const sent = memory.committedFile('/run/ck-02', frozen);
      assert.notEqual(sent, memory.committedFile('/run/ck-01', frozen));
      assert.deepEqual(sent, ours);
      assert.equal((await verify(`${direct}://run/ck-02`)).checksums, 'verified');
    });
  }

  it("a save through the tier keeps the local store's overlapping writes and reuse (two shards in flight, hard links)", async () => {
    const { remote, cache } = await setup();
    const overFs = await new TieredStore(remote, fsStore, cache).stage('/run/a');
    assert.equal(overFs.overlapsWrites, true);
    assert.equal(typeof overFs.reuse, 'function');
    await overFs.abort();
    // A local store that does not overlap its writes is not said to.
    const overMemory = await new TieredStore(remote, new MemoryStore(), '/cache').stage('/run/a');
    assert.equal(overMemory.overlapsWrites, undefined);
    await overMemory.abort();
  });

  it('refuses a cache in the same store as the checkpoints', async () => {
    const { scheme } = await setup();
    assert.throws(
      () => new CheckpointManager({ filepath: `${scheme}://run/w-{epoch}`, localCache: `${scheme}://cache` }),
      (e: unknown) => e instanceof CheckpointError && e.code === 'INVALID_ARGUMENT' && /must be in another store/.test(e.message),
    );
  });
});
