/** Keep policies: each alone, combined, described, validated; the legacy options compiled into them; on disk. */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  CheckpointError,
  CheckpointManager,
  keepAll,
  keepAny,
  keepBest,
  keepEveryNEpochs,
  keepEveryNSeconds,
  keepLast,
  modelCheckpoint,
  type KeepPolicy,
  type RetentionCandidate,
  type RetentionOptions,
} from '../src/index.js';
import { isImprovement, type Direction } from '../src/policy/monitor.js';
import { compileRetention, selectForDeletion } from '../src/policy/retention.js';
import { seededRandom, smallClassifier, tempDir } from './helpers.js';

const cand = (id: string, order: number, value: number | null, epoch: number | null = order, time = order * 1000): RetentionCandidate => ({ id, order, value, epoch, time });
const kept = (policy: KeepPolicy, candidates: RetentionCandidate[], direction: Direction = 'min') => [...policy.keep(candidates, { direction })].sort();
const invalid = (message: RegExp) => (e: unknown) => e instanceof CheckpointError && e.code === 'INVALID_ARGUMENT' && message.test(e.message);

/** Today's algorithm before the policies (verbatim), kept as the oracle for the compiled options. */
function oracleSelectForDeletion(candidates: readonly RetentionCandidate[], options: RetentionOptions, direction: Direction, protectedIds: ReadonlySet<string>): string[] {
  const hasRetention = options.saveTopK !== undefined || options.keepLast !== undefined || options.keepEveryNEpochs !== undefined || options.keepEveryNSeconds !== undefined;
  if (!hasRetention || candidates.length === 0) return [];
  const topK = (k: number) => {
    const scored = candidates.filter((c) => c.value !== null && !Number.isNaN(c.value));
    scored.sort((a, b) => (a.value === b.value ? b.order - a.order : isImprovement(direction, a.value!, b.value!) ? -1 : 1));
    return scored.slice(0, k);
  };
  const keep = new Set<string>(protectedIds);
  const byOrder = [...candidates].sort((a, b) => a.order - b.order);
  if (options.saveTopK !== undefined) for (const c of topK(options.saveTopK)) keep.add(c.id);
  if (options.keepLast !== undefined) for (const c of byOrder.slice(Math.max(0, byOrder.length - options.keepLast))) keep.add(c.id);
  if (options.keepEveryNEpochs !== undefined) {
    for (const c of candidates) if (c.epoch !== null && c.epoch % options.keepEveryNEpochs === 0) keep.add(c.id);
  }
  if (options.keepEveryNSeconds !== undefined) {
    const origin = Math.min(...candidates.map((c) => c.time));
    const seen = new Set<number>();
    for (const c of [...candidates].sort((a, b) => a.time - b.time || a.order - b.order)) {
      const window = Math.floor((c.time - origin) / (options.keepEveryNSeconds * 1000));
      if (!seen.has(window)) {
        seen.add(window);
        keep.add(c.id);
      }
    }
  }
  return candidates.filter((c) => !keep.has(c.id)).map((c) => c.id);
}

describe('keep policies (pure)', () => {
  const all = [cand('a', 1, 0.5), cand('b', 2, 0.3), cand('c', 3, 0.4), cand('d', 4, 0.2), cand('e', 5, 0.6)];

  it('keepLast(n) keeps the n newest by order, whatever order they come in', () => {
    assert.deepEqual(kept(keepLast(2), all), ['d', 'e']);
    assert.deepEqual(kept(keepLast(2), [...all].reverse()), ['d', 'e']);
    assert.deepEqual(kept(keepLast(9), all), ['a', 'b', 'c', 'd', 'e']);
    assert.deepEqual(kept(keepLast(1), []), []);
  });

  it('keepBest(k) ranks by direction; NaN and missing values are never ranked; ties go to the newest', () => {
    assert.deepEqual(kept(keepBest(2), all, 'min'), ['b', 'd']);
    assert.deepEqual(kept(keepBest(2), all, 'max'), ['a', 'e']);
    const odd = [cand('a', 1, NaN), cand('b', 2, null), cand('c', 3, 0.1), cand('d', 4, 0.1), cand('e', 5, 0.3)];
    assert.deepEqual(kept(keepBest(1), odd), ['d']);
    assert.deepEqual(kept(keepBest(5), odd), ['c', 'd', 'e']);
    assert.equal(keepBest(1).needsMonitor, true);
    assert.equal(keepLast(1).needsMonitor, false);
  });

  it('keepEveryNEpochs(n) keeps multiples of n; an unknown epoch is not kept', () => {
    const withNull = [...all, cand('f', 6, null, null)];
    assert.deepEqual(kept(keepEveryNEpochs(2), withNull), ['b', 'd']);
    assert.deepEqual(kept(keepEveryNEpochs(1), withNull), ['a', 'b', 'c', 'd', 'e']);
  });

  it('keepEveryNSeconds(s) keeps the first of each interval, counted from the oldest', () => {
    const timed = [cand('a', 1, null, 1, 5_000), cand('b', 2, null, 2, 35_000), cand('c', 3, null, 3, 66_000), cand('d', 4, null, 4, 95_000), cand('e', 5, null, 5, 135_000)];
    assert.deepEqual(kept(keepEveryNSeconds(60), timed), ['a', 'c', 'e']);
    assert.deepEqual(kept(keepEveryNSeconds(3600), timed), ['a']);
    // Equal times: the older by order wins.
    assert.deepEqual(kept(keepEveryNSeconds(60), [cand('y', 2, null, 2, 0), cand('x', 1, null, 1, 0)]), ['x']);
    assert.deepEqual(kept(keepEveryNSeconds(60), []), []);
  });

  it('keepAll keeps everything', () => {
    assert.deepEqual(kept(keepAll(), all), ['a', 'b', 'c', 'd', 'e']);
  });

  it('keepAny is the union; nested combinations work; a custom policy is welcome', () => {
    assert.deepEqual(kept(keepAny(keepLast(1), keepBest(2)), all), ['b', 'd', 'e']);
    assert.deepEqual(kept(keepAny(keepAny(keepLast(1)), keepEveryNEpochs(3)), all), ['c', 'e']);
    const firstOnly: KeepPolicy = { keep: (c) => new Set(c.filter((x) => x.order === 1).map((x) => x.id)), describe: () => 'firstOnly()' };
    assert.deepEqual(kept(keepAny(firstOnly, keepLast(1)), all), ['a', 'e']);
    assert.equal(keepAny(keepLast(1), keepBest(1)).needsMonitor, true);
    assert.equal(keepAny(keepLast(1), firstOnly).needsMonitor, false);
  });

  it('describe() and toString() say how a policy was built', () => {
    const policy = keepAny(keepLast(3), keepBest(2), keepEveryNSeconds(3600), keepEveryNEpochs(10));
    assert.equal(policy.describe(), 'keepAny(keepLast(3), keepBest(2), keepEveryNSeconds(3600), keepEveryNEpochs(10))');
    assert.equal(String(policy), policy.describe());
    assert.equal(`${keepAll()}`, 'keepAll()');
    assert.equal(keepEveryNSeconds(0.5).describe(), 'keepEveryNSeconds(0.5)');
    assert.ok(Object.isFrozen(policy));
  });

  it('each factory rejects a bad argument with a clear INVALID_ARGUMENT', () => {
    for (const [make, name] of [
      [keepLast, 'keepLast'],
      [keepBest, 'keepBest'],
      [keepEveryNEpochs, 'keepEveryNEpochs'],
    ] as const) {
      for (const bad of [0, -1, 1.5, NaN, Infinity, '3' as unknown as number, undefined as unknown as number]) {
        assert.throws(() => make(bad), invalid(new RegExp(`^\`${name}\` must be a positive integer; got `)), `${name}(${String(bad)})`);
      }
    }
    assert.throws(() => keepLast(0), { message: '`keepLast` must be a positive integer; got 0.' });
    for (const bad of [0, -1, NaN, Infinity, '60' as unknown as number]) {
      assert.throws(() => keepEveryNSeconds(bad), invalid(/^`keepEveryNSeconds` must be a positive number; got /));
    }
    assert.throws(() => keepAny(), invalid(/`keepAny` needs at least one policy/));
    assert.throws(() => keepAny(keepLast(1), 3 as unknown as KeepPolicy), invalid(/`keepAny`: argument 2 is not a keep policy/));
    assert.throws(() => keepAny(null as unknown as KeepPolicy), invalid(/argument 1 is not a keep policy .*got null/));
  });
});

describe('the retention options, compiled', () => {
  it('compile to the matching policies, in one fixed order, with `keep` last', () => {
    assert.equal(compileRetention({}, undefined), undefined);
    assert.equal(compileRetention({ keepLast: 2 }, undefined)!.describe(), 'keepLast(2)');
    assert.equal(
      compileRetention({ keepEveryNSeconds: 60, keepEveryNEpochs: 5, keepLast: 2, saveTopK: 3 }, 'loss')!.describe(),
      'keepAny(keepBest(3), keepLast(2), keepEveryNEpochs(5), keepEveryNSeconds(60))',
    );
    assert.equal(compileRetention({ keepLast: 1, keep: keepAny(keepBest(2), keepEveryNSeconds(3600)) }, 'loss')!.describe(), 'keepAny(keepLast(1), keepAny(keepBest(2), keepEveryNSeconds(3600)))');
    const alone = keepEveryNEpochs(3);
    assert.equal(compileRetention({ keep: alone }, undefined), alone);
  });

  it('validate as before, and need a monitor for anything that ranks by value', () => {
    assert.throws(() => compileRetention({ keepLast: 0 }, 'loss'), { message: '`keepLast` must be a positive integer; got 0.' });
    assert.throws(() => compileRetention({ keepEveryNSeconds: -1 }, 'loss'), { message: '`keepEveryNSeconds` must be a positive number; got -1.' });
    assert.throws(() => compileRetention({ keep: 3 as unknown as KeepPolicy }, 'loss'), invalid(/^`keep` must be a keep policy such as keepAny\(keepLast\(3\), keepBest\(2\)\).*got 3\.$/));
    assert.throws(() => compileRetention({ keep: {} as KeepPolicy }, 'loss'), invalid(/got a object/));
    assert.throws(() => compileRetention({ saveTopK: 2 }, undefined), { message: '`saveTopK` ranks checkpoints by `monitor`: give a monitor (e.g. "val_loss").' });
    assert.throws(() => compileRetention({ keep: keepAny(keepLast(3), keepBest(2)) }, undefined), {
      message: '`keep: keepAny(keepLast(3), keepBest(2))` ranks checkpoints by `monitor`: give a monitor (e.g. "val_loss").',
    });
    assert.ok(compileRetention({ keep: keepAny(keepLast(3), keepBest(2)) }, 'val_loss'));
  });

  it('delete exactly what the old algorithm deleted (seeded random candidate sets)', () => {
    const random = seededRandom(20240508);
    const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    let nonTrivial = 0;
    for (let round = 0; round < 3000; round++) {
      const n = int(0, 14);
      const orders = Array.from({ length: n }, (_, i) => i * int(1, 3) + int(0, 1) * 1000).sort(() => random() - 0.5);
      const uniqueOrders = [...new Set(orders)];
      const candidates: RetentionCandidate[] = uniqueOrders.map((order, i) => ({
        id: `c${i}`,
        order,
        epoch: random() < 0.2 ? null : int(1, 12),
        time: random() < 0.3 ? pick([0, 1000, 60_000, 3_600_000]) : int(0, 4 * 3_600_000),
        value: random() < 0.15 ? null : random() < 0.1 ? NaN : random() < 0.3 ? pick([0.1, 0.5, 1, -Infinity, Infinity]) : random() * 2 - 1,
      }));
      const options: RetentionOptions = {};
      if (random() < 0.5) options.saveTopK = int(1, 5);
      if (random() < 0.5) options.keepLast = int(1, 5);
      if (random() < 0.4) options.keepEveryNEpochs = int(1, 4);
      if (random() < 0.4) options.keepEveryNSeconds = pick([0.001, 0.5, 7.5, 60, 1800, 3600]);
      const direction: Direction = random() < 0.5 ? 'min' : 'max';
      const protectedIds = new Set(candidates.filter(() => random() < 0.1).map((c) => c.id));
      const expected = oracleSelectForDeletion(candidates, options, direction, protectedIds);
      if (expected.length > 0) nonTrivial++;
      const label = JSON.stringify({ round, options, direction });
      assert.deepEqual(selectForDeletion(candidates, compileRetention(options, 'm'), direction, protectedIds), expected, label);
      // The same, with some flags moved into `keep` as factories: the result must not change.
      const moved: RetentionOptions = { ...options };
      const factories: KeepPolicy[] = [];
      if (moved.saveTopK !== undefined && random() < 0.5) (factories.push(keepBest(moved.saveTopK)), delete moved.saveTopK);
      if (moved.keepLast !== undefined && random() < 0.5) (factories.push(keepLast(moved.keepLast)), delete moved.keepLast);
      if (moved.keepEveryNEpochs !== undefined && random() < 0.5) (factories.push(keepEveryNEpochs(moved.keepEveryNEpochs)), delete moved.keepEveryNEpochs);
      if (moved.keepEveryNSeconds !== undefined && random() < 0.5) (factories.push(keepEveryNSeconds(moved.keepEveryNSeconds)), delete moved.keepEveryNSeconds);
      if (factories.length > 0) moved.keep = keepAny(...factories);
      assert.deepEqual(selectForDeletion(candidates, compileRetention(moved, 'm'), direction, protectedIds), expected, `${label} as ${compileRetention(moved, 'm')?.describe()}`);
    }
    assert.ok(nonTrivial > 1000, `${nonTrivial} rounds deleted something`);
  });

  it('with no policy nothing is deleted; protected ids never are', () => {
    const all = [cand('a', 1, 0.5), cand('b', 2, 0.3), cand('c', 3, 0.4)];
    assert.deepEqual(selectForDeletion(all, undefined, 'min', new Set()), []);
    assert.deepEqual(selectForDeletion(all, keepLast(1), 'min', new Set(['a'])), ['b']);
    assert.deepEqual(selectForDeletion(all, keepAll(), 'min', new Set()), []);
  });
});

async function names(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => !n.startsWith('.')).sort();
}

describe('keep policies on disk', () => {
  it('manager with keep: keepAny(keepLast(2), keepBest(1)) keeps the last two and the best', async () => {
    const dir = await tempDir();
    const manager = new CheckpointManager({ directory: dir, monitor: 'val_loss', keep: keepAny(keepLast(2), keepBest(1)), asyncSave: false });
    assert.equal(manager.retention?.describe(), 'keepAny(keepLast(2), keepBest(1))');
    const m = smallClassifier(3);
    const losses = [0.5, 0.2, 0.4, 0.6, 0.7, 0.3];
    for (const [i, loss] of losses.entries()) await manager.save(i + 1, m, { epoch: i + 1, metrics: { val_loss: loss } });
    assert.deepEqual(await names(dir), ['best', 'ckpt-00000002', 'ckpt-00000005', 'ckpt-00000006', 'latest']);
    assert.equal((await manager.best())!.metadata.step, 2);
  });

  it('manager: keepBest(2) keeps more than the best alone; legacy flags and `keep` combine', async () => {
    const dir = await tempDir();
    const m = smallClassifier(3);
    const best2 = new CheckpointManager({ directory: join(dir, 'a'), monitor: 'val_loss', keep: keepBest(2), asyncSave: false });
    for (const [i, loss] of [0.5, 0.2, 0.4, 0.6, 0.7].entries()) await best2.save(i + 1, m, { epoch: i + 1, metrics: { val_loss: loss } });
    assert.deepEqual(await names(join(dir, 'a')), ['best', 'ckpt-00000002', 'ckpt-00000003', 'ckpt-00000005', 'latest']);
    const both = new CheckpointManager({ directory: join(dir, 'b'), keepLast: 1, keep: keepEveryNEpochs(2), pointers: false, asyncSave: false });
    assert.equal(both.retention?.describe(), 'keepAny(keepLast(1), keepEveryNEpochs(2))');
    for (let e = 1; e <= 5; e++) await both.save(e, m, { epoch: e });
    assert.deepEqual(await names(join(dir, 'b')), ['ckpt-00000002', 'ckpt-00000004', 'ckpt-00000005']);
  });

  it('manager: a bad `keep`, or keepBest without a monitor, throws at construction', () => {
    const dir = '/tmp/never-created';
    assert.throws(() => new CheckpointManager({ directory: dir, keep: 'last3' as unknown as KeepPolicy }), invalid(/`keep` must be a keep policy/));
    assert.throws(() => new CheckpointManager({ directory: dir, keep: keepAny(keepLast(2), keepBest(1)) }), invalid(/`keep: keepAny\(keepLast\(2\), keepBest\(1\)\)` ranks checkpoints by `monitor`/));
    assert.throws(() => new CheckpointManager({ directory: dir, saveTopK: 1 }), invalid(/`saveTopK` ranks checkpoints by `monitor`/));
  });

  it('modelCheckpoint forwards `keep` (ranked by its monitor) and rejects a bad one', async () => {
    const dir = await tempDir();
    const cb = modelCheckpoint({ filepath: join(dir, 'e{epoch}'), monitor: 'val_acc', keep: keepAny(keepLast(1), keepBest(2)) });
    assert.equal(cb.manager.retention?.describe(), 'keepAny(keepLast(1), keepBest(2))');
    cb.setModel(smallClassifier(3));
    await cb.onTrainBegin({});
    for (const [e, acc] of [0.5, 0.9, 0.6, 0.8, 0.7].entries()) {
      await cb.onEpochBegin(e, {});
      await cb.onEpochEnd(e, { val_acc: acc });
    }
    await cb.onTrainEnd({});
    assert.deepEqual(await names(dir), ['e2', 'e4', 'e5']);
    assert.throws(() => modelCheckpoint({ filepath: join(dir, 'x{epoch}'), keep: { keep: 1 } as unknown as KeepPolicy }), invalid(/`keep` must be a keep policy/));
    // The default monitor (val_loss) is enough for keepBest.
    assert.ok(modelCheckpoint({ filepath: join(dir, 'y{epoch}'), keep: keepBest(1) }).manager.retention);
  });
});
