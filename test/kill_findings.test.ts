/**
 * What the kill campaign found in src/ that no other test covered, reduced to a deterministic case.
 * Each failed on main before its fix (named in the test).
 */
import assert from 'node:assert/strict';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { backupAndRestore, restoreTraining } from '../src/index.js';
import { deadPid, smallClassifier, tempDir, toyData } from './helpers.js';

describe('kill campaign findings', () => {
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
});
