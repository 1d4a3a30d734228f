/** Retention policies (pure) and their application after each commit (manager and callback). */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CheckpointManager, modelCheckpoint } from '../src/index.js';
import { compileRetention, selectForDeletion as selectByPolicy, type RetentionCandidate, type RetentionOptions } from '../src/policy/retention.js';
import type { Direction } from '../src/policy/monitor.js';
import { smallClassifier, tempDir } from './helpers.js';

/** The legacy options, compiled the way the manager compiles them. */
const selectForDeletion = (candidates: RetentionCandidate[], options: RetentionOptions, direction: Direction, protectedIds: Set<string>) =>
  selectByPolicy(candidates, compileRetention(options, 'val_loss'), direction, protectedIds);
const cand = (id: string, order: number, value: number | null, epoch: number | null = order, time = order * 1000): RetentionCandidate => ({ id, order, value, epoch, time });

describe('retention policies (pure)', () => {
  const all = [cand('a', 1, 0.5), cand('b', 2, 0.3), cand('c', 3, 0.4), cand('d', 4, 0.2), cand('e', 5, 0.6)];

  it('no policy deletes nothing (Keras keeps every checkpoint)', () => {
    assert.deepEqual(selectForDeletion(all, {}, 'min', new Set()), []);
  });

  it('saveTopK keeps the k best by direction', () => {
    assert.deepEqual(selectForDeletion(all, { saveTopK: 2 }, 'min', new Set()).sort(), ['a', 'c', 'e']);
    assert.deepEqual(selectForDeletion(all, { saveTopK: 2 }, 'max', new Set()).sort(), ['b', 'c', 'd']);
  });

  it('keepLast keeps the newest n', () => {
    assert.deepEqual(selectForDeletion(all, { keepLast: 2 }, 'min', new Set()).sort(), ['a', 'b', 'c']);
  });

  it('policies compose as a union: 2 best and the last 1', () => {
    assert.deepEqual(selectForDeletion(all, { saveTopK: 2, keepLast: 1 }, 'min', new Set()).sort(), ['a', 'c']);
  });

  it('keepEveryNEpochs keeps multiples of n', () => {
    assert.deepEqual(selectForDeletion(all, { keepLast: 1, keepEveryNEpochs: 2 }, 'min', new Set()).sort(), ['a', 'c']);
  });

  it('keepEveryNSeconds keeps the first of each interval', () => {
    const timed = [cand('a', 1, null, 1, 0), cand('b', 2, null, 2, 30_000), cand('c', 3, null, 3, 61_000), cand('d', 4, null, 4, 90_000), cand('e', 5, null, 5, 130_000)];
    assert.deepEqual(selectForDeletion(timed, { keepEveryNSeconds: 60 }, 'min', new Set()).sort(), ['b', 'd']);
  });

  it('protected ids are never deleted; NaN and missing values are never in the top k', () => {
    const withNaN = [cand('a', 1, NaN), cand('b', 2, null), cand('c', 3, 0.1)];
    assert.deepEqual(selectForDeletion(withNaN, { saveTopK: 1 }, 'min', new Set(['a'])), ['b']);
  });
});

async function names(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => !n.startsWith('.')).sort();
}

describe('retention on disk', () => {
  const model = () => smallClassifier(3);

  it('manager: keepLast 2 plus the best; deletion only after the new checkpoint is committed; pointers follow', async () => {
    const dir = await tempDir();
    const manager = new CheckpointManager({ directory: dir, monitor: 'val_loss', keepLast: 2, asyncSave: false });
    const m = model();
    const losses = [0.5, 0.2, 0.4, 0.6, 0.7];
    for (const [i, loss] of losses.entries()) await manager.save(i + 1, m, { epoch: i + 1, metrics: { val_loss: loss } });
    assert.deepEqual(await names(dir), ['best', 'ckpt-00000002', 'ckpt-00000004', 'ckpt-00000005', 'latest']);
    const latest = JSON.parse(await readFile(join(dir, 'latest'), 'utf8'));
    const best = JSON.parse(await readFile(join(dir, 'best'), 'utf8'));
    assert.equal(latest.path, 'ckpt-00000005');
    assert.equal(best.path, 'ckpt-00000002');
    assert.equal((await manager.best())!.metadata.step, 2);
    assert.equal((await manager.latest())!.metadata.step, 5);
  });

  it('callback saveTopK 2 (max): keeps the two best and the newest', async () => {
    const dir = await tempDir();
    const cb = modelCheckpoint({ filepath: join(dir, 'e{epoch}'), monitor: 'val_acc', saveTopK: 2 });
    cb.setModel(model());
    await cb.onTrainBegin({});
    for (const [e, acc] of [0.5, 0.9, 0.6, 0.8, 0.7].entries()) {
      await cb.onEpochBegin(e, {});
      await cb.onEpochEnd(e, { val_acc: acc });
    }
    await cb.onTrainEnd({});
    assert.deepEqual(await names(dir), ['e2', 'e4', 'e5']);
  });

  it('never deletes the checkpoint the run resumed from, nor files and folders that are not its checkpoints', async () => {
    const dir = await tempDir();
    const m = model();
    const first = new CheckpointManager({ directory: dir, asyncSave: false });
    await first.save(1, m);
    // Things that are not ours: a folder that matches the template but is no checkpoint, a stray file,
    // another template's checkpoint, and a stock tfjs model directory matching the template.
    await mkdir(join(dir, 'ckpt-00000099'));
    await writeFile(join(dir, 'ckpt-00000099', 'notes.txt'), 'mine');
    await writeFile(join(dir, 'ckpt-00000098'), 'a file');
    await new CheckpointManager({ directory: join(dir, 'other'), asyncSave: false }).save(1, m);
    await m.save(`file://${join(dir, 'ckpt-00000097')}`);
    const { rm } = await import('node:fs/promises');
    await rm(join(dir, 'ckpt-00000097', 'checkpoint.json'));
    const resumed = new CheckpointManager({ directory: dir, keepLast: 1, asyncSave: false, protect: join(dir, 'ckpt-00000001') });
    for (let step = 2; step <= 4; step++) await resumed.save(step, m);
    assert.deepEqual(await names(dir), ['ckpt-00000001', 'ckpt-00000004', 'ckpt-00000097', 'ckpt-00000098', 'ckpt-00000099', 'latest', 'other']);
    assert.deepEqual(await readdir(join(dir, 'ckpt-00000099')), ['notes.txt']);
  });

  it('ModelCheckpoint protects the newest checkpoint found at the start of training (the resume point)', async () => {
    const dir = await tempDir();
    const m = model();
    const run1 = modelCheckpoint({ filepath: join(dir, 'e{epoch}'), keepLast: 1 });
    run1.setModel(m);
    await run1.onTrainBegin({});
    for (const e of [0, 1]) {
      await run1.onEpochBegin(e, {});
      await run1.onEpochEnd(e, {});
    }
    await run1.onTrainEnd({});
    assert.deepEqual(await names(dir), ['e2']);
    const run2 = modelCheckpoint({ filepath: join(dir, 'e{epoch}'), keepLast: 1 });
    run2.setModel(m);
    await run2.onTrainBegin({});
    for (const e of [2, 3]) {
      await run2.onEpochBegin(e, {});
      await run2.onEpochEnd(e, {});
    }
    await run2.onTrainEnd({});
    assert.deepEqual(await names(dir), ['e2', 'e4']);
  });

  it('manager.delete removes its own checkpoints only', async () => {
    const dir = await tempDir();
    const manager = new CheckpointManager({ directory: dir, asyncSave: false });
    await manager.save(1, smallClassifier());
    await manager.save(2, smallClassifier());
    await mkdir(join(dir, 'mine'));
    await assert.rejects(manager.delete(join(dir, 'mine')), /not a checkpoint of/);
    await manager.delete(1);
    await manager.clearPointers();
    assert.deepEqual(await names(dir), ['ckpt-00000002', 'mine']);
  });

  it('version suffix: a templated name that exists is not overwritten; a fixed path is replaced', async () => {
    const dir = await tempDir();
    const m = model();
    const templated = new CheckpointManager({ filepath: join(dir, 'e{epoch}'), asyncSave: false });
    assert.equal(await templated.save(1, m, { epoch: 1 }), join(dir, 'e1'));
    assert.equal(await templated.save(2, m, { epoch: 1 }), join(dir, 'e1-v1'));
    assert.equal(await templated.save(3, m, { epoch: 1 }), join(dir, 'e1-v2'));
    assert.deepEqual((await templated.list()).map((r) => r.metadata.step), [1, 2, 3]);
    const fixed = new CheckpointManager({ filepath: join(dir, 'fixed'), asyncSave: false });
    await fixed.save(1, m);
    await fixed.save(2, m);
    assert.deepEqual((await fixed.list()).map((r) => r.metadata.step), [2]);
    const overwrite = new CheckpointManager({ filepath: join(dir, 'o{epoch}'), asyncSave: false, versionOnClash: false });
    await overwrite.save(1, m, { epoch: 1 });
    await overwrite.save(2, m, { epoch: 1 });
    assert.deepEqual((await overwrite.list()).map((r) => r.metadata.step), [2]);
  });

  it('manager restore: latest, best, by step, into a model (with optimizer state) and as tensors', async () => {
    const dir = await tempDir();
    const m = model();
    const manager = new CheckpointManager({ directory: dir, monitor: 'loss', asyncSave: false });
    await manager.save(1, m, { metrics: { loss: 0.2 } });
    const w1 = m.getWeights().map((t) => t.clone());
    m.setWeights(m.getWeights().map((t) => t.add(1)));
    await manager.save(2, m, { metrics: { loss: 0.9 } });
    const target = model();
    await manager.restore('best', target);
    assert.equal(tf.tidy(() => tf.addN(target.getWeights().map((t, i) => t.sub(w1[i]!).abs().sum())).dataSync()[0]), 0);
    const restored = (await manager.restore(2)) as tf.LayersModel;
    assert.equal(typeof restored.predict, 'function');
    assert.equal((await manager.verify()).length, 2);
    const tensors = await new CheckpointManager({ directory: join(dir, 'named'), asyncSave: false }).save(7, { a: tf.tensor([1, 2, 3]), b: tf.scalar(5, 'int32') });
    assert.ok(tensors.endsWith('ckpt-00000007'));
    const back = (await new CheckpointManager({ directory: join(dir, 'named') }).restore('latest')) as tf.NamedTensorMap;
    assert.deepEqual(Array.from(back['a']!.dataSync()), [1, 2, 3]);
    assert.equal(back['b']!.dtype, 'int32');
  });
});

describe('temporaries and timed saves', () => {
  it("the next writer removes crashed writers' temporaries of its own checkpoints, and nothing else", async () => {
    const dir = await tempDir();
    const deadPid = 2 ** 22 + 12345; // above pid_max's default: no such process
    await mkdir(join(dir, `.e1.tmp-${deadPid}-abcd1234`));
    await mkdir(join(dir, `.e7.old-${deadPid}-abcd1234`));
    await writeFile(join(dir, `.e7.old-${deadPid}-abcd1234`, 'checkpoint.json'), '{}');
    await mkdir(join(dir, `.other.tmp-${deadPid}-abcd1234`));
    await mkdir(join(dir, `.e2.tmp-${process.ppid}-abcd1234`)); // a live writer's
    const manager = new CheckpointManager({ filepath: join(dir, 'e{epoch}'), asyncSave: false });
    assert.deepEqual((await manager.list()).map((r) => r.path), []);
    await manager.save(1, smallClassifier(), { epoch: 1 });
    const all = (await readdir(dir)).sort();
    // e7 was being replaced when its writer crashed: it is renamed back rather than lost.
    assert.deepEqual(all, [`.e2.tmp-${process.ppid}-abcd1234`, `.other.tmp-${deadPid}-abcd1234`, 'e1', 'e7']);
  });

  it('saveEveryNSeconds triggers batch-level saves; pointers name the newest and the best', async () => {
    const dir = await tempDir();
    const model = smallClassifier();
    const x = tf.ones([8, 4]);
    const y = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1], 'int32'), 3).toFloat();
    const cb = modelCheckpoint({
      filepath: join(dir, 'e{epoch}b{batch}'),
      saveFreq: 1000,
      saveEveryNSeconds: 1e-9,
      monitor: 'loss',
      latestPointer: join(dir, 'LATEST'),
      bestPointer: join(dir, 'BEST'),
    });
    await model.fit(x, y, { epochs: 1, batchSize: 4, verbose: 0, callbacks: [cb] });
    assert.deepEqual(await names(dir), ['BEST', 'LATEST', 'e1b1', 'e1b2']);
    assert.equal(JSON.parse(await readFile(join(dir, 'LATEST'), 'utf8')).path, 'e1b2');
    const best = (await cb.manager.best())!;
    assert.equal(JSON.parse(await readFile(join(dir, 'BEST'), 'utf8')).path, best.path.split('/').pop());
  });
});
