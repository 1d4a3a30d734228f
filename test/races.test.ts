/**
 * Races that the kill and two-writer campaigns found, each reduced to a deterministic case: leftovers
 * of pointer replacements, a set-aside copy that could not be put back, several set-aside copies of
 * one checkpoint, and readers (verify, list) during a swap of a fixed path.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import * as fsp from 'node:fs/promises';
import { readdir, rename, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { describe, it } from 'node:test';
import { CheckpointManager, verify, type FsOps } from '../src/index.js';
import { deadPid, gate, tempDir } from './helpers.js';

function tensors(value: number): tf.NamedTensorMap {
  return { w: tf.fill([1024], value) };
}

/** The value a weights-only checkpoint of `tensors(value)` holds. */
async function valueAt(manager: CheckpointManager, path: string): Promise<number> {
  const loaded = (await manager.restore(path)) as tf.NamedTensorMap;
  const value = loaded['w']!.dataSync()[0]!;
  tf.dispose(loaded);
  return value;
}

const quiet = { warn: () => undefined };

describe('races found by the kill and two-writer campaigns', () => {
  it(
    'a pointer temporary left by a killed writer is removed by the next writer',
    async () => {
      const dir = await tempDir();
      const leftover = `.latest.tmp-${deadPid()}-1-deadbeef`;
      await writeFile(join(dir, leftover), '{"half": ');
      const manager = new CheckpointManager({ directory: dir, asyncSave: false });
      await manager.save(1, tensors(1));
      assert.ok(!(await readdir(dir)).includes(leftover), `${leftover} is still there`);
    },
  );

  it(
    'two writers replacing one fixed path: the one whose set-aside copy cannot be put back leaves no orphan copy',
    async () => {
      const dir = await tempDir();
      const path = join(dir, 'fixed');
      await new CheckpointManager({ filepath: path, asyncSave: false }).save(1, tensors(1));
      const hold = gate();
      const setAside = gate();
      const pausing: FsOps = {
        ...fsp,
        rename: (async (from: string, to: string) => {
          await fsp.rename(from, to);
          if (basename(to).startsWith('.fixed.old-')) {
            setAside.open();
            await hold.wait;
          }
        }) as FsOps['rename'],
      };
      const a = new CheckpointManager({ filepath: path, fs: pausing, asyncSave: false, logger: quiet });
      const b = new CheckpointManager({ filepath: path, asyncSave: false });
      const saving = a.save(2, tensors(2));
      await setAside.wait;
      await b.save(3, tensors(3));
      hold.open();
      await saving;
      assert.deepEqual(await readdir(dir), ['fixed']);
    },
  );

  it(
    'two set-aside copies of a missing fixed path: readers and repair take the newest checkpoint, not the largest token',
    async () => {
      const dir = await tempDir();
      const path = join(dir, 'fixed');
      const manager = new CheckpointManager({ filepath: path, asyncSave: false });
      await manager.save(1, tensors(1));
      // The orphan: an old copy whose token sorts last (pid 99999999 cannot exist).
      await rename(path, join(dir, '.fixed.old-99999999-1-ffffffff'));
      await manager.save(5, tensors(5));
      // A writer killed between the two renames of the next replacement: the newest copy set aside.
      await rename(path, join(dir, `.fixed.old-${deadPid()}-1-00000000`));
      assert.equal(await valueAt(manager, path), 5, 'a reader gets the newest checkpoint');
      await manager.recover();
      assert.equal(await valueAt(manager, path), 5, 'repair puts back the newest checkpoint');
    },
  );

  it(
    'a reader verifying a fixed path while another writer replaces it gets the old or the new checkpoint, never CORRUPT_CHECKPOINT',
    async () => {
      const dir = await tempDir();
      const path = join(dir, 'fixed');
      const writer = new CheckpointManager({ filepath: path, asyncSave: false });
      await writer.save(1, tensors(1));
      const hold = gate();
      const metadataRead = gate();
      const pausing: FsOps = {
        ...fsp,
        open: (async (file: string, flags?: string | number) => {
          if (basename(file) === 'weights.bin') {
            metadataRead.open();
            await hold.wait;
          }
          return fsp.open(file, flags);
        }) as FsOps['open'],
      };
      const reading = verify(path, { fs: pausing });
      await metadataRead.wait;
      await writer.save(2, tensors(2));
      hold.open();
      const verified = await reading;
      assert.ok([1, 2].includes(verified.metadata?.step ?? -1));
    },
  );

  it(
    'list() (and latestCheckpoint, which shares its scan) sees a fixed path caught mid-swap even when the swap finishes while it looks',
    async () => {
      const dir = await tempDir();
      const path = join(dir, 'fixed');
      await new CheckpointManager({ filepath: path, asyncSave: false }).save(1, tensors(1));
      const swapHold = gate();
      const setAside = gate();
      const writerFs: FsOps = {
        ...fsp,
        rename: (async (from: string, to: string) => {
          await fsp.rename(from, to);
          if (basename(to).startsWith('.fixed.old-')) {
            setAside.open();
            await swapHold.wait;
          }
        }) as FsOps['rename'],
      };
      const listHold = gate();
      const listed = gate();
      const readerFs: FsOps = {
        ...fsp,
        readdir: (async (...args: Parameters<typeof fsp.readdir>) => {
          const names = await fsp.readdir(...args);
          listed.open();
          await listHold.wait;
          return names;
        }) as FsOps['readdir'],
      };
      const saving = new CheckpointManager({ filepath: path, fs: writerFs, asyncSave: false }).save(2, tensors(2));
      await setAside.wait;
      const listing = new CheckpointManager({ filepath: path, fs: readerFs }).list();
      await listed.wait;
      swapHold.open();
      await saving;
      listHold.open();
      assert.deepEqual((await listing).map((r) => r.path), [path]);
    },
  );
});
