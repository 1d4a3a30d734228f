/**
 * The fs store's steps on its helper thread (src/stores/fs_worker.ts) and on the main thread (an
 * injected file system, or no helper) must behave the same: a staged folder that lost a file or
 * gained one is never committed, a small and a large file record the same sizes and checksums, and
 * a path that is a file or a foreign folder is refused before anything is created.
 */
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync } from 'node:fs';
import { open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, describe, it } from 'node:test';
import { crc32 } from '../../src/formats/crc32.js';
import { StagedDirectory } from '../../src/stores/fs.js';
import { nodeFs } from '../../src/stores/fs_ops.js';
import { ALL_WRITTEN, onHelper, WRITE_FAILED } from '../../src/stores/fs_worker.js';
import { tempDir } from '../helpers.js';

const WAYS = [
  { label: 'on the helper thread', fs: nodeFs },
  { label: 'on the main thread (an injected file system)', fs: { ...nodeFs } },
];

const small = new TextEncoder().encode('{"small":true}');
const large = new Uint8Array(3 * 1024 * 1024).map((_, i) => (i * 7) & 0xff);

for (const way of WAYS) {
  describe(`fs store steps ${way.label}`, () => {
    it('records the size and CRC-32 of small and large files, and commits them', async () => {
      const dir = await tempDir('tfjs-ckpt-helper-');
      const staged = await StagedDirectory.begin(join(dir, 'ck'), way.fs);
      // A large file in several chunks, one a view into a bigger buffer; a small one as a view too.
      const a = await staged.write('a.bin', [large.subarray(0, 1000), large.subarray(1000)]);
      const padded = new Uint8Array(small.byteLength + 10);
      padded.set(small, 5);
      const b = await staged.write('b.json', [padded.subarray(5, 5 + small.byteLength)]);
      assert.deepEqual(a, { name: 'a.bin', size: large.byteLength, crc32: crc32(large) });
      assert.deepEqual(b, { name: 'b.json', size: small.byteLength, crc32: crc32(small) });
      assert.equal(await staged.commit(), join(dir, 'ck'));
      assert.deepEqual((await readdir(join(dir, 'ck'))).sort(), ['a.bin', 'b.json']);
      assert.deepEqual(await readdir(dir), ['ck']);
    });

    it('overlapping writes (overlapsWrites): each file whole, recorded in call order, a failed one leaves the others', async () => {
      const dir = await tempDir('tfjs-ckpt-helper-');
      const staged = await StagedDirectory.begin(join(dir, 'ck'), way.fs);
      assert.equal(staged.overlapsWrites, true);
      const reversed = large.slice().reverse();
      // The second and third calls come while the first is still writing (its checksum runs beside them).
      const writes = [
        staged.write('a.bin', [large.subarray(0, 5), large.subarray(5)]),
        staged.write('b.bin', [reversed]),
        staged.write('a.bin', [small]), // the name is taken: this one fails
        staged.write('c.json', [small]),
      ];
      const results = await Promise.allSettled(writes);
      assert.equal(results[2]!.status, 'rejected');
      assert.deepEqual(staged.written(), [
        { name: 'a.bin', size: large.byteLength, crc32: crc32(large) },
        { name: 'b.bin', size: large.byteLength, crc32: crc32(reversed) },
        { name: 'c.json', size: small.byteLength, crc32: crc32(small) },
      ]);
      await staged.commit();
      assert.deepEqual(new Uint8Array(await readFile(join(dir, 'ck', 'b.bin'))), reversed);
    });

    it('never commits a staged folder that lost a file', async () => {
      const dir = await tempDir('tfjs-ckpt-helper-');
      const staged = await StagedDirectory.begin(join(dir, 'ck'), way.fs);
      await staged.write('a.bin', [large]);
      await staged.write('b.json', [small]);
      await rm(join(staged.stagingPath, 'b.json'));
      await assert.rejects(staged.commit(), (e: Error) => /lost b\.json while being written/.test(e.message));
      assert.ok(!existsSync(join(dir, 'ck')));
      assert.deepEqual(await readdir(dir), [], 'the staged folder is removed');
    });

    it('never commits a staged folder holding a file it did not write', async () => {
      const dir = await tempDir('tfjs-ckpt-helper-');
      const staged = await StagedDirectory.begin(join(dir, 'ck'), way.fs);
      await staged.write('b.json', [small]);
      await writeFile(join(staged.stagingPath, 'stray'), 'x');
      await assert.rejects(staged.commit(), (e: Error) => /holds files this save did not write/.test(e.message));
      assert.ok(!existsSync(join(dir, 'ck')));
    });

    it('refuses a path that is a file, or a folder that is not a checkpoint, creating nothing', async () => {
      const dir = await tempDir('tfjs-ckpt-helper-');
      await writeFile(join(dir, 'file'), 'x');
      await assert.rejects(StagedDirectory.begin(join(dir, 'file'), way.fs), (e: Error & { code?: string }) => e.code === 'PATH_CONFLICT' && /a file with that name exists/.test(e.message));
      await writeFile(join(dir, 'notes.txt'), 'x');
      await assert.rejects(StagedDirectory.begin(dir, way.fs), (e: Error & { code?: string }) => e.code === 'PATH_CONFLICT' && /not a checkpoint/.test(e.message));
      await assert.rejects(StagedDirectory.begin(join(dir, 'file', 'ck'), way.fs), (e: Error & { code?: string }) => e.code === 'PATH_CONFLICT' && /part of that path is an existing file/.test(e.message));
      assert.deepEqual((await readdir(dir)).sort(), ['file', 'notes.txt']);
    });

    it('claims the next name when another writer committed this one meanwhile', async () => {
      const dir = await tempDir('tfjs-ckpt-helper-');
      const first = await StagedDirectory.begin(join(dir, 'ck'), way.fs, { claim: (taken) => `${taken}-v1` });
      const second = await StagedDirectory.begin(join(dir, 'ck'), way.fs, { claim: (taken) => `${taken}-v1` });
      await first.write('checkpoint.json', [small]);
      await second.write('checkpoint.json', [small]);
      assert.equal(await first.commit(), join(dir, 'ck'));
      assert.equal(await second.commit(), join(dir, 'ck-v1'));
      assert.deepEqual((await readdir(dir)).sort(), ['ck', 'ck-v1']);
    });
  });
}

describe('the helper thread reading a shard as it is written', () => {
  // A helper thread left waiting for bytes would hang its test: each fails after 30 s instead.
  const WAIT = { timeout: 30_000 };
  const follow = (path: string, size: number, signal = new Int32Array(new SharedArrayBuffer(4))) => onHelper('checksumAsWritten', { path, size, signal });
  /** A file holding the first 1000 bytes of `large`, followed as if all of `large` were being written, the writes then ended `how`. */
  const followShortFile = async (how: number) => {
    const path = join(await tempDir('tfjs-ckpt-follow-'), 'a.bin');
    await writeFile(path, large.subarray(0, 1000));
    const signal = new Int32Array(new SharedArrayBuffer(4));
    const result = follow(path, large.byteLength, signal);
    Atomics.store(signal, 0, how);
    Atomics.notify(signal, 0);
    return { path, result, signal };
  };

  it('checksums bytes that arrive in pieces, and ends once all have', WAIT, async () => {
    const dir = await tempDir('tfjs-ckpt-follow-');
    const path = join(dir, 'a.bin');
    const file = await open(path, 'wx');
    const result = follow(path, large.byteLength);
    // The helper thread is already waiting when the first piece arrives, and reads each as it lands.
    for (let at = 0; at < large.byteLength; at += 1024 * 1024) await file.write(large.subarray(at, at + 1024 * 1024));
    await file.close();
    assert.deepEqual(await result, { size: large.byteLength, crc32: crc32(large) });
  });

  it('stops waiting when the write is cancelled, and the thread takes the next step', WAIT, async () => {
    const { path, result } = await followShortFile(WRITE_FAILED);
    assert.deepEqual(await result, { cancelled: true });
    assert.deepEqual(await onHelper('checksum', { path }), { size: 1000, crc32: crc32(large.subarray(0, 1000)) });
  });

  it('fails when the file holds more bytes than were written to it', WAIT, async () => {
    const dir = await tempDir('tfjs-ckpt-follow-');
    const path = join(dir, 'a.bin');
    await writeFile(path, large);
    await assert.rejects(follow(path, 1000), /holds 3145728 bytes, more than the 1000 written/);
  });

  it('fails, never waits forever, when the file holds fewer bytes than were written once the writes have ended (another process truncated it)', WAIT, async () => {
    const { result, signal } = await followShortFile(ALL_WRITTEN);
    // The answer comes at once; a helper still waiting after 10 s is freed (as by a failed write) so
    // that this test fails instead of the thread keeping the process alive.
    let deadline: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      result.then(
        () => 'resolved',
        (e: Error) => e.message,
      ),
      new Promise<string>((resolve) => (deadline = setTimeout(() => resolve('still waiting after 10 s'), 10_000))),
    ]);
    clearTimeout(deadline);
    Atomics.store(signal, 0, WRITE_FAILED);
    Atomics.notify(signal, 0);
    assert.match(outcome, /holds 1000 bytes, fewer than the 3145728 written/);
  });

  it('a write the file system refuses partway fails with the reason, frees the thread and leaves nothing (child process, `ulimit -f`)', WAIT, () => {
    const child = fileURLToPath(new URL('./file_size_limit_child.ts', import.meta.url));
    const run = spawnSync('bash', ['-c', `ulimit -f 1024 && exec "${process.execPath}" --import tsx "${child}"`], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(run.signal, null, `the child had to be killed: the helper thread kept waiting (${run.stderr.slice(-500)})`);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /big write: Could not write .*big\.bin.*(EFBIG|too large)/i);
    assert.match(run.stdout, /small write after it: 11 bytes/);
    assert.match(run.stdout, /left behind: 0/);
  });
});

describe('fs store helper threads', () => {
  // One child process: it saves, finds the latest, opens a manifest, then should end on its own.
  let run: SpawnSyncReturns<string>;
  before(() => {
    const child = fileURLToPath(new URL('./helper_exit_child.ts', import.meta.url));
    run = spawnSync(process.execPath, ['--import', 'tsx', child], { encoding: 'utf8', timeout: 60_000 });
  });

  it('never keep a process alive: one that saved and then started the load helper with nothing to do ends on its own', () => {
    assert.equal(run.signal, null, `the process had to be killed: it did not end (${run.stderr.slice(-500)})`);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /done/);
  });

  it('are started only by callers that use them: finding the latest checkpoint starts none for loads', () => {
    assert.match(run.stdout, /latest found: true; load helper started by it: false/);
    assert.match(run.stdout, /manifest found: true; load helper started by opening it: true/);
  });
});
