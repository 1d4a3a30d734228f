/** latestCheckpoint: Keras's newest-matching-file helper (spec §5.2, scenarios 21-23 and 41), done right. */
import assert from 'node:assert/strict';
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { latestCheckpoint, saveWeights } from '../src/index.js';
import { tempDir } from './helpers.js';

/** A committed checkpoint (a weights-only save of one tensor) with a given modification time (seconds). */
async function fakeCheckpoint(path: string, mtime: number): Promise<void> {
  await saveWeights(tf.sequential({ layers: [tf.layers.dense({ inputShape: [1], units: 1 })] }), path);
  await utimes(path, mtime, mtime);
}

describe('latestCheckpoint', () => {
  it('S21: returns the newest by modification time, not the largest name', async () => {
    const dir = await tempDir();
    await fakeCheckpoint(join(dir, 'f.batch03epoch02'), 1000);
    await fakeCheckpoint(join(dir, 'f.batch02epoch02'), 2000);
    await fakeCheckpoint(join(dir, 'f.batch01epoch01'), 3000);
    assert.equal(await latestCheckpoint(join(dir, 'f.batch{batch:02d}epoch{epoch:02d}')), join(dir, 'f.batch01epoch01'));
  });

  it('S22: a newer entry that does not match the literal text is ignored; "." is literal', async () => {
    const dir = await tempDir();
    await fakeCheckpoint(join(dir, 'f.batch02epoch02'), 2000);
    await fakeCheckpoint(join(dir, 'f.baatch01epoch01'), 3000);
    await fakeCheckpoint(join(dir, 'fXbatch09epoch09'), 4000);
    assert.equal(await latestCheckpoint(join(dir, 'f.batch{batch:02d}epoch{epoch:02d}')), join(dir, 'f.batch02epoch02'));
  });

  it('S23: a template without fields returns that checkpoint if it exists; an empty directory gives null', async () => {
    const dir = await tempDir();
    assert.equal(await latestCheckpoint(join(dir, 'fixed')), null);
    await fakeCheckpoint(join(dir, 'fixed'), 1000);
    assert.equal(await latestCheckpoint(join(dir, 'fixed')), join(dir, 'fixed'));
  });

  it('S41 (deliberate difference): a template with no directory part searches the working directory', async () => {
    const dir = await tempDir();
    await fakeCheckpoint(join(dir, 'm-01'), 1000);
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      // Paths are normalized where they enter: every spelling gives the same absolute path.
      assert.equal(await latestCheckpoint('m-{epoch:02d}'), join(dir, 'm-01'));
      assert.equal(await latestCheckpoint('./m-{epoch:02d}'), join(dir, 'm-01'));
      assert.equal(await latestCheckpoint(`file://m-{epoch:02d}`), join(dir, 'm-01'));
    } finally {
      process.chdir(cwd);
    }
  });

  it('ties on modification time go to the largest path', async () => {
    const dir = await tempDir();
    await fakeCheckpoint(join(dir, 'e01'), 5000);
    await fakeCheckpoint(join(dir, 'e03'), 5000);
    await fakeCheckpoint(join(dir, 'e02'), 5000);
    assert.equal(await latestCheckpoint(join(dir, 'e{epoch:02d}')), join(dir, 'e03'));
  });

  it('never returns temporaries, plain files or directories that are not checkpoints', async () => {
    const dir = await tempDir();
    await fakeCheckpoint(join(dir, 'e01'), 1000);
    await fakeCheckpoint(join(dir, '.e02.tmp-123-abcd'), 9000);
    await mkdir(join(dir, 'e03'));
    await writeFile(join(dir, 'e04'), 'not a checkpoint');
    // Committed means a valid checkpoint.json: a stock folder (weights.json only) or a damaged marker is not found.
    await mkdir(join(dir, 'e05'));
    await writeFile(join(dir, 'e05', 'weights.json'), '{}');
    await fakeCheckpoint(join(dir, 'e06'), 9500);
    await writeFile(join(dir, 'e06', 'checkpoint.json'), '{"format":');
    assert.equal(await latestCheckpoint(join(dir, 'e{epoch:02d}')), join(dir, 'e01'));
  });

  it('fields may appear in directory names', async () => {
    const dir = await tempDir();
    await fakeCheckpoint(join(dir, 'run1', 'e01'), 1000);
    await fakeCheckpoint(join(dir, 'run2', 'e01'), 2000);
    await fakeCheckpoint(join(dir, 'run2', 'e02'), 1500);
    assert.equal(await latestCheckpoint(join(dir, 'run{run}', 'e{epoch:02d}')), join(dir, 'run2', 'e01'));
  });

  it('each field matches only what its spec can produce', async () => {
    const dir = await tempDir();
    await fakeCheckpoint(join(dir, 'w.01-0.25'), 1000);
    await fakeCheckpoint(join(dir, 'w.1-0.25'), 2000);
    await fakeCheckpoint(join(dir, 'w.01-0.250'), 3000);
    assert.equal(await latestCheckpoint(join(dir, 'w.{epoch:02d}-{val_loss:.2f}')), join(dir, 'w.01-0.25'));
  });
});
