/**
 * Issue 7: the promises an adversarial probe broke. Each test names its item; each failed on the
 * code before the fix. Paths, templates, two writers, ordering across callbacks, signals, odd names
 * and bad arguments.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import { mkdir, readdir, readFile, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import {
  CheckpointError,
  CheckpointManager,
  backupAndRestore,
  latestCheckpoint,
  loadModel,
  loadWeights,
  modelCheckpoint,
  saveModel,
  saveWeights,
  verify,
  type FsOps,
} from '../src/index.js';
import { deadPid, gate, smallClassifier, tempDir, toyData } from './helpers.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

async function visible(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => !n.startsWith('.')).sort();
}

/** A callback that overwrites `val_loss` in the logs, so the best epoch is the one a test wants. */
function forceValLoss(values: number[]): tf.CustomCallback {
  return new tf.CustomCallback({
    onEpochEnd: async (epoch, logs) => {
      if (logs) logs['val_loss'] = values[epoch]!;
    },
  });
}

async function pointerTarget(path: string): Promise<string> {
  return (JSON.parse(await readFile(path, 'utf8')) as { path: string }).path;
}

/** Runs `body` with the working directory set to `dir`. */
async function inDirectory<T>(dir: string, body: () => Promise<T>): Promise<T> {
  const cwd = process.cwd();
  process.chdir(dir);
  try {
    return await body();
  } finally {
    process.chdir(cwd);
  }
}

describe('item 1: every spelling of a path is the same place', () => {
  // Spellings of <root>/ckpt, resolved inside <root>.
  const spellings: [string, (root: string) => string][] = [
    ['./ckpt', () => './ckpt'],
    ['ckpt', () => 'ckpt'],
    ['ckpt/', () => 'ckpt/'],
    ['ckpt/./', () => 'ckpt/.'],
    ['sub/../ckpt', () => 'sub/../ckpt'],
    ['absolute', (root) => join(root, 'ckpt')],
    ['repeated slashes', (root) => `${root}//ckpt`],
    ['file:// relative', () => 'file://ckpt'],
    ['file:/// absolute', (root) => `file://${root}/ckpt`],
  ];

  for (const [name, spell] of spellings) {
    it(`${name}: saveTopK keeps the newest and the best; pointers in another spelling are written; readers agree`, async () => {
      const root = await tempDir();
      const pointerSpelling = name.startsWith('file') ? 'ckpt/latest' : `file://${root}/ckpt/latest`;
      await inDirectory(root, async () => {
        const dir = spell(root);
        const model = smallClassifier();
        const { x, y } = toyData(8);
        const cb = modelCheckpoint({
          filepath: `${dir}/w{epoch:02d}`,
          monitor: 'val_loss',
          saveTopK: 1,
          latestPointer: pointerSpelling,
          bestPointer: `${dir}/best-pointer`,
        });
        // Best at epoch 2 of 4: epoch 4 is the newest and must survive too.
        await model.fit(x, y, { epochs: 4, verbose: 0, callbacks: [forceValLoss([0.5, 0.2, 0.4, 0.6]), cb] });
        assert.deepEqual(await visible(join(root, 'ckpt')), ['best-pointer', 'latest', 'w02', 'w04']);
        assert.equal(await pointerTarget(join(root, 'ckpt', 'latest')), 'w04');
        assert.equal(await pointerTarget(join(root, 'ckpt', 'best-pointer')), 'w02');
        assert.equal(await latestCheckpoint(`${dir}/w{epoch:02d}`), join(root, 'ckpt', 'w04'));
        const manager = new CheckpointManager({ filepath: `${dir}/w{epoch:02d}`, monitor: 'val_loss' });
        assert.equal((await manager.best())?.path, join(root, 'ckpt', 'w02'));
        await verify(`${dir}/w02`);
        await loadWeights(smallClassifier(), `${dir}/w04`);
        assert.ok(!(await readdir(root)).includes('file:'), 'no directory named "file:"');
      });
    });
  }

  it('a CheckpointManager directory in any spelling lists the same checkpoints', async () => {
    const root = await tempDir();
    await new CheckpointManager({ directory: join(root, 'run'), asyncSave: false }).save(1, smallClassifier());
    await inDirectory(root, async () => {
      for (const spelling of ['run', './run', 'run/', `file://${root}/run`, `${root}//run`, 'x/../run']) {
        const records = await new CheckpointManager({ directory: spelling }).list();
        assert.deepEqual(records.map((r) => r.path), [join(root, 'run', 'ckpt-00000001')], spelling);
      }
    });
  });

  it('a URL scheme no store claims is refused, not turned into a folder', () => {
    assert.throws(() => modelCheckpoint({ filepath: 'gs://bucket/run/w{epoch}' }), (e: unknown) => e instanceof CheckpointError && /gs:\/\//.test(e.message));
  });
});

describe('item 2: a template claims only its own checkpoints', () => {
  it('w{epoch} with keepLast 2 beside w-best with saveBestOnly: w-best survives', async () => {
    const dir = await tempDir();
    const model = smallClassifier();
    const { x, y } = toyData(8);
    const every = modelCheckpoint({ filepath: join(dir, 'w{epoch}'), keepLast: 2 });
    const best = modelCheckpoint({ filepath: join(dir, 'w-best'), saveBestOnly: true, monitor: 'val_loss' });
    await model.fit(x, y, { epochs: 4, verbose: 0, callbacks: [forceValLoss([0.5, 0.2, 0.4, 0.6]), every, best] });
    // w2 is the best by val_loss, which retention always keeps.
    assert.deepEqual(await visible(dir), ['w-best', 'w2', 'w3', 'w4']);
    assert.equal((await verify(join(dir, 'w-best'))).metadata?.epoch, 2);
    assert.deepEqual((await every.manager.list()).map((r) => r.path), [join(dir, 'w2'), join(dir, 'w3'), join(dir, 'w4')]);
  });

  it('a field matches only what it could have been formatted from', async () => {
    const dir = await tempDir();
    const model = smallClassifier();
    for (const name of ['w1', 'w-best', 'wabc', 'w1.5']) await saveWeights(model, join(dir, name));
    assert.deepEqual((await new CheckpointManager({ filepath: join(dir, 'w{epoch}') }).list()).map((r) => r.path), [join(dir, 'w1')]);
    assert.deepEqual((await new CheckpointManager({ filepath: join(dir, 'w{val_loss}') }).list()).map((r) => r.path), [join(dir, 'w1.5')]);
  });

  it('retention never deletes a matching checkpoint that another template (or a plain save) wrote', async () => {
    const dir = await tempDir();
    const model = smallClassifier();
    await saveWeights(model, join(dir, 'w01'));
    const other = new CheckpointManager({ filepath: join(dir, 'w{epoch:02d}-x'), asyncSave: false });
    await other.save(5, model, { epoch: 2 });
    const manager = new CheckpointManager({ filepath: join(dir, 'w{epoch:02d}'), keepLast: 1, asyncSave: false });
    for (const epoch of [3, 4]) await manager.save(epoch, model, { epoch });
    assert.deepEqual(await visible(dir), ['w01', 'w02-x', 'w04']);
  });
});

describe('item 3: one process never deletes its own live temporaries', () => {
  it('a second manager on the same directory leaves the first one’s save in flight alone; the commit is complete', async () => {
    const dir = await tempDir();
    const hold = gate();
    let reached!: () => void;
    const atShard = new Promise<void>((resolve) => (reached = resolve));
    // The first manager's save stops just before writing its weights file.
    const pausing: FsOps = {
      ...fsp,
      open: (async (path: string, flags?: string | number, mode?: number) => {
        if (flags === 'wx' && path.endsWith('weights.bin')) {
          reached();
          await hold.wait;
        }
        return fsp.open(path, flags, mode);
      }) as FsOps['open'],
    };
    const first = new CheckpointManager({ directory: dir, fs: pausing });
    const second = new CheckpointManager({ directory: dir, asyncSave: false });
    // Two models: saves of one model commit in order, which would make the second wait for the first.
    await first.save(1, smallClassifier());
    await atShard;
    await second.save(2, smallClassifier());
    hold.open();
    await first.wait();
    for (const record of await second.list()) await verify(record.path);
    assert.deepEqual((await second.list()).map((r) => r.metadata.step).sort(), [1, 2]);
  });

  it('a commit refuses a temporary directory that lost a file', async () => {
    const dir = await tempDir();
    // Another process removes the weights file from the staging directory while the save is still writing.
    const sabotage: FsOps = {
      ...fsp,
      open: (async (path: string, flags?: string | number, mode?: number) => {
        if (flags === 'wx' && path.endsWith('checkpoint.json')) await fsp.rm(join(dirname(path), 'weights.bin'));
        return fsp.open(path, flags, mode);
      }) as FsOps['open'],
    };
    const manager = new CheckpointManager({ directory: dir, asyncSave: false, fs: sabotage });
    await assert.rejects(manager.save(1, smallClassifier()), (e: unknown) => e instanceof CheckpointError && /lost weights\.bin/.test(e.message));
    assert.deepEqual(await visible(dir), []);
  });
});

describe('item 4: two writers, one template', () => {
  it('a name taken between the choice and the commit gets the next version, never replaces the other writer’s checkpoint', async () => {
    const dir = await tempDir();
    const hold = gate();
    let reached!: () => void;
    const atCommit = new Promise<void>((resolve) => (reached = resolve));
    const pausing: FsOps = {
      ...fsp,
      rename: (async (from: string, to: string) => {
        if (from.includes('.tmp-') && !to.includes('.tmp-') && !to.includes('.old-')) {
          reached();
          await hold.wait;
        }
        return fsp.rename(from, to);
      }) as FsOps['rename'],
    };
    // Two writers of two models (as two processes would be).
    const slow = new CheckpointManager({ filepath: join(dir, 'w{epoch:02d}'), fs: pausing, logger: { warn: () => undefined } });
    const fast = new CheckpointManager({ filepath: join(dir, 'w{epoch:02d}'), asyncSave: false });
    await slow.save(10, smallClassifier(), { epoch: 1 });
    await atCommit;
    await fast.save(20, smallClassifier(), { epoch: 1 });
    hold.open();
    await slow.wait();
    assert.deepEqual(await visible(dir), ['w01', 'w01-v1']);
    assert.equal((await verify(join(dir, 'w01'))).metadata?.step, 20);
    assert.equal((await verify(join(dir, 'w01-v1'))).metadata?.step, 10);
  });
});

describe('item 6: ordering and crash windows', () => {
  it('a backup commits only after the checkpoints of its epoch, whatever the order of the callbacks', async () => {
    const dir = await tempDir();
    const commits: string[] = [];
    const recordCommits = (delay?: () => Promise<void>): FsOps => ({
      ...fsp,
      rename: (async (from: string, to: string) => {
        const commit = from.includes('.tmp-') && !to.includes('.tmp-') && !to.includes('.old-') && !to.endsWith('latest');
        if (commit && delay) await delay();
        await fsp.rename(from, to);
        if (commit) commits.push(to.slice(dir.length + 1));
      }) as FsOps['rename'],
    });
    // The checkpoints' commits are held until the backup of the same epoch has written its files.
    let backupStaged = gate();
    const backupFs: FsOps = {
      ...recordCommits(),
      open: (async (path: string, flags?: string | number, mode?: number) => {
        const handle = await fsp.open(path, flags, mode);
        if (flags === 'wx' && path.endsWith('checkpoint.json')) backupStaged.open();
        return handle;
      }) as FsOps['open'],
    };
    const checkpointFs = recordCommits(async () => {
      await Promise.race([backupStaged.wait, new Promise((resolve) => setImmediate(resolve))]);
      backupStaged = gate();
    });
    const model = smallClassifier();
    const { x, y } = toyData(8);
    await model.fit(x, y, {
      epochs: 3,
      verbose: 0,
      callbacks: [
        backupAndRestore({ backupDir: join(dir, 'backup'), deleteCheckpoint: false, fs: backupFs }),
        modelCheckpoint({ filepath: join(dir, 'w{epoch:02d}'), fs: checkpointFs }),
      ],
    });
    const order = commits.filter((c) => /^w\d\d$|^backup\/backup-/.test(c));
    for (const epoch of [1, 2]) {
      const checkpoint = order.indexOf(`w0${epoch}`);
      const backup = order.findIndex((c) => c.startsWith('backup/') && c.endsWith(String(epoch * 1)));
      assert.ok(checkpoint >= 0, `w0${epoch} committed: ${order.join(', ')}`);
      if (backup >= 0) assert.ok(checkpoint < backup, `w0${epoch} before the backup of epoch ${epoch}: ${order.join(', ')}`);
    }
    const backups = order.filter((c) => c.startsWith('backup/'));
    const checkpoints = order.filter((c) => c.startsWith('w'));
    // Each backup comes after every checkpoint that began before it.
    for (const [i, b] of backups.entries()) assert.ok(order.indexOf(b) > order.indexOf(checkpoints[i]!), order.join(', '));
  });

  it('pointers are rewritten before retention deletes (a crash never leaves one naming a deleted checkpoint)', async () => {
    const dir = await tempDir();
    const renames: string[] = [];
    const recording: FsOps = {
      ...fsp,
      rename: (async (from: string, to: string) => {
        renames.push(`${from.slice(dir.length + 1)} -> ${to.slice(dir.length + 1)}`);
        return fsp.rename(from, to);
      }) as FsOps['rename'],
    };
    const manager = new CheckpointManager({ directory: dir, monitor: 'val_loss', keepLast: 1, asyncSave: false, fs: recording });
    const model = smallClassifier();
    await manager.save(1, model, { metrics: { val_loss: 0.5 } });
    await manager.save(2, model, { metrics: { val_loss: 0.4 } });
    renames.length = 0;
    await manager.save(3, model, { metrics: { val_loss: 0.3 } });
    const deletion = renames.findIndex((r) => r.startsWith('ckpt-00000002 -> '));
    const latest = renames.findIndex((r) => r.endsWith('-> latest'));
    const best = renames.findIndex((r) => r.endsWith('-> best'));
    assert.ok(deletion > latest && deletion > best, renames.join('\n'));
  });

  it('a crash between the two renames of a fixed-path swap: every reader finds the set-aside copy', async () => {
    const dir = await tempDir();
    const path = join(dir, 'best');
    await saveModel(smallClassifier(), path);
    // The state a SIGKILL between the renames leaves: the old checkpoint set aside, nothing at `best`.
    await rename(path, join(dir, `.best.old-${deadPid()}-0-deadbeef`));
    assert.equal(await latestCheckpoint(path), path);
    const manager = new CheckpointManager({ filepath: path });
    assert.deepEqual((await manager.list()).map((r) => r.path), [path]);
    await verify(path);
    await loadWeights(smallClassifier(), path);
    // The next writer puts it back before anything else.
    await manager.recover();
    assert.deepEqual(await readdir(dir), ['best']);
  });

  it('leftovers of a process whose pid is alive but was reused are cleaned; a live writer’s are kept', async () => {
    const dir = await tempDir();
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    try {
      const pid = child.pid!;
      let start: string | undefined;
      try {
        const stat = await readFile(`/proc/${pid}/stat`, 'latin1');
        start = BigInt(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!).toString(36);
      } catch {
        start = undefined;
      }
      const live = `.w01.tmp-${pid}-${start ?? '0'}-aaaaaaaa`;
      const reused = `.w02.tmp-${pid}-${start === '1' ? '2' : '1'}-bbbbbbbb`;
      await mkdir(join(dir, live));
      if (start !== undefined) await mkdir(join(dir, reused));
      await new CheckpointManager({ filepath: join(dir, 'w{epoch:02d}') }).recover();
      const left = await readdir(dir);
      assert.ok(left.includes(live), 'the live writer’s temporary is kept');
      assert.ok(!left.includes(reused), 'the temporary of a pid that was reused is removed');
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('item 7: a signal is re-raised only after every checkpointing callback has committed', () => {
  it('backupAndRestore listed before an async modelCheckpoint: the last checkpoint is committed before the process dies', { timeout: 120_000 }, async () => {
    const dir = await tempDir();
    const result = await new Promise<{ signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', join(FIXTURES, 'signal_child.ts'), dir], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('error', reject);
      child.on('close', (_code, signal) => resolve({ signal, stdout, stderr }));
    });
    assert.equal(result.signal, 'SIGTERM', result.stderr);
    assert.ok(!result.stdout.includes('FIT RETURNED'));
    // Stopped during epoch 2: its checkpoint (saved at that epoch's end) must be there, whole.
    assert.deepEqual((await visible(dir)).filter((n) => n.startsWith('w')), ['w01', 'w02']);
    await verify(join(dir, 'w02'));
  });
});

describe('item 8: a pointer cannot send a reader outside its directory', () => {
  it('a pointer naming ../other-run or an absolute path is not followed', async () => {
    const root = await tempDir();
    const elsewhere = join(root, 'other-run', 'ckpt-00000009');
    await saveWeights(smallClassifier(), elsewhere);
    const run = join(root, 'run');
    await mkdir(run);
    const manager = new CheckpointManager({ directory: run });
    for (const named of ['../other-run/ckpt-00000009', elsewhere]) {
      const pointer = { format: 'tfjs-checkpoint-pointer', formatVersion: 1, path: named, step: 9, epoch: null, value: null };
      await fsp.writeFile(join(run, 'latest'), JSON.stringify(pointer));
      await assert.rejects(manager.resolve('latest'), (e: unknown) => e instanceof CheckpointError && e.code === 'NOT_FOUND', named);
    }
  });

  it('a pointer option outside the checkpoints’ directory tree is refused at construction', () => {
    assert.throws(() => new CheckpointManager({ filepath: '/tmp/a/w{epoch}', latestPointer: '/tmp/b/latest' }), (e: unknown) => e instanceof CheckpointError && e.code === 'INVALID_ARGUMENT');
  });
});

describe('item 12: names near the file-system limit', () => {
  it('a name too long for its temporaries is refused at construction, with a clear error', () => {
    for (const length of [230, 240, 300]) {
      assert.throws(
        () => modelCheckpoint({ filepath: `/tmp/${'n'.repeat(length)}` }),
        (e: unknown) => e instanceof CheckpointError && e.code === 'INVALID_ARGUMENT' && /at most 223/.test(e.message),
      );
    }
  });

  it('a formatted name that grows too long is refused before anything is written; the longest allowed saves and is deleted', async () => {
    const dir = await tempDir();
    const model = smallClassifier();
    const growing = new CheckpointManager({ filepath: join(dir, `${'n'.repeat(220)}{epoch}`), asyncSave: false });
    await assert.rejects(growing.save(1, model, { epoch: 1234 }), (e: unknown) => e instanceof CheckpointError && e.code === 'INVALID_ARGUMENT');
    assert.deepEqual(await readdir(dir), []);
    const longest = new CheckpointManager({ filepath: join(dir, `${'n'.repeat(221)}{epoch:02d}`), keepLast: 1, asyncSave: false });
    for (const epoch of [1, 2, 3]) await longest.save(epoch, model, { epoch });
    assert.deepEqual(await readdir(dir), [`${'n'.repeat(221)}03`]);
  });
});

describe('item 13: arguments are checked at the boundary', () => {
  it('a scalar tensor metric is recorded as its number; list(), latest() and restore() see the checkpoint', async () => {
    const dir = await tempDir();
    const manager = new CheckpointManager({ directory: dir, monitor: 'val_loss', asyncSave: false });
    const model = smallClassifier();
    const loss = tf.scalar(0.5);
    await manager.save(1, model, { metrics: { val_loss: loss as unknown as number } });
    loss.dispose();
    const latest = await manager.latest();
    assert.equal(latest?.value, 0.5);
    await manager.restore('latest', smallClassifier());
  });

  it('bad steps, models, paths and metrics are INVALID_ARGUMENT errors that name the argument', async () => {
    const dir = await tempDir();
    const manager = new CheckpointManager({ directory: dir, asyncSave: false });
    const model = smallClassifier();
    const invalid = (pattern: RegExp) => (e: unknown) => e instanceof CheckpointError && e.code === 'INVALID_ARGUMENT' && pattern.test(e.message);
    for (const step of [-1, 1.5, NaN, Infinity, '3', undefined]) await assert.rejects(manager.save(step as number, model), invalid(/step/));
    await assert.rejects(manager.save(1, undefined as never), invalid(/source/));
    await assert.rejects(manager.save(1, model, { metrics: { val_loss: 'low' as never } }), invalid(/val_loss/));
    assert.deepEqual(await readdir(dir), []);
    assert.throws(() => new CheckpointManager({ directory: undefined as never }), (e: unknown) => e instanceof CheckpointError);
    assert.throws(() => new CheckpointManager({ filepath: null as never }), invalid(/filepath/));
    await assert.rejects(latestCheckpoint(undefined as never), invalid(/template/));
    await assert.rejects(saveWeights(undefined as never, join(dir, 'x')), invalid(/model/));
    await assert.rejects(saveWeights(model, undefined as never), invalid(/path/));
    await assert.rejects(saveModel(null as never, join(dir, 'x')), invalid(/model/));
    await assert.rejects(manager.restore(undefined as never), invalid(/latest/));
    await assert.rejects(loadWeights(undefined as never, join(dir, 'x')), invalid(/model/));
    await assert.rejects(loadWeights(model, null as never), invalid(/path/));
    await assert.rejects(loadModel(undefined as never), invalid(/path/));
    await assert.rejects(verify(undefined as never), invalid(/path/));
  });
});

describe('item 14: restoring disposes what it replaces', () => {
  it('manager.restore into a model does not leak the old optimizer state', async () => {
    const dir = await tempDir();
    const model = smallClassifier();
    const { x, y } = toyData(8);
    await model.fit(x, y, { epochs: 1, verbose: 0 });
    const manager = new CheckpointManager({ directory: dir, asyncSave: false });
    await manager.save(1, model);
    await manager.restore('latest', model);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) await manager.restore('latest', model);
    assert.equal(tf.memory().numTensors, before, 'tensors after five more restores');
    // And the restored optimizer still trains.
    await model.fit(x, y, { epochs: 1, verbose: 0 });
  });
});
