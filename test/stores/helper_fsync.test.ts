/**
 * Durability of the steps the fs store's helper thread takes (fs_worker.ts): on the real file system a
 * save's shards are fsync'd there as they are written, its small files written and fsync'd there, and
 * its commit (the staging folder's fsync, the rename, the parent's fsync) done there. The power-loss
 * model of durability.test.ts runs on an injected file system, which the helper thread never touches;
 * this test checks the real path instead: a child process saves with every thread's fsyncs, renames,
 * links and creations recorded (fs_trace_preload.cjs), and each committed file must have been made
 * durable before the rename that made it visible, in the order the power-loss model needs.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { helperAvailable } from '../../src/stores/fs_worker.js';

interface Event {
  index: number;
  thread: string;
  op: 'fsync' | 'rename' | 'link' | 'create';
  path: string;
  to?: string;
}

const MAIN_THREAD = '0';
const FOLLOWED_BYTES = 1024 * 1024; // past this, the helper thread follows a shard's write (fs.ts, INLINE_CRC_BYTES)

// Without a helper thread (a Node without zlib.crc32) saves take the main thread's path, which
// durability.test.ts checks; there is nothing of this path to trace.
const NO_HELPER = helperAvailable() ? false : 'no helper thread on this Node (zlib.crc32 is missing)';

describe('fs store: the helper thread makes a save durable before it is visible (real file system, every thread traced)', { skip: NO_HELPER }, () => {
  let dir: string;
  let events: Event[];
  let checkpoints: string[];
  const scratch = realpathSync(mkdtempSync(join(tmpdir(), 'tfjs-ckpt-trace-')));
  after(() => rmSync(scratch, { recursive: true, force: true }));

  before(() => {
    const journal = join(scratch, 'journal.tsv');
    const child = fileURLToPath(new URL('./helper_fsync_child.ts', import.meta.url));
    const preload = fileURLToPath(new URL('./fs_trace_preload.cjs', import.meta.url));
    // Through NODE_OPTIONS, which every thread reads: the helper threads start with no execArgv of their own.
    const nodeOptions = `${process.env.NODE_OPTIONS ?? ''} --require ${JSON.stringify(preload)}`.trim();
    const run = spawnSync(process.execPath, ['--import', 'tsx', child], {
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, NODE_OPTIONS: nodeOptions, TFJS_CKPT_FS_TRACE: journal, TMPDIR: scratch },
    });
    assert.equal(run.status, 0, `the saving child failed: ${run.stderr.slice(-1000)}`);
    dir = (JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { dir: string }).dir;
    events = readFileSync(journal, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line, index) => {
        const [thread, op, path, to] = line.split('\t') as [string, Event['op'], string, string | undefined];
        return { index, thread, op, path, ...(to ? { to } : {}) };
      });
    checkpoints = readdirSync(dir).filter((n) => n.startsWith('ck-')).sort().map((n) => join(dir, n));
  });

  /** The rename that made `checkpoint` visible, and the staging folder it came from. */
  const commitOf = (checkpoint: string) => {
    const renames = events.filter((e) => e.op === 'rename' && e.to === checkpoint);
    assert.equal(renames.length, 1, `${checkpoint} should be made visible by one rename (${renames.length} found)`);
    return renames[0]!;
  };

  it('the saves ran: two checkpoints, the first with a shard the helper thread followed, the second linking it', () => {
    assert.deepEqual(checkpoints.map((c) => c.slice(dir.length + 1)), ['ck-01', 'ck-02']);
    const big = readdirSync(checkpoints[0]!).filter((f) => statSync(join(checkpoints[0]!, f)).size > FOLLOWED_BYTES);
    assert.equal(big.length, 1, 'the frozen base should be one shard of over 1 MiB');
    assert.ok(events.some((e) => e.op === 'link' && e.to === join(commitOf(checkpoints[1]!).path, big[0]!)), 'the second checkpoint should link the base shard');
  });

  it('every file of every checkpoint is fsync\'d (or linked from a committed checkpoint) before the rename that makes it visible', () => {
    for (const checkpoint of checkpoints) {
      const commit = commitOf(checkpoint);
      for (const name of readdirSync(checkpoint)) {
        const staged = join(commit.path, name);
        const link = events.find((e) => e.op === 'link' && e.to === staged);
        if (link) {
          const source = commitOf(dirname(link.path));
          assert.ok(source.index < link.index, `${name} of ${checkpoint} was linked from a checkpoint not yet committed`);
          continue;
        }
        const fsync = events.find((e) => e.op === 'fsync' && e.path === staged);
        assert.ok(fsync, `${name} of ${checkpoint} was never fsync'd`);
        assert.ok(fsync.index < commit.index, `${name} of ${checkpoint} was fsync'd only after the checkpoint became visible`);
      }
    }
  });

  it('each staging folder is fsync\'d after its last file was created in it and before its rename; the parent after the rename', () => {
    for (const checkpoint of checkpoints) {
      const commit = commitOf(checkpoint);
      const entries = events.filter((e) => (e.op === 'create' || e.op === 'link') && dirname(e.to ?? e.path) === commit.path);
      assert.ok(entries.length >= 3, `the files created in ${commit.path} should be traced (${entries.length} found)`);
      const lastEntry = Math.max(...entries.map((e) => e.index));
      const folderSync = events.find((e) => e.op === 'fsync' && e.path === commit.path && e.index > lastEntry);
      assert.ok(folderSync && folderSync.index < commit.index, `the staging folder of ${checkpoint} was not fsync'd between its last file and its rename`);
      const parentSync = events.find((e) => e.op === 'fsync' && e.path === dirname(checkpoint) && e.index > commit.index);
      assert.ok(parentSync, `the folder holding ${checkpoint} was not fsync'd after the rename`);
    }
  });

  it('the traced path is the helper thread\'s: the followed shard\'s fsync, the small files\' and the commit ran off the main thread', () => {
    const first = checkpoints[0]!;
    const commit = commitOf(first);
    assert.notEqual(commit.thread, MAIN_THREAD, 'the commit rename ran on the main thread');
    for (const name of readdirSync(first)) {
      const fsync = events.find((e) => e.op === 'fsync' && e.path === join(commit.path, name));
      assert.ok(fsync, `${name} was never fsync'd`);
      assert.notEqual(fsync.thread, MAIN_THREAD, `${name} was fsync'd on the main thread`);
    }
  });
});
