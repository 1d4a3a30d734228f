/**
 * Errors while saving (issue: durable checkpoints §4): a full disk, a permission error or an I/O
 * error surfaces with the path and the cause (or is logged with onSaveError 'warn'); no partial
 * checkpoint becomes visible; earlier checkpoints are untouched; temporaries are removed.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CheckpointError, CheckpointManager, modelCheckpoint, verify } from '../src/index.js';
import { faultyFs, inCheckpoint, type FaultPlan } from './fault_fs.js';
import { captureLogger, smallClassifier, tempDir, toyData } from './helpers.js';

async function entries(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}

/** Each fault, optionally only at one file of the checkpoint. */
const plans: [string, Omit<FaultPlan, 'match'> & { file?: string }][] = [
  ['a full disk while writing the weights', { at: 'write', code: 'ENOSPC' }],
  ['an I/O error on fsync', { at: 'sync', code: 'EIO' }],
  ['a permission error creating the temporary directory', { at: 'mkdir', code: 'EACCES' }],
  ['a read-only file system at the commit rename', { at: 'rename', code: 'EROFS' }],
  ['a full disk writing checkpoint.json (the last file)', { at: 'write', code: 'ENOSPC', file: 'checkpoint.json' }],
  ['an I/O error on the fsync of checkpoint.json', { at: 'sync', code: 'EIO', file: 'checkpoint.json' }],
];

describe('save errors', () => {
  for (const [what, plan] of plans) {
    for (const asyncSave of [true, false]) {
      it(`${what} (${asyncSave ? 'async' : 'sync'}): raise rejects fit naming the path and cause; e01 stays intact; no temporaries`, async () => {
        const dir = await tempDir();
        const inE02 = inCheckpoint('e02');
        const fs = faultyFs({ ...plan, match: (p) => inE02(p) && (plan.file === undefined || p.endsWith(`/${plan.file}`)) });
        const model = smallClassifier();
        const { x, y } = toyData(8);
        const cb = modelCheckpoint({ filepath: join(dir, 'e{epoch:02d}'), fs, asyncSave });
        await assert.rejects(model.fit(x, y, { epochs: 3, verbose: 0, callbacks: [cb] }), (e: unknown) => {
          return e instanceof CheckpointError && e.code === 'IO_ERROR' && e.message.includes(join(dir, 'e02')) && e.message.includes(plan.code) && /untouched/.test(e.message);
        });
        assert.equal(fs.triggered, 1);
        assert.deepEqual(await entries(dir), ['e01']);
        await verify(join(dir, 'e01'));
      });
    }
  }

  it("onSaveError 'warn': the failed save is logged, training goes on, later saves land", async () => {
    const dir = await tempDir();
    const fs = faultyFs({ at: 'write', code: 'ENOSPC', match: inCheckpoint('e02') });
    const logger = captureLogger();
    const model = smallClassifier();
    const { x, y } = toyData(8);
    const history = await model.fit(x, y, { epochs: 3, verbose: 0, callbacks: [modelCheckpoint({ filepath: join(dir, 'e{epoch:02d}'), fs, onSaveError: 'warn', logger })] });
    assert.equal(history.epoch.length, 3);
    assert.deepEqual(await entries(dir), ['e01', 'e03']);
    assert.equal(logger.warnings.length, 1);
    assert.match(logger.warnings[0]!, /Checkpoint save failed and was skipped.*e02.*ENOSPC.*disk is full/);
  });

  it('a failed replacement of a fixed-path checkpoint puts the old one back', async () => {
    const dir = await tempDir();
    const path = join(dir, 'best');
    const manager = new CheckpointManager({ filepath: path, asyncSave: false });
    const model = smallClassifier();
    await manager.save(1, model, { epoch: 1 });
    const before = (await verify(path)).metadata!.createdAt;
    // Call 0 (temporary → best) fails for real (the target exists); call 1 is the second rename of the swap.
    const fs = faultyFs({ at: 'rename', code: 'EIO', nth: 1, match: (p) => p === path });
    const failing = new CheckpointManager({ filepath: path, asyncSave: false, fs });
    await assert.rejects(failing.save(2, model, { epoch: 2 }), (e: unknown) => e instanceof CheckpointError && e.code === 'IO_ERROR');
    assert.equal(fs.triggered, 1);
    assert.equal((await verify(path)).metadata!.createdAt, before);
    assert.deepEqual(await entries(dir), ['best']);
  });

  it('a real full disk (a 1 MiB tmpfs): the save fails cleanly and earlier checkpoints verify', async (t) => {
    const mountPoint = await tempDir('tfjs-ckpt-tmpfs-');
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mountPoint], { stdio: 'ignore' });
    } catch {
      t.skip('cannot mount a tmpfs here (needs root); the injected-fault tests above cover ENOSPC');
      return;
    }
    try {
      const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [100], units: 1000, kernelInitializer: 'zeros' })] });
      const manager = new CheckpointManager({ directory: join(mountPoint, 'run'), saveWeightsOnly: true, asyncSave: false });
      await mkdir(join(mountPoint, 'run'));
      let failure: unknown;
      const saved: string[] = [];
      for (let step = 1; step <= 4 && failure === undefined; step++) {
        // New values each step (as training gives): unchanged weights would be reused, not written again.
        model.layers[0]!.setWeights(model.layers[0]!.getWeights().map((w) => tf.fill(w.shape, step)));
        try {
          saved.push(await manager.save(step, model));
        } catch (e) {
          failure = e;
        }
      }
      assert.ok(failure instanceof CheckpointError && failure.code === 'IO_ERROR' && /ENOSPC|disk is full/.test(failure.message), String(failure));
      assert.ok(saved.length >= 1);
      const listed = await manager.list();
      assert.deepEqual(listed.map((r) => r.path), saved);
      for (const path of saved) await verify(path);
      assert.ok((await readdir(join(mountPoint, 'run'))).every((n) => !n.includes('.tmp-')));
    } finally {
      try {
        execFileSync('umount', [mountPoint], { stdio: 'ignore' });
      } catch {
        execFileSync('umount', ['-l', mountPoint], { stdio: 'ignore' });
      }
    }
  });
});
