/**
 * The conformance suite: what every store must guarantee (see src/stores/store.ts), checked the same
 * way on each. `runConformance(fixture)` is called once per store (fs.test.ts, memory.test.ts, and
 * every store later issues add). Two halves: the interface itself (stage, commit, read, list, delete,
 * small objects, recover), and the public API on top of it (spellings, faults at every step, two
 * writers, readers during a replacement, hostile files).
 *
 * It also runs in headless Chromium (test/browser/conformance.test.ts), bundled by esbuild with the
 * `node:` modules below swapped for small shims (test/browser/shims/): so it imports the universal
 * entry, not Node's, and uses no Node global (Buffer, setImmediate, process). The Node fixtures import
 * index.js themselves, so in Node the fs store and the Node codecs are registered as before.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { writeFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import {
  CheckpointError,
  CheckpointManager,
  latestCheckpoint,
  loadModel,
  loadWeights,
  modelCheckpoint,
  resolveLocation,
  saveModel,
  saveWeights,
  verify,
  type CheckpointStore,
  type StoreKey,
} from '../../src/universal.js';
import { maxAbsDiff, seededRandom, smallClassifier, toyData } from '../model_helpers.js';
import type { StoreFixture } from './fixture_types.js';

const enc = (text: string) => new TextEncoder().encode(text);
const dec = (bytes: Uint8Array | undefined) => (bytes === undefined ? undefined : new TextDecoder().decode(bytes));

/** The chunks one after another in one array (Buffer.concat, without Buffer). */
function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** Lets other tasks run (setImmediate where there is one, as in Node; a zero timeout in a browser). */
const yieldToOthers = (): Promise<void> =>
  new Promise((resolve) => (typeof globalThis.setImmediate === 'function' ? globalThis.setImmediate(resolve) : setTimeout(resolve, 0)));

function keyOf(url: string): StoreKey {
  return resolveLocation(url).key;
}

/** Stages and commits a checkpoint with the given files (checkpoint.json last when present). */
async function commitFiles(store: CheckpointStore, key: StoreKey, files: Record<string, string | Uint8Array>, claim?: (taken: StoreKey) => StoreKey): Promise<StoreKey> {
  const stage = await store.stage(key, claim ? { claim } : {});
  for (const [name, data] of Object.entries(files)) await stage.write(name, [typeof data === 'string' ? enc(data) : data]);
  return stage.commit();
}

/** Every file of what `open(key)` shows, read whole, as text, if the reader confirms its generation. */
async function readAll(store: CheckpointStore, key: StoreKey, names: readonly string[]): Promise<Record<string, string | undefined> | 'replaced' | undefined> {
  const bytes = await readAllBytes(store, key, names);
  if (bytes === undefined || bytes === 'replaced') return bytes;
  return Object.fromEntries(Object.entries(bytes).map(([name, b]) => [name, dec(b)]));
}

async function readAllBytes(store: CheckpointStore, key: StoreKey, names: readonly string[]): Promise<Record<string, Uint8Array | undefined> | 'replaced' | undefined> {
  const reader = await store.open(key);
  if (!reader) return undefined;
  try {
    const out: Record<string, Uint8Array | undefined> = {};
    for (const name of names) {
      const file = await reader.open(name);
      if (!file) {
        out[name] = undefined;
        continue;
      }
      const bytes = new Uint8Array(file.size);
      await file.read(bytes, 0, file.size, 0);
      out[name] = bytes;
    }
    return await reader.confirm().then(
      () => out,
      () => 'replaced' as const,
    );
  } finally {
    await reader.close();
  }
}

async function listed(store: CheckpointStore, dir: StoreKey): Promise<StoreKey[]> {
  return (await store.list(dir, { depth: 1 })).map((c) => c.key).sort();
}

const META = (n: number) => JSON.stringify({ n });

/** Whether the store's staged checkpoints offer `reuse` (a probe staged under `dir`, then aborted). */
async function offersReuse(store: CheckpointStore, dir: StoreKey): Promise<boolean> {
  const probe = await store.stage(`${dir}/probe`);
  const offered = typeof probe.reuse === 'function';
  await probe.abort();
  return offered;
}

function isCode(code: string, pattern?: RegExp) {
  return (e: unknown) => e instanceof CheckpointError && e.code === code && (!pattern || pattern.test(e.message));
}

export function runConformance(fixture: StoreFixture): void {
  describe(`store conformance: ${fixture.name}`, () => {
    describe('the interface', () => {
      it('nothing staged is visible until commit; then all of it is, with the sizes and CRC-32s the writes reported', async () => {
        const t = await fixture.create();
        const dir = keyOf(t.base);
        const key = `${dir}/a`;
        const stage = await t.store.stage(key);
        // Over 1 MiB: stores that checksum large files elsewhere (the fs store's worker thread, a page's CRC worker) take that path.
        const chunks = [enc('hello '), enc('world'), new Uint8Array(2_500_000).map((_, i) => (i * 31) & 0xff)];
        const written = await stage.write('data.bin', chunks);
        const whole = concat(chunks);
        assert.deepEqual(written, { name: 'data.bin', size: whole.byteLength, crc32: crc32(whole) });
        await stage.write('checkpoint.json', [enc(META(1))]);
        assert.deepEqual(stage.written().map((f) => f.name), ['data.bin', 'checkpoint.json']);
        assert.equal(await t.store.open(key), undefined);
        assert.equal(await t.store.exists(key), false);
        assert.deepEqual(await listed(t.store, dir), []);
        assert.equal(await stage.commit(), key);
        assert.deepEqual(await listed(t.store, dir), [key]);
        const reader = (await t.store.open(key))!;
        const file = (await reader.open('data.bin'))!;
        assert.equal(file.size, whole.byteLength);
        const back = new Uint8Array(10);
        await file.read(back, 2, 5, 6);
        assert.equal(dec(back.subarray(2, 7)), 'world');
        await assert.rejects(file.read(new Uint8Array(10), 0, 10, whole.byteLength - 5));
        assert.equal(await reader.open('missing.bin'), undefined);
        await reader.confirm();
        await reader.close();
      });

      it('abort leaves nothing behind that anyone sees; a later stage of the same key works', async () => {
        const t = await fixture.create();
        const key = `${keyOf(t.base)}/a`;
        const stage = await t.store.stage(key);
        await stage.write('data.bin', [enc('x')]);
        await stage.abort();
        assert.equal(await t.store.open(key), undefined);
        assert.deepEqual(await listed(t.store, keyOf(t.base)), []);
        await commitFiles(t.store, key, { 'checkpoint.json': META(2) });
        assert.deepEqual(await readAll(t.store, key, ['checkpoint.json']), { 'checkpoint.json': META(2) });
      });

      it('only committed checkpoints (checkpoint.json present) are listed; a folder without one still opens', async () => {
        const t = await fixture.create();
        const dir = keyOf(t.base);
        await commitFiles(t.store, `${dir}/ours`, { 'weights.bin': 'w', 'checkpoint.json': META(1) });
        await commitFiles(t.store, `${dir}/stock`, { 'weights.bin': 'w', 'model.json': '{}' });
        const pending = await t.store.stage(`${dir}/pending`);
        await pending.write('checkpoint.json', [enc(META(3))]);
        assert.deepEqual(await listed(t.store, dir), [`${dir}/ours`]);
        assert.deepEqual(await readAll(t.store, `${dir}/stock`, ['model.json']), { 'model.json': '{}' });
        await pending.abort();
      });

      it('listing goes exactly `depth` levels down and lets the store skip names early', async () => {
        const t = await fixture.create();
        const dir = keyOf(t.base);
        await commitFiles(t.store, `${dir}/r1/e1`, { 'checkpoint.json': META(1) });
        await commitFiles(t.store, `${dir}/r2/e1`, { 'checkpoint.json': META(2) });
        await commitFiles(t.store, `${dir}/top`, { 'checkpoint.json': META(3) });
        const two = (await t.store.list(dir, { depth: 2 })).map((c) => c.key).sort();
        assert.deepEqual(two, [`${dir}/r1/e1`, `${dir}/r2/e1`]);
        const onlyR2 = (await t.store.list(dir, { depth: 2, accept: (level, name) => level > 0 || name === 'r2' })).map((c) => c.key);
        assert.deepEqual(onlyR2, [`${dir}/r2/e1`]);
        assert.deepEqual(await listed(t.store, dir), [`${dir}/top`]);
      });

      it('a commit onto a committed key replaces it whole; with `claim` it goes to the claimed key instead', async () => {
        const t = await fixture.create();
        const key = `${keyOf(t.base)}/best`;
        await commitFiles(t.store, key, { 'a.bin': 'old-a', 'old-only.bin': 'x', 'checkpoint.json': META(1) });
        await commitFiles(t.store, key, { 'a.bin': 'new-a', 'checkpoint.json': META(2) });
        assert.deepEqual(await readAll(t.store, key, ['a.bin', 'old-only.bin', 'checkpoint.json']), { 'a.bin': 'new-a', 'old-only.bin': undefined, 'checkpoint.json': META(2) });
        const claimed = await commitFiles(t.store, key, { 'a.bin': 'third', 'checkpoint.json': META(3) }, (taken) => `${taken}-v1`);
        assert.equal(claimed, `${key}-v1`);
        assert.deepEqual(await readAll(t.store, key, ['a.bin']), { 'a.bin': 'new-a' });
        assert.deepEqual(await readAll(t.store, claimed, ['a.bin']), { 'a.bin': 'third' });
      });

      it('a reader sees one generation: what it reads is all old or all new, or confirm() says it changed', async () => {
        const t = await fixture.create();
        const key = `${keyOf(t.base)}/best`;
        const gen = (n: number) => ({ 'a.bin': `a${n}`.repeat(1000), 'b.bin': `b${n}`.repeat(1000), 'checkpoint.json': META(n) });
        await commitFiles(t.store, key, gen(0));
        const reader = (await t.store.open(key))!;
        const a = (await reader.open('a.bin'))!;
        await commitFiles(t.store, key, gen(1));
        const b = await reader.open('b.bin');
        const confirmed = await reader.confirm().then(() => true, () => false);
        if (confirmed) {
          const bytesA = new Uint8Array(a.size);
          await a.read(bytesA, 0, a.size, 0);
          const bytesB = new Uint8Array(b!.size);
          await b!.read(bytesB, 0, b!.size, 0);
          assert.equal(dec(bytesA), gen(0)['a.bin']);
          assert.equal(dec(bytesB), gen(0)['b.bin']);
        }
        await reader.close();
        assert.deepEqual(await readAll(t.store, key, ['a.bin', 'b.bin']), { 'a.bin': gen(1)['a.bin'], 'b.bin': gen(1)['b.bin'] });
      });

      it('deletion is never half-visible: gone from listing and open at once; deleting what is absent is fine', async () => {
        const t = await fixture.create();
        const dir = keyOf(t.base);
        await commitFiles(t.store, `${dir}/a`, { 'x.bin': 'x', 'checkpoint.json': META(1) });
        await commitFiles(t.store, `${dir}/b`, { 'checkpoint.json': META(2) });
        await t.store.remove(`${dir}/a`);
        assert.deepEqual(await listed(t.store, dir), [`${dir}/b`]);
        assert.equal(await t.store.open(`${dir}/a`), undefined);
        assert.equal(await t.store.exists(`${dir}/a`), false);
        await t.store.remove(`${dir}/a`);
        await t.store.remove(`${dir}/never`);
      });

      it('namesIn, where a store has it, names exactly what exists() calls taken in a directory', async (ctx) => {
        const t = await fixture.create();
        if (!t.store.namesIn) return void ctx.skip('this store checks names one by one (exists)');
        const dir = keyOf(t.base);
        await commitFiles(t.store, `${dir}/a`, { 'x.bin': 'x', 'checkpoint.json': META(1) });
        await commitFiles(t.store, `${dir}/sub/c`, { 'checkpoint.json': META(2) });
        await t.store.writeSmall(`${dir}/latest`, enc('a'));
        const single = await t.store.stageFile(`${dir}/w.safetensors`);
        await single.write([enc('bytes')]);
        await single.commit();
        const open = await t.store.stage(`${dir}/staged`);
        await open.write('checkpoint.json', [enc(META(3))]);
        await commitFiles(t.store, `${dir}/gone`, { 'checkpoint.json': META(4) });
        await t.store.remove(`${dir}/gone`);
        const names = await t.store.namesIn(dir);
        assert.ok(names, 'a store with namesIn of its own lists the directory');
        for (const name of ['a', 'sub', 'latest', 'w.safetensors']) assert.ok(names.has(name), `${name} is listed (${[...names].join(', ')})`);
        for (const name of ['staged', 'gone', 'never', 'x.bin', 'c']) assert.ok(!names.has(name), `${name} is not listed`);
        // Whatever else it lists (a store's own hidden folders) exists too: the two never disagree.
        for (const name of [...names, 'staged', 'gone', 'never']) assert.equal(await t.store.exists(`${dir}/${name}`), names.has(name), name);
        await open.abort();
      });

      it('small objects (pointers) are read, replaced whole and removed', async () => {
        const t = await fixture.create();
        const key = `${keyOf(t.base)}/latest`;
        assert.equal(await t.store.readSmall(key, 100), undefined);
        await t.store.writeSmall(key, enc('one'));
        await t.store.writeSmall(key, enc('second value'));
        assert.equal(dec(await t.store.readSmall(key, 100)), 'second value');
        assert.equal(await t.store.exists(key), true);
        await assert.rejects(t.store.readSmall(key, 3));
        assert.deepEqual(await listed(t.store, keyOf(t.base)), []);
        await t.store.removeSmall(key);
        assert.equal(await t.store.readSmall(key, 100), undefined);
        await t.store.removeSmall(key);
      });

      it('refuses to put a checkpoint where an object is, or over a folder that is not a checkpoint', async () => {
        const t = await fixture.create();
        const dir = keyOf(t.base);
        await t.store.writeSmall(`${dir}/obj`, enc('x'));
        await assert.rejects(t.store.stage(`${dir}/obj`), isCode('PATH_CONFLICT'));
        await assert.rejects(t.store.stage(`${dir}/obj/inside`), isCode('PATH_CONFLICT'));
        await commitFiles(t.store, `${dir}/folder/child`, { 'checkpoint.json': META(1) });
        await assert.rejects(t.store.stage(`${dir}/folder`), isCode('PATH_CONFLICT', /non-directory filepath/));
      });

      it('recover never touches the work of a writer that is alive', async () => {
        const t = await fixture.create();
        const dir = keyOf(t.base);
        const stage = await t.store.stage(`${dir}/a`);
        await stage.write('x.bin', [enc('x')]);
        assert.deepEqual(await t.store.recover(dir, () => true), []);
        await stage.write('checkpoint.json', [enc(META(1))]);
        await stage.commit();
        assert.deepEqual(await listed(t.store, dir), [`${dir}/a`]);
      });

      it('reuse (where offered): a file of a committed checkpoint joins a new one unwritten; each stays whole when the other goes', async (t) => {
        const f = await fixture.create();
        const dir = keyOf(f.base);
        if (!(await offersReuse(f.store, dir))) return t.skip('this store writes every file (no reuse)');
        const shared = new Uint8Array(50_000).map((_, i) => i % 251);
        const first = await commitFiles(f.store, `${dir}/a`, { 'shard.bin': shared, 'checkpoint.json': META(1) });
        const stage = await f.store.stage(`${dir}/b`);
        assert.equal(await stage.reuse!('gone.bin', first, { size: 3, crc32: 0 }), undefined, 'a file the source lacks: undefined, nothing recorded');
        assert.equal(await stage.reuse!('shard.bin', `${dir}/never`, { size: shared.byteLength, crc32: crc32(shared) }), undefined, 'a source that does not exist');
        const reused = await stage.reuse!('shard.bin', first, { size: shared.byteLength, crc32: crc32(shared) });
        assert.deepEqual(reused, { name: 'shard.bin', size: shared.byteLength, crc32: crc32(shared) });
        await stage.write('checkpoint.json', [enc(META(2))]);
        assert.deepEqual(stage.written().map((w) => w.name), ['shard.bin', 'checkpoint.json']);
        const second = await stage.commit();
        await f.store.remove(first);
        const back = await readAllBytes(f.store, second, ['shard.bin', 'checkpoint.json']);
        assert.ok(back && back !== 'replaced');
        assert.deepEqual(back['shard.bin'], shared);
        assert.equal(dec(back['checkpoint.json']), META(2));
      });
      it('reuse (where offered): a shared file outlives a source removed before the commit, a replacement at the same key keeps it, an abort frees it', async (t) => {
        const f = await fixture.create();
        const dir = keyOf(f.base);
        if (!(await offersReuse(f.store, dir))) return t.skip('this store writes every file (no reuse)');
        const before = await f.dataRecords?.();
        const shared = new Uint8Array(70_000).map((_, i) => (i * 13) % 251);
        const expected = { size: shared.byteLength, crc32: crc32(shared) };
        const first = await commitFiles(f.store, `${dir}/a`, { 'shard.bin': shared, 'checkpoint.json': META(1) });
        const stage = await f.store.stage(`${dir}/b`);
        assert.ok(await stage.reuse!('shard.bin', first, expected));
        await f.store.remove(first); // the source goes while the new checkpoint is staged
        await stage.write('checkpoint.json', [enc(META(2))]);
        const second = await stage.commit();
        let back = await readAllBytes(f.store, second, ['shard.bin', 'checkpoint.json']);
        assert.ok(back && back !== 'replaced');
        assert.deepEqual(back['shard.bin'], shared, 'shared before its source was removed');
        // A fixed filepath: the next save replaces the checkpoint it shares from.
        const again = await f.store.stage(second);
        assert.ok(await again.reuse!('shard.bin', second, expected));
        await again.write('checkpoint.json', [enc(META(3))]);
        assert.equal(await again.commit(), second);
        back = await readAllBytes(f.store, second, ['shard.bin', 'checkpoint.json']);
        assert.ok(back && back !== 'replaced');
        assert.deepEqual(back['shard.bin'], shared, 'kept by the checkpoint that replaced its owner');
        assert.equal(dec(back['checkpoint.json']), META(3));
        // The last checkpoint naming the file removed while a staged one shares it, which is then given up: nothing of it is left.
        const dropped = await f.store.stage(`${dir}/c`);
        assert.ok(await dropped.reuse!('shard.bin', second, expected));
        await f.store.remove(second);
        await dropped.abort();
        assert.deepEqual(await listed(f.store, dir), []);
        if (before !== undefined) assert.equal(await f.dataRecords!(), before, 'every data record of the removed checkpoints is gone');
      });
    });

    describe('single-file checkpoints', () => {
      const isFile = (name: string) => name.endsWith('.safetensors');
      async function commitSingle(store: CheckpointStore, key: StoreKey, text: string, claim?: (taken: StoreKey) => StoreKey): Promise<StoreKey> {
        const staged = await store.stageFile(key, claim ? { claim } : {});
        await staged.write([enc(text)]);
        return staged.commit();
      }
      async function readSingle(store: CheckpointStore, key: StoreKey): Promise<string | undefined> {
        const file = await store.openFile(key);
        if (!file) return undefined;
        try {
          const bytes = new Uint8Array(file.size);
          await file.read(bytes, 0, file.size, 0);
          return dec(bytes);
        } finally {
          await file.close();
        }
      }
      const listFiles = async (store: CheckpointStore, dir: StoreKey) =>
        (await store.list(dir, { depth: 1, files: isFile })).map((c) => `${c.file ? 'file' : 'dir'}:${c.key}`).sort();

      it('nothing is visible until commit; then the whole file is, listed as a file when `files` accepts its name', async () => {
        const t = await fixture.create();
        const dir = keyOf(t.base);
        const key = `${dir}/w-01.safetensors`;
        const staged = await t.store.stageFile(key);
        // Over 1 MiB: stores that checksum large files elsewhere (the fs store's worker thread, a page's CRC worker) take that path.
        const chunks = [enc('hello '), enc('world'), new Uint8Array(2_500_000).map((_, i) => (i * 31) & 0xff)];
        const whole = concat(chunks);
        assert.deepEqual(await staged.write(chunks), { name: 'w-01.safetensors', size: whole.byteLength, crc32: crc32(whole) });
        assert.equal(await t.store.openFile(key), undefined);
        assert.equal(await t.store.exists(key), false);
        assert.deepEqual(await listFiles(t.store, dir), []);
        assert.equal(await staged.commit(), key);
        await commitFiles(t.store, `${dir}/folder`, { 'checkpoint.json': META(1) });
        assert.deepEqual(await listFiles(t.store, dir), [`dir:${dir}/folder`, `file:${key}`]);
        assert.deepEqual(await listed(t.store, dir), [`${dir}/folder`], 'without `files`, only folders are listed');
        assert.deepEqual((await t.store.list(dir, { depth: 1, files: () => false })).map((c) => c.key), [`${dir}/folder`]);
        const file = (await t.store.openFile(key))!;
        assert.equal(file.size, whole.byteLength);
        const back = new Uint8Array(10);
        await file.read(back, 2, 5, 6);
        assert.equal(dec(back.subarray(2, 7)), 'world');
        await assert.rejects(file.read(new Uint8Array(10), 0, 10, whole.byteLength - 5));
        await file.close();
        await assert.rejects(t.store.openFile(`${dir}/folder`), isCode('PATH_CONFLICT'));
        await assert.rejects(t.store.open(key));
      });

      it('abort leaves nothing anyone sees; replacing is whole; `claim` takes the next free name', async () => {
        const t = await fixture.create();
        const dir = keyOf(t.base);
        const key = `${dir}/best.safetensors`;
        const aborted = await t.store.stageFile(key);
        await aborted.write([enc('never')]);
        await aborted.abort();
        assert.equal(await t.store.openFile(key), undefined);
        assert.deepEqual(await listFiles(t.store, dir), []);
        await commitSingle(t.store, key, 'one');
        await commitSingle(t.store, key, 'two');
        assert.equal(await readSingle(t.store, key), 'two');
        const claimed = await commitSingle(t.store, key, 'three', (taken) => taken.replace(/(-v(\d+))?\.safetensors$/, (_m, _v, n) => `-v${Number(n ?? 0) + 1}.safetensors`));
        assert.equal(claimed, `${dir}/best-v1.safetensors`);
        assert.equal(await readSingle(t.store, key), 'two');
        assert.equal(await readSingle(t.store, claimed), 'three');
      });

      it('an opened file keeps reading the generation it opened, or fails; never a mix', async () => {
        const t = await fixture.create();
        const key = `${keyOf(t.base)}/w.safetensors`;
        await commitSingle(t.store, key, 'a'.repeat(5000));
        const file = (await t.store.openFile(key))!;
        await commitSingle(t.store, key, 'b'.repeat(5000));
        const bytes = new Uint8Array(file.size);
        const read = await file.read(bytes, 0, file.size, 0).then(() => true, (e: unknown) => {
          assert.ok(e instanceof CheckpointError, String(e));
          return false;
        });
        if (read) assert.ok(dec(bytes) === 'a'.repeat(5000), 'a read that succeeds returns the generation opened');
        await file.close();
        assert.ok((await readSingle(t.store, key)) === 'b'.repeat(5000));
      });

      it('deletion removes the file at once; conflicts with folders and objects are refused', async () => {
        const t = await fixture.create();
        const dir = keyOf(t.base);
        await commitSingle(t.store, `${dir}/a.safetensors`, 'x');
        await t.store.remove(`${dir}/a.safetensors`);
        assert.equal(await t.store.openFile(`${dir}/a.safetensors`), undefined);
        assert.equal(await t.store.exists(`${dir}/a.safetensors`), false);
        assert.deepEqual(await listFiles(t.store, dir), []);
        await commitFiles(t.store, `${dir}/f.safetensors`, { 'checkpoint.json': META(1) });
        await assert.rejects(t.store.stageFile(`${dir}/f.safetensors`), isCode('PATH_CONFLICT'));
        await commitSingle(t.store, `${dir}/file.safetensors`, 'x');
        await assert.rejects(t.store.stageFile(`${dir}/file.safetensors/inside.safetensors`), isCode('PATH_CONFLICT'));
      });

      it('where a store offers writeLocal, a file written at its path commits like a streamed one (size and CRC-32 read back)', async (t) => {
        const tmp = await fixture.create();
        const probe = await tmp.store.stageFile(`${keyOf(tmp.base)}/probe.safetensors`);
        const local = probe.writeLocal?.bind(probe);
        if (!local) {
          await probe.abort();
          t.skip('this store has no local file system');
          return;
        }
        const bytes = new Uint8Array(100_000).map((_, i) => i % 251);
        assert.deepEqual(await local((path) => writeFile(path, bytes)), { name: 'probe.safetensors', size: bytes.byteLength, crc32: crc32(bytes) });
        assert.equal(await tmp.store.openFile(`${keyOf(tmp.base)}/probe.safetensors`), undefined);
        await probe.commit();
        const back = (await tmp.store.openFile(`${keyOf(tmp.base)}/probe.safetensors`))!;
        const read = new Uint8Array(back.size);
        await back.read(read, 0, back.size, 0);
        await back.close();
        assert.deepEqual(read, bytes);
      });

      it('recover leaves a live writer\'s file alone', async () => {
        const t = await fixture.create();
        const dir = keyOf(t.base);
        const staged = await t.store.stageFile(`${dir}/a.safetensors`);
        await staged.write([enc('x')]);
        assert.deepEqual(await t.store.recover(dir, () => true), []);
        await staged.commit();
        assert.equal(await readSingle(t.store, `${dir}/a.safetensors`), 'x');
      });
    });

    describe('the public API on this store', () => {
      it('every spelling of one place behaves the same: save, list, latest, verify, load, retention, pointers', async () => {
        const t = await fixture.create();
        const model = smallClassifier(3);
        const spellings = [t.base, ...t.spellings];
        const writer = new CheckpointManager({ directory: t.base, name: 'w{epoch:02d}', keepLast: 2, asyncSave: false });
        for (let epoch = 1; epoch <= 3; epoch++) await writer.save(epoch, model, { epoch });
        for (const spelling of spellings) {
          const manager = new CheckpointManager({ directory: spelling, name: 'w{epoch:02d}', keepLast: 2, asyncSave: false });
          assert.deepEqual((await manager.list()).map((r) => r.metadata.epoch), [2, 3], spelling);
          assert.equal((await manager.latest())!.key, `${keyOf(t.base)}/w03`, spelling);
          assert.equal(await latestCheckpoint(`${spelling}/w{epoch:02d}`), resolveLocation(`${t.base}/w03`).url, spelling);
          assert.equal((await verify(`${spelling}/w02`)).checksums, 'verified', spelling);
          const fresh = smallClassifier(9);
          await loadWeights(fresh, `${spelling}/w03`);
          assert.equal(maxAbsDiff(fresh.getWeights(), model.getWeights()), 0, spelling);
          assert.equal(await manager.resolve('latest'), resolveLocation(`${t.base}/w03`).url, spelling);
        }
        // A save under another spelling joins the same run: retention sees all of them.
        const other = new CheckpointManager({ directory: t.spellings[0]!, name: 'w{epoch:02d}', keepLast: 2, asyncSave: false });
        await other.save(4, model, { epoch: 4 });
        assert.deepEqual((await writer.list()).map((r) => r.metadata.epoch), [3, 4]);
      });

      it('fine-tuning a frozen base (where the store reuses files): the base is shared, not written again; each checkpoint loads and verifies on its own', async (t) => {
        const f = await fixture.create();
        if (!(await offersReuse(f.store, keyOf(f.base)))) return t.skip('this store writes every file (no reuse)');
        const model = smallClassifier(6);
        model.layers[0]!.trainable = false;
        model.compile({ optimizer: tf.train.adam(0.05), loss: 'categoricalCrossentropy' });
        const { x, y } = toyData(16);
        const before = await f.dataRecords?.();
        await model.fit(x, y, { epochs: 2, batchSize: 8, shuffle: false, verbose: 0, callbacks: [modelCheckpoint({ filepath: `${f.base}/ck-{epoch:02d}` })] });
        const [first, second] = [`${f.base}/ck-01`, `${f.base}/ck-02`];
        if (before !== undefined) {
          // Every file here is one record: the second checkpoint adds one fewer than the first (the base's shard).
          const meta = await readAllBytes(f.store, keyOf(first), ['checkpoint.json']);
          assert.ok(meta && meta !== 'replaced');
          const files = (JSON.parse(dec(meta['checkpoint.json'])!) as { files: unknown[] }).files.length + 1;
          assert.equal((await f.dataRecords!()) - before, 2 * files - 1, 'the second checkpoint shares the base shard');
        }
        const expected = Array.from((model.predict(x) as tf.Tensor).dataSync());
        for (const at of [first, second]) assert.equal((await verify(at)).checksums, 'verified', at);
        await f.store.remove(keyOf(first));
        assert.equal((await verify(second)).checksums, 'verified');
        assert.deepEqual(Array.from(((await loadModel(second)).predict(x) as tf.Tensor).dataSync()), expected);
        x.dispose();
        y.dispose();
      });

      it('model.save / tf.loadLayersModel / saveModel / loadModel work with the store URL', async () => {
        const t = await fixture.create();
        const model = smallClassifier(4);
        await model.save(`${t.base}/stock`);
        const back = await tf.loadLayersModel(`${t.base}/stock/model.json`);
        assert.equal(maxAbsDiff(back.getWeights(), model.getWeights()), 0);
        model.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy' });
        await saveModel(model, `${t.base}/full`);
        const loaded = await loadModel(`${t.base}/full`);
        assert.equal(maxAbsDiff(loaded.getWeights(), model.getWeights()), 0);
        await saveWeights(model, `${t.base}/weights`);
        assert.equal((await verify(`${t.base}/weights`)).kind, 'weights');
      });

      it('a fault at any step of save, commit, pointer update and retention leaves only complete checkpoints, and earlier ones intact', async () => {
        const model = smallClassifier(5);
        let step = 0;
        for (;;) {
          const t = await fixture.create();
          const options = { directory: t.base, name: 'w{epoch:02d}', keepLast: 2, monitor: 'loss', asyncSave: false } as const;
          const manager = new CheckpointManager(options);
          await manager.save(1, model, { epoch: 1, metrics: { loss: 0.5 } });
          await manager.save(2, model, { epoch: 2, metrics: { loss: 0.4 } });
          const fixed = new CheckpointManager({ filepath: `${t.base}/fixed`, asyncSave: false });
          await fixed.save(1, model, { epoch: 1 });
          t.arm(step);
          let failed = false;
          try {
            await manager.save(3, model, { epoch: 3, metrics: { loss: 0.3 } });
            await fixed.save(2, model, { epoch: 2 });
          } catch (e) {
            failed = true;
            assert.ok(e instanceof CheckpointError, `step ${step}: ${(e as Error).message}`);
          }
          const fired = t.fired();
          t.disarm();
          const reader = new CheckpointManager(options);
          const epochs = (await reader.list()).map((r) => r.metadata.epoch);
          // The newest checkpoint before the fault is always there; nothing is listed that is not complete.
          assert.ok(epochs.includes(2), `step ${step}: epoch 2 lost (${epochs})`);
          assert.ok(epochs.every((e) => e === 1 || e === 2 || e === 3), `step ${step}: ${epochs}`);
          if (!failed) assert.ok(epochs.includes(3), `step ${step}: a save that resolved is missing`);
          for (const v of await reader.verify()) assert.equal(v.checksums, 'verified', `step ${step}`);
          assert.equal((await new CheckpointManager({ filepath: `${t.base}/fixed` }).verify('latest'))[0]!.checksums, 'verified', `step ${step}`);
          const latest = await reader.resolve('latest');
          assert.ok(epochs.length > 0 && latest.endsWith(`w0${Math.max(...(epochs as number[]))}`), `step ${step}: latest is ${latest}`);
          // And the next save after the fault works, and cleans what the failed one left.
          await reader.save(4, model, { epoch: 4, metrics: { loss: 0.2 } });
          assert.ok((await reader.list()).some((r) => r.metadata.epoch === 4));
          if (!fired) break;
          step += 1;
        }
        assert.ok(step > 10, `only ${step} steps were faulted`);
      });

      it('two writers on one template in one process: no checkpoint is lost, clashing names get -vN', async () => {
        const t = await fixture.create();
        const model = smallClassifier(6);
        const a = new CheckpointManager({ filepath: `${t.base}/w{epoch:02d}`, asyncSave: true, logger: { warn: () => undefined } });
        const b = new CheckpointManager({ filepath: `${t.spellings[0]}/w{epoch:02d}`, asyncSave: true, logger: { warn: () => undefined } });
        for (let epoch = 1; epoch <= 3; epoch++) {
          await Promise.all([a.save(epoch, model, { epoch }), b.save(epoch, model, { epoch })]);
        }
        await Promise.all([a.wait(), b.wait()]);
        const names = (await a.list()).map((r) => r.key.slice(r.key.lastIndexOf('/') + 1)).sort();
        assert.deepEqual(names, ['w01', 'w01-v1', 'w02', 'w02-v1', 'w03', 'w03-v1']);
      });

      it('readers during a replacement always load one whole checkpoint', async () => {
        const t = await fixture.create();
        const models = [smallClassifier(11), smallClassifier(12)];
        const path = `${t.base}/best`;
        const writer = new CheckpointManager({ filepath: path, asyncSave: false });
        await writer.save(0, models[0]!, {});
        let writing = true;
        const replacing = (async () => {
          for (let i = 1; i <= 20; i++) await writer.save(i, models[i % 2]!, {});
          writing = false;
        })();
        const random = seededRandom(5);
        let loads = 0;
        while (writing || loads < 5) {
          const fresh = smallClassifier(99);
          await loadWeights(fresh, path);
          const diffs = models.map((m) => maxAbsDiff(fresh.getWeights(), m.getWeights()));
          assert.ok(diffs.includes(0), `a load mixed generations: ${diffs}`);
          loads += 1;
          if (random() < 0.5) await yieldToOthers();
        }
        await replacing;
      });

      it('hostile contents are clear errors, and damaged checkpoints are never listed as ours', async () => {
        const t = await fixture.create();
        const dir = keyOf(t.base);
        const model = smallClassifier(7);
        await saveWeights(model, `${t.base}/good`);
        const good = await readAllBytes(t.store, `${dir}/good`, ['weights.json', 'weights.bin', 'checkpoint.json']);
        assert.ok(good && good !== 'replaced');
        const copy = (changes: Record<string, string | Uint8Array | undefined>) =>
          Object.fromEntries(Object.entries({ ...good, ...changes }).filter(([, v]) => v !== undefined)) as Record<string, string | Uint8Array>;
        const weights = good['weights.bin']!;
        const flipped = weights.slice();
        flipped[0] ^= 0xff;
        // Written through the store, so each store is checked for what it hands back, not for how it stores it.
        await commitFiles(t.store, `${dir}/bad-json`, copy({ 'checkpoint.json': '{"format":' }));
        await commitFiles(t.store, `${dir}/truncated`, copy({ 'weights.bin': weights.slice(0, 10) }));
        await commitFiles(t.store, `${dir}/flipped`, copy({ 'weights.bin': flipped }));
        await commitFiles(t.store, `${dir}/no-manifest`, copy({ 'weights.json': undefined }));
        await assert.rejects(verify(`${t.base}/bad-json`), isCode('CORRUPT_CHECKPOINT'));
        await assert.rejects(verify(`${t.base}/truncated`), isCode('CORRUPT_CHECKPOINT'));
        await assert.rejects(verify(`${t.base}/flipped`), isCode('CORRUPT_CHECKPOINT', /checksum/));
        await assert.rejects(verify(`${t.base}/no-manifest`), isCode('CORRUPT_CHECKPOINT'));
        await assert.rejects(loadWeights(smallClassifier(8), `${t.base}/flipped`), isCode('CORRUPT_CHECKPOINT'));
        await assert.rejects(verify(`${t.base}/absent`), isCode('NOT_FOUND'));
        const all = new CheckpointManager({ filepath: `${t.base}/{name}` });
        const names = (await all.list()).map((r) => r.key.slice(dir.length + 1)).sort();
        assert.ok(!names.includes('bad-json'), `${names}`);
      });
    });
  });
}
