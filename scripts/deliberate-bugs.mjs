// `npm run check:deliberate-bugs`: plants each bug the durability promises rule out (no file fsync, no
// parent fsync, no fsync at all, no CRC check in verify, files written in place, single files that
// replace instead of claiming or load unchecked, stores that break the conformance suite's promises, and
// browser stores that commit out of order, confirm nothing, or recover another tab's live save) in a scratch git
// worktree of HEAD, runs the tests that guard against it, and fails unless every bug turns them red.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);

/** Each bug: textual replacements in src/, every one of which must apply, and the tests that must catch it. */
const DURABILITY = ['test/durability.test.ts'];
const HELPER_DURABILITY = ['test/stores/helper_fsync.test.ts'];
const BUGS = [
  { name: 'no per-file fsync', guards: DURABILITY, edits: [['src/stores/fs.ts', 'const flushed = handle.sync().finally(', 'const flushed = Promise.resolve().finally(']] },
  { name: 'no parent fsync after the commit rename', guards: DURABILITY, edits: [['src/stores/fs.ts', '      await fsyncPath(dirname(this.finalPath), this.fs);\n', '']] },
  // The same promises on the real file system, where the helper thread takes these steps (fs_worker.ts).
  { name: "fs helper thread: a followed shard is not fsync'd", guards: HELPER_DURABILITY, edits: [['src/stores/fs_worker.ts', '      fs.fsyncSync(fd);\n      return { size, crc32: crc };', '      return { size, crc32: crc };']] },
  { name: "fs helper thread: a small file is not fsync'd", guards: HELPER_DURABILITY, edits: [['src/stores/fs_worker.ts', '      fs.fsyncSync(fd);\n    } finally { fs.closeSync(fd); }\n    return { size: bytes.byteLength', '    } finally { fs.closeSync(fd); }\n    return { size: bytes.byteLength']] },
  { name: "fs helper thread: the staging folder is not fsync'd before its rename", guards: HELPER_DURABILITY, edits: [['src/stores/fs_worker.ts', '    fsyncPath(staging);\n', '']] },
  { name: 'fs helper thread: no parent fsync after the commit rename', guards: HELPER_DURABILITY, edits: [['src/stores/fs_worker.ts', '    fsyncPath(dirname(finalPath));\n', '']] },
  {
    name: 'no fsync at all',
    guards: DURABILITY,
    edits: [
      ['src/stores/fs.ts', 'const flushed = handle.sync().finally(', 'const flushed = Promise.resolve().finally('],
      ['src/stores/fs.ts', 'async function fsyncPath(path: string, fs: FsOps): Promise<void> {', 'async function fsyncPath(path: string, fs: FsOps): Promise<void> {\n  if (path) return;'],
      ['src/stores/fs.ts', '    await handle.sync();\n    await handle.close();', '    await handle.close();'],
    ],
  },
  {
    name: "S3 upload thread: the running CRC-32 of a save's parts skips a byte of each piece",
    guards: ['test/s3_upload.test.ts'],
    edits: [['src/node/s3_send_thread.ts', '    await eachPiece(source, (piece) => void (crc = crc32(piece, crc)));', '    await eachPiece(source, (piece) => void (crc = crc32(piece.subarray(1), crc)));']],
  },
  {
    name: 'S3 upload thread: the body hash put into the signature is not the hash of the bytes sent',
    guards: ['test/s3_upload.test.ts'],
    edits: [['src/node/s3_send_thread.ts', '    await eachPiece(source, (piece) => void hash.update(piece));', '    await eachPiece(source, (piece) => void hash.update(piece.subarray(1)));']],
  },
  {
    name: 'SDK on the S3 upload thread: a part sent from a file starts at the file\'s beginning, not at the part\'s offset',
    guards: ['test/s3_upload.test.ts'],
    edits: [['src/node/s3_send_thread.ts', "request.body = fs.createReadStream('', { fd, start: offset, end: offset + length - 1,", "request.body = fs.createReadStream('', { fd, start: 0, end: length - 1,"]],
  },
  {
    name: 'SDK on the S3 upload thread: signPayload: false is ignored over http (bodies hashed anyway)',
    guards: ['test/s3_upload.test.ts'],
    edits: [['src/node/s3_send_thread.ts', "if (unsigned === 'never' || (unsigned === 'https' && request.protocol === 'https:'))", "if (unsigned === 'https' && request.protocol === 'https:')"]],
  },
  { name: 'no CRC check in verify', guards: ['test/readers.test.ts'], edits: [['src/checkpoint/read.ts', "[{ length: file.size }])) !== file.crc32) {", "[{ length: file.size }])) !== file.crc32 && false) {"]] },
  {
    name: 'memory store: a commit onto a taken name replaces it instead of claiming another',
    guards: ['test/stores/memory.test.ts'],
    edits: [['src/stores/memory.ts', 'while (claim && this.checkpoints.has(target)) target = claim(target);', 'void claim;']],
  },
  {
    name: 'example object store: a commit that fails after its marker is put is aborted, removing the committed generation',
    guards: ['test/stores/object_store.test.ts'],
    edits: [
      ['examples/object_store.ts', 'if (committed) return; // never remove what a marker now names', ''],
      ['examples/object_store.ts', '          try {\n            store.dropGeneration(previous);\n          } catch {\n            // left for recover()\n          }\n', '          store.dropGeneration(previous);\n'],
    ],
  },
  {
    name: 'single files: a commit onto a taken name replaces it instead of claiming another',
    guards: ['test/stores/fs.test.ts'],
    edits: [['src/stores/fs_single_file.ts', 'await this.fs.link(this.tempPath, this.finalPath);', 'await this.fs.rename(this.tempPath, this.finalPath);']],
  },
  {
    name: 'single files: weights loaded without checking their CRC-32',
    guards: ['test/single_file.test.ts'],
    edits: [['src/checkpoint/codec_safetensors.ts', 'if (expected !== undefined && crc32(bytes) !== expected) {', 'if (expected !== undefined && crc32(bytes) !== expected && false) {']],
  },
  {
    name: 'browser stores: recover ignores the Web Locks of writers in other open tabs',
    guards: ['test/browser/failures.test.ts'],
    edits: [['src/stores/browser_storage.ts', 'return (token) => ownWriters.has(token) || held.has(`${LOCK_PREFIX}${token}`);', 'return (token) => ownWriters.has(token);']],
  },
  {
    name: 'opfs: checkpoint.json moved in before the other files',
    guards: ['test/browser/conformance.test.ts'],
    env: { TFJS_CKPT_CONFORMANCE_GREP: 'opfs' },
    edits: [
      [
        'src/stores/opfs.ts',
        '    for (const [file, handle] of staged) if (file !== COMMIT_MARKER) await move(handle, dir, file);\n    const marker = staged.get(COMMIT_MARKER);\n    if (marker) await move(marker, dir, COMMIT_MARKER); // the commit point\n',
        '    const marker = staged.get(COMMIT_MARKER);\n    if (marker) await move(marker, dir, COMMIT_MARKER);\n    for (const [file, handle] of staged) if (file !== COMMIT_MARKER) await move(handle, dir, file);\n',
      ],
    ],
  },
  {
    name: "indexeddb: a reader's confirm() does not check that its generation is still the one at the key",
    guards: ['test/browser/conformance.test.ts'],
    env: { TFJS_CKPT_CONFORMANCE_GREP: 'indexeddb' },
    edits: [['src/stores/indexeddb.ts', "if (now?.kind !== 'folder' || now.gen !== there.gen) throw new GenerationChanged(where);", 'void now;']],
  },
  {
    name: 'incremental: shards reused without checking that the previous checkpoint still records them',
    guards: ['test/incremental.test.ts'],
    edits: [
      [
        'src/checkpoint/write.ts',
        'const shards = new Map([...reuseFrom.shards].filter(([name, shard]) => recorded.get(name)?.size === shard.size && recorded.get(name)?.crc32 === shard.crc32));',
        'const shards = new Map([...reuseFrom.shards]); void recorded;',
      ],
    ],
  },
  {
    name: "fs store: the helper thread's checksum of a large file is wrong",
    guards: ['test/stores/fs.test.ts', 'test/stores/fs_helper.test.ts'],
    edits: [['src/stores/fs_worker.ts', '      return { size, crc32: crc };', '      return { size, crc32: (crc + 1) >>> 0 };']],
  },
  {
    name: "fs store: a shard's write that fails partway leaves the helper thread waiting for its bytes (every later save stalls)",
    guards: ['test/stores/fs_helper.test.ts'],
    edits: [['src/stores/fs.ts', '      followed?.ended(WRITE_FAILED);\n', '']],
  },
  {
    name: 'fs store: a shard truncated by another process after its writes ended leaves the helper thread waiting forever',
    guards: ['test/stores/fs_helper.test.ts'],
    edits: [['src/stores/fs_worker.ts', "        if (state === ${ALL_WRITTEN}) throw", "        if (state === -1) throw"]],
  },
  {
    name: "fs store: the helper thread's commit skips the check that the staged folder holds exactly the files written",
    guards: ['test/stores/fs_helper.test.ts'],
    edits: [['src/stores/fs_worker.ts', '    if (present.size !== files.length) return { extra: true };', '    void present;'], ['src/stores/fs_worker.ts', "      if (!present.has(f.name) || fs.statSync(join(staging, f.name)).size !== f.size) return { lost: f.name };", '      void f;']],
  },
  {
    name: 'fs store: a helper thread started ahead of its first step keeps the process alive',
    guards: ['test/stores/fs_helper.test.ts'],
    edits: [['src/node/helper_thread.ts', "    // After the listeners: adding a 'message' listener refs the thread again.\n    worker.unref();\n", '']],
  },
  {
    name: "localCache: the background save does not ask the bucket about the chosen name again (an upload replaces another writer's checkpoint)",
    guards: ['test/s3_store.test.ts'],
    edits: [['src/stores/tiered.ts', 'const target = claim ? await this.freeInRemote(key, claim) : key;', 'const target = key;']],
  },
  {
    name: 'callbacks give no event-loop turn between batches while a save is under way (it waits for the next save)',
    guards: ['test/async_save.test.ts'],
    edits: [['src/checkpoint/manager.ts', 'return this.persisting || (this.store instanceof TieredStore && this.store.working);', 'return false;']],
  },
  {
    name: "onEpochEnd returns before the save's first steps ran (its bytes go out only after the next batch)",
    guards: ['test/async_save.test.ts'],
    edits: [['src/callbacks/model_checkpoint.ts', '    if (this.manager.working) await eventLoopTurn();\n', '    void eventLoopTurn;\n']],
  },
  {
    name: "the fs store opens a shard's file through the thread pool (its bytes wait for a turn of the event loop)",
    guards: ['test/async_save.test.ts'],
    edits: [['src/stores/fs.ts', 'handle = await (toHelper ? nodeFsNow : this.fs).open(', 'handle = await this.fs.open(']],
  },
  {
    name: "the fs store writes a file's bytes only after the previous file's (a save needs a batch more inside fit)",
    guards: ['test/write_lane.test.ts'],
    edits: [['src/stores/fs.ts', '{ bytesInOrder: false }', '{ bytesInOrder: true }']],
  },
  {
    name: 'files written in place',
    guards: DURABILITY,
    edits: [['src/stores/fs.ts', 'const staging = join(dirname(finalPath), tempSiblingName(basename(finalPath), uniqueToken()));', 'const staging = finalPath;']],
  },
];

function run(cmd, args, cwd, env = {}) {
  return spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 1 << 28, env: { ...process.env, ...env } });
}

// TFJS_CKPT_BUGS=text plants only the bugs whose name contains `text` (to check a new one).
const only = process.env.TFJS_CKPT_BUGS;
let ok = true;
for (const bug of BUGS.filter((b) => !only || b.name.includes(only))) {
  const dir = mkdtempSync(join(tmpdir(), 'tfjs-ckpt-bug-'));
  rmSync(dir, { recursive: true });
  run('git', ['worktree', 'add', '--detach', dir, 'HEAD'], root);
  try {
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
    let applied = true;
    for (const [file, find, replace] of bug.edits) {
      const path = join(dir, file);
      const text = readFileSync(path, 'utf8');
      if (!text.includes(find)) {
        applied = false;
        console.log(`  could not plant "${bug.name}": ${file} no longer contains ${JSON.stringify(find.slice(0, 60))}`);
        continue;
      }
      writeFileSync(path, text.split(find).join(replace));
    }
    const result = run(process.execPath, ['scripts/run-tests.mjs', ...bug.guards], dir, bug.env);
    const failed = /^# fail [1-9]/m.test(result.stdout);
    // Tests cancelled by the runner's timeout (scripts/run-tests.mjs): a hang, never a catch.
    const cancelled = Number((/^# cancelled (\d+)/m.exec(result.stdout) ?? [])[1] ?? 0);
    const hung = cancelled > 0 ? `, ${cancelled} cancelled: timed out` : '';
    console.log(`${applied && failed && !hung ? 'caught' : 'MISSED'}: ${bug.name} (${(/^# fail (\d+)/m.exec(result.stdout) ?? [])[1] ?? '?'} failing tests${hung})`);
    ok &&= applied && failed && !hung;
  } finally {
    run('git', ['worktree', 'remove', '--force', dir], root);
  }
}
console.log(ok ? 'deliberate bugs: every one turned the tests red' : 'deliberate bugs: some were not caught');
process.exit(ok ? 0 : 1);
