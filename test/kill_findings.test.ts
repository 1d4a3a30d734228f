/**
 * What the kill and two-writer campaigns found in src/ that no other test covered, each reduced to a
 * deterministic case. Each failed on main before the fix it names.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import * as fsp from 'node:fs/promises';
import { mkdir, readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { describe, it } from 'node:test';
import { backupAndRestore, CheckpointManager, restoreTraining, type FsOps } from '../src/index.js';
import { deadPid, gate, smallClassifier, tempDir, toyData } from './helpers.js';

function tensors(value: number): tf.NamedTensorMap {
  return { w: tf.fill([1024], value) };
}

/** A writer's FsOps that stops a replacement of `fixed` right after the old copy is set aside, until `go`. */
function stoppingAfterSetAside(): { fs: FsOps; setAside: Promise<void>; go: () => void } {
  const reached = gate();
  const hold = gate();
  const fs: FsOps = {
    ...fsp,
    rename: (async (from: string, to: string) => {
      await fsp.rename(from, to);
      if (basename(to).startsWith('.fixed.old-')) {
        reached.open();
        await hold.wait;
      }
    }) as FsOps['rename'],
  };
  return { fs, setAside: reached.wait, go: hold.open };
}

/** A fixed-path checkpoint of step 1 in a fresh directory. */
async function fixedCheckpoint(): Promise<string> {
  const path = join(await tempDir(), 'fixed');
  await new CheckpointManager({ filepath: path, asyncSave: false }).save(1, tensors(1));
  return path;
}

describe('kill and two-writer campaign findings', () => {
  it(
    // Before ed970ca backupDir was cleaned only at the first backup a run saved (the kill campaign's
    // "temporaries left after completed runs: backup/.backup-….tmp-*").
    'a run resumed at its last epoch cleans what a killed backup left in backupDir',
    async () => {
      const dir = await tempDir();
      const backupDir = join(dir, 'backup');
      const { x, y } = toyData(8);
      await smallClassifier().fit(x, y, { epochs: 2, verbose: 0, callbacks: [backupAndRestore({ backupDir, deleteCheckpoint: false })] });
      // What a SIGKILL right after the rotation's deletion rename leaves: the previous backup under a dead writer's temporary name.
      const leftover = `.backup-000000000001.tmp-${deadPid()}-1-deadbeef`;
      await mkdir(join(backupDir, leftover));
      const { model, initialEpoch } = await restoreTraining(backupDir, () => smallClassifier());
      assert.equal(initialEpoch, 2);
      await model.fit(x, y, { epochs: 2, initialEpoch, verbose: 0, callbacks: [backupAndRestore({ backupDir })] });
      assert.deepEqual(await readdir(backupDir), []);
    },
  );

  it(
    'list() keeps a fixed path that a replacement sets aside between finding it and looking inside it',
    async () => {
      const path = await fixedCheckpoint();
      const writer = stoppingAfterSetAside();
      const looking = gate();
      const look = gate();
      let held = false;
      const readerFs: FsOps = {
        ...fsp,
        stat: (async (...args: Parameters<typeof fsp.stat>) => {
          if (args[0] === join(path, 'checkpoint.json') && !held) {
            held = true; // the reader listed `fixed` and is about to look for its commit marker
            looking.open();
            await look.wait;
          }
          return fsp.stat(...args);
        }) as FsOps['stat'],
      };
      const listing = new CheckpointManager({ filepath: path, fs: readerFs }).list();
      await looking.wait;
      const saving = new CheckpointManager({ filepath: path, fs: writer.fs, asyncSave: false }).save(2, tensors(2));
      await writer.setAside;
      look.open();
      const listed = await listing;
      writer.go();
      await saving;
      assert.deepEqual(listed.map((r) => r.path), [path]);
    },
  );

  it(
    'list() keeps a fixed path whose checkpoint.json vanished under a swap that finished before the reader looked again',
    async () => {
      const path = await fixedCheckpoint();
      const writer = stoppingAfterSetAside();
      const reading = gate();
      let saving: Promise<unknown> = Promise.resolve();
      let held = false;
      const readerFs: FsOps = {
        ...fsp,
        open: (async (...args: Parameters<typeof fsp.open>) => {
          if (args[0] !== join(path, 'checkpoint.json') || held) return fsp.open(...args);
          held = true;
          reading.open();
          await writer.setAside; // the open lands between the two renames of the swap
          try {
            return await fsp.open(...args);
          } finally {
            writer.go(); // and the swap finishes before the reader looks again
            await saving;
          }
        }) as FsOps['open'],
      };
      const listing = new CheckpointManager({ filepath: path, fs: readerFs }).list();
      await reading.wait;
      saving = new CheckpointManager({ filepath: path, fs: writer.fs, asyncSave: false }).save(2, tensors(2));
      assert.deepEqual((await listing).map((r) => r.path), [path]);
    },
  );
});
