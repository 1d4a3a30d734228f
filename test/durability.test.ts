/**
 * Durability under power loss (issue 7, item 15). A SIGKILL keeps the page cache, so the kill test
 * cannot tell whether the fsyncs are there; this file can. Real saves run on a recording file system
 * (test/crash_fs.ts); then, for every point of the log where power could be lost, every state the
 * disk may be left in (ALICE's model: only fsync'd data and fsync'd directory entries are sure to
 * survive) is written out as a real directory and checked: what is listed verifies and loads the
 * weights saved at that step, completed saves survive, the best survives, pointers name visible
 * checkpoints, and the next run resumes from it. The protocol tests check the order of operations.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { accessSync, constants as fsConstants } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { after, describe, it } from 'node:test';
import { CheckpointManager, latestCheckpoint, loadWeights, modelCheckpoint, verify, type CheckpointManagerOptions, type ModelCheckpoint, type ModelCheckpointArgs } from '../src/index.js';
import { COMMIT_MARKER } from '../src/stores/fs.js';
import { isTemporaryName, TEMP_MARK } from '../src/stores/keys.js';
import { CrashRecorder, crashStates, readListing, ROOT, stateAfter, Tree, isDataOp, isEntryOp, materialize, type NodeId, type Op } from './crash_fs.js';
import { captureLogger, smallClassifier, toyData } from './helpers.js';

// ---------------------------------------------------------------------------------------------
// Scratch space: crash states are many small trees, so use memory (/dev/shm) when there is one.
// ---------------------------------------------------------------------------------------------

const SCRATCH = (() => {
  try {
    accessSync('/dev/shm', fsConstants.W_OK);
    return '/dev/shm';
  } catch {
    return tmpdir();
  }
})();
const scratchDirs: string[] = [];
after(() => Promise.all(scratchDirs.map((d) => rm(d, { recursive: true, force: true }))));

async function scratchDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(SCRATCH, `tfjs-ckpt-${prefix}-`));
  scratchDirs.push(dir);
  return dir;
}

// ---------------------------------------------------------------------------------------------
// Scenarios: real saves on a recorder, with what each save wrote and when it started and resolved.
// ---------------------------------------------------------------------------------------------

interface Save {
  step: number;
  /** The checkpoint's path relative to the recording root. */
  rel: string;
  value: number | null;
  weights: Float32Array[];
  /** Log indices of the markers put just before the save began and just after it was durable. */
  started: number;
  resolved: number;
}

/** The next run on a crashed state, after it repaired and read the state (before it saves). */
interface NextRun {
  best: number | null;
  listed: string[];
  saveNext(): Promise<string>;
}

interface Scenario {
  name: string;
  rec: CrashRecorder;
  saves: Save[];
  monitor?: string;
  /** Pointer files, relative to the root. */
  pointers: string[];
  /** A manager that reads the checkpoints of a state written under `root`. */
  reader(root: string): CheckpointManager;
  /** Starts the next run on a state under `root`: repair, recover the best, list. */
  resume(root: string, model: tf.LayersModel): Promise<NextRun>;
  /** A model of the scenario's architecture to load into (default: `smallClassifier`). */
  probe?(): tf.LayersModel;
}

function weightsOf(model: tf.LayersModel): Float32Array[] {
  return model.getWeights().map((w) => (w.dataSync() as Float32Array).slice());
}

function sameWeights(a: readonly Float32Array[], b: readonly Float32Array[]): boolean {
  const bytes = (x: Float32Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);
  return a.length === b.length && a.every((x, i) => bytes(x).equals(bytes(b[i]!)));
}

/** Gives each save distinct weights, so loading the wrong checkpoint cannot pass. */
function perturb(model: tf.LayersModel, step: number): void {
  const next = model.getWeights().map((w) => tf.tidy(() => w.add(tf.scalar(step / 64))));
  model.setWeights(next);
  for (const t of next) t.dispose();
}

/** Sets every weight to zero, so a load that silently loaded nothing cannot pass. */
function clearWeights(model: tf.LayersModel): void {
  const zeros = model.weights.map((w) => tf.zeros(w.shape as number[], w.dtype));
  model.setWeights(zeros);
  for (const t of zeros) t.dispose();
}

/** Creates a directory and fsyncs its parent, through the recorder (so it is part of the known, durable start). */
async function makeDurableDirectory(rec: CrashRecorder, rel: string): Promise<void> {
  await rec.fs.mkdir(join(rec.root, rel));
  const handle = await rec.fs.open(rec.root, fsConstants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Saves `losses.length` times with a manager on the recorder, marking when each save starts and resolves. */
async function recordManagerSaves(rec: CrashRecorder, manager: CheckpointManager, losses: readonly (number | null)[], monitor?: string): Promise<Save[]> {
  const model = smallClassifier(11);
  const saves: Save[] = [];
  for (const [i, value] of losses.entries()) {
    const step = i + 1;
    perturb(model, step);
    const started = rec.mark(`save ${step} starts`);
    const metrics = monitor && value !== null ? { [monitor]: value } : {};
    const path = await manager.save(step, model, { epoch: step, metrics });
    await manager.wait();
    const resolved = rec.mark(`save ${step} resolved`);
    saves.push({ step, rel: rec.rel(path)!, value, weights: weightsOf(model), started, resolved });
  }
  return saves;
}

/** A manager's next run: repair, read the best, list; then one more save with the best value yet. */
async function nextManagerRun(manager: CheckpointManager, model: tf.LayersModel, monitor?: string): Promise<NextRun> {
  await manager.recover();
  const best = monitor ? ((await manager.best())?.value ?? null) : null;
  const listed = (await manager.list()).map((r) => r.path);
  return {
    best,
    listed,
    saveNext: async () => {
      const path = await manager.save(1000, model, { epoch: 1000, metrics: monitor ? { [monitor]: -1 } : {} });
      await manager.wait();
      return path;
    },
  };
}

/**
 * The next run as a fresh modelCheckpoint with `options` sees it after onTrainBegin (its recovery): what
 * it lists and the best it resumed with (null when it has none); its next save is epoch 99's, with `logs`.
 */
async function nextCallbackRun(options: ModelCheckpointArgs, probe: tf.LayersModel, saved: string, logs: tf.Logs): Promise<NextRun> {
  const next = modelCheckpoint(options);
  next.setModel(probe);
  await next.onTrainBegin();
  return {
    best: Number.isFinite(next.best) ? next.best : null,
    listed: (await next.manager.list()).map((r) => r.path),
    saveNext: async () => {
      await next.onEpochEnd(98, logs);
      await next.onTrainEnd();
      return saved;
    },
  };
}

/** (i) A run directory with retention and pointers: saves 2 and 4 delete older checkpoints, both pointers move. */
async function managerScenario(): Promise<Scenario> {
  const rec = await CrashRecorder.create(await scratchDir('rec'));
  // Made durable up front: a run directory the manager creates itself is the 'fresh run directory' case.
  await makeDurableDirectory(rec, 'run');
  const options = (root: string): CheckpointManagerOptions => ({
    directory: join(root, 'run'),
    monitor: 'val_loss',
    saveTopK: 1,
    keepLast: 1,
    asyncSave: false,
  });
  const saves = await recordManagerSaves(rec, new CheckpointManager({ ...options(rec.root), fs: rec.fs }), [0.5, 0.4, 0.6, 0.3], 'val_loss');
  return {
    name: 'manager run (saveTopK 1, keepLast 1, pointers)',
    rec,
    saves,
    monitor: 'val_loss',
    pointers: ['run/latest', 'run/best'],
    reader: (root) => new CheckpointManager(options(root)),
    resume: (root, model) => nextManagerRun(new CheckpointManager(options(root)), model, 'val_loss'),
  };
}

/** (ii) A fixed path replaced by every save: the old checkpoint is renamed aside, the new one renamed in. */
async function fixedPathScenario(): Promise<Scenario> {
  const rec = await CrashRecorder.create(await scratchDir('rec'));
  const options = (root: string): CheckpointManagerOptions => ({ filepath: join(root, 'best'), saveWeightsOnly: true, asyncSave: true });
  const saves = await recordManagerSaves(rec, new CheckpointManager({ ...options(rec.root), fs: rec.fs }), [null, null, null]);
  return {
    name: 'fixed path replaced 3 times',
    rec,
    saves,
    pointers: [],
    reader: (root) => new CheckpointManager(options(root)),
    resume: (root, model) => nextManagerRun(new CheckpointManager(options(root)), model),
  };
}

/**
 * The callbacks around a checkpoint callback in `fit` that record its saves: callbacks run in order,
 * so `before` marks the epoch's end ahead of the checkpoint callback, and `after` waits until the save
 * is durable (flush) and records it, when the epoch saved (`every`: each epoch must).
 */
function recordEpochSaves(rec: CrashRecorder, callback: ModelCheckpoint, model: tf.LayersModel, saves: Save[], { every = false } = {}): tf.CustomCallback[] {
  let started = -1;
  const before = new tf.CustomCallback({ onEpochEnd: async (epoch) => void (started = rec.mark(`epoch ${epoch + 1} ends`)) });
  const after = new tf.CustomCallback({
    onEpochEnd: async (epoch) => {
      await callback.flush();
      const latest = await callback.manager.latest();
      const resolved = rec.mark(`epoch ${epoch + 1} durable`);
      if (every) assert.equal(latest?.metadata.epoch, epoch + 1, 'every epoch saves');
      if (latest?.metadata.epoch === epoch + 1) {
        saves.push({ step: latest.metadata.step!, rel: rec.rel(latest.path)!, value: latest.value, weights: weightsOf(model), started, resolved });
      }
    },
  });
  return [before, callback as unknown as tf.CustomCallback, after];
}

/** (iii) model.fit with ModelCheckpoint (saveBestOnly, keepLast 1, asynchronous saves); a save is durable once flush() resolves. */
async function fitScenario(): Promise<Scenario> {
  const rec = await CrashRecorder.create(await scratchDir('rec'));
  const args = (root: string) => ({
    filepath: join(root, 'w{epoch:02d}'),
    saveBestOnly: true,
    monitor: 'loss',
    keepLast: 1,
    verbose: 0,
    logger: captureLogger(),
  });
  const model = smallClassifier(21);
  const callback = modelCheckpoint({ ...args(rec.root), fs: rec.fs });
  const saves: Save[] = [];
  const { x, y } = toyData(48);
  await model.fit(x, y, { epochs: 5, batchSize: 16, shuffle: false, verbose: 0, callbacks: recordEpochSaves(rec, callback, model, saves) });
  x.dispose();
  y.dispose();
  return {
    name: 'model.fit + modelCheckpoint (saveBestOnly, keepLast 1)',
    rec,
    saves,
    monitor: 'loss',
    pointers: [],
    reader: (root) => new CheckpointManager({ filepath: join(root, 'w{epoch:02d}'), monitor: 'loss' }),
    // A loss better than any real one: w99 is saved.
    resume: (root, probe) => nextCallbackRun(args(root), probe, join(root, 'w99'), { loss: 0 }),
  };
}

/** The fine-tuning case: `smallClassifier` with its first layer frozen (recompiled, so the optimizer skips it). */
function frozenBaseClassifier(seed: number): tf.LayersModel {
  const model = smallClassifier(seed);
  model.layers[0]!.trainable = false;
  model.compile({ optimizer: tf.train.adam(0.05), loss: 'categoricalCrossentropy' });
  return model;
}

/**
 * (v) model.fit with a frozen base (keepLast 1): each save after the first hard-links the base's shard
 * from the checkpoint before it, which retention then deletes while the new one shares that file.
 */
async function frozenBaseScenario(): Promise<Scenario> {
  const rec = await CrashRecorder.create(await scratchDir('rec'));
  const args = (root: string) => ({ filepath: join(root, 'w{epoch:02d}'), keepLast: 1, verbose: 0, logger: captureLogger() });
  const model = frozenBaseClassifier(31);
  const callback = modelCheckpoint({ ...args(rec.root), fs: rec.fs });
  const saves: Save[] = [];
  const { x, y } = toyData(32);
  await model.fit(x, y, { epochs: 3, batchSize: 16, shuffle: false, verbose: 0, callbacks: recordEpochSaves(rec, callback, model, saves, { every: true }) });
  x.dispose();
  y.dispose();
  const reader = (root: string) => new CheckpointManager({ filepath: join(root, 'w{epoch:02d}') });
  return {
    name: 'model.fit with a frozen base (shards reused by hard link, keepLast 1)',
    rec,
    saves,
    pointers: [],
    reader,
    probe: () => frozenBaseClassifier(99),
    // w99 may reuse the base's shard from what survived.
    resume: (root, probe) => nextCallbackRun(args(root), probe, join(root, 'w99'), {}),
  };
}

/** (iv) A run directory the manager creates itself (mkdir -p), 2 saves. */
async function freshRunDirectoryScenario(): Promise<Scenario> {
  const rec = await CrashRecorder.create(await scratchDir('rec'));
  const options = (root: string): CheckpointManagerOptions => ({ directory: join(root, 'run'), monitor: 'val_loss', asyncSave: false });
  const saves = await recordManagerSaves(rec, new CheckpointManager({ ...options(rec.root), fs: rec.fs }), [0.5, 0.4], 'val_loss');
  return {
    name: 'fresh run directory',
    rec,
    saves,
    monitor: 'val_loss',
    pointers: ['run/latest', 'run/best'],
    reader: (root) => new CheckpointManager(options(root)),
    resume: (root, model) => nextManagerRun(new CheckpointManager(options(root)), model, 'val_loss'),
  };
}

/** Each scenario is recorded once and shared by the protocol and power-loss tests. */
function once<T>(make: () => Promise<T>): () => Promise<T> {
  let made: Promise<T> | undefined;
  return () => (made ??= make());
}

const scenarios = {
  manager: once(managerScenario),
  fixedPath: once(fixedPathScenario),
  fit: once(fitScenario),
  freshRun: once(freshRunDirectoryScenario),
  frozen: once(frozenBaseScenario),
};

// ---------------------------------------------------------------------------------------------
// Protocol: the order of operations in the recorded logs.
// ---------------------------------------------------------------------------------------------

/** The root-relative path of a node in `tree`, or undefined when it is unreachable. */
function pathOf(tree: Tree, node: NodeId): string | undefined {
  const walk = (at: NodeId, prefix: string): string | undefined => {
    if (at === node) return prefix;
    for (const [name, child] of tree.entries(at)) {
      if (tree.kind(child) !== 'dir' && child !== node) continue;
      const found = walk(child, prefix === '' ? name : `${prefix}/${name}`);
      if (found !== undefined) return found;
    }
    return undefined;
  };
  return walk(ROOT, '');
}

function subtree(tree: Tree, node: NodeId): NodeId[] {
  return [node, ...[...tree.entries(node).values()].flatMap((child) => (tree.kind(child) === 'dir' ? subtree(tree, child) : [child]))];
}

/** Walks the log with the live tree, the last change of each node and the fsyncs so far. */
function walkLog(log: readonly Op[], visit: (op: Op, i: number, view: LogView) => void): void {
  const view = new LogView();
  for (const [i, op] of log.entries()) {
    visit(op, i, view);
    view.apply(op, i);
  }
}

class LogView {
  readonly tree = new Tree();
  private readonly lastChange = new Map<NodeId, number>();
  private readonly fsyncs: { node: NodeId; covers: number; at: number }[] = [];

  apply(op: Op, i: number): void {
    this.tree.apply(op);
    if (isDataOp(op)) this.lastChange.set(op.node, i);
    if (isEntryOp(op)) this.lastChange.set(op.dir, i);
    if (op.kind === 'fsync') this.fsyncs.push({ node: op.node, covers: op.covers, at: i });
  }

  /** True when everything logged for `node` up to `upTo` was fsync'd by an fsync that completed before `before`. */
  durable(node: NodeId, upTo: number | undefined, before: number): boolean {
    return upTo === undefined || this.fsyncs.some((f) => f.node === node && f.covers > upTo && f.at < before);
  }

  lastChangeOf(node: NodeId): number | undefined {
    return this.lastChange.get(node);
  }
}

/** Where the save that performed log entry `i` resolves (the end of the log outside any save). */
function resolvedAfter(s: Scenario, i: number): number {
  return s.saves.find((save) => save.started < i && i < save.resolved)?.resolved ?? s.rec.log.length;
}

/** Problems with making things visible: contents fsync'd before the rename, the parent after it (before the save resolves). */
function commitProblems(s: Scenario): string[] {
  const log = s.rec.log;
  const problems: string[] = [];
  walkLog(log, (op, i, view) => {
    if (op.kind !== 'rename' || isTemporaryName(op.toName)) return;
    for (const node of subtree(view.tree, op.node)) {
      if (!view.durable(node, view.lastChangeOf(node), i)) {
        const what = view.tree.kind(node) === 'dir' ? 'directory' : 'file';
        problems.push(`${op.to}: the ${what} ${pathOf(view.tree, node)} was not fsync'd before the rename that made it visible (op ${i})`);
      }
    }
    const bound = resolvedAfter(s, i);
    if (!log.slice(i + 1, bound).some((o) => o.kind === 'fsync' && o.node === op.dir && o.covers > i)) {
      problems.push(`${op.to}: its directory was not fsync'd after the rename (op ${i}) before the save resolved (op ${bound})`);
    }
  });
  for (const save of s.saves) {
    if (!log.slice(save.started, save.resolved).some((o) => o.kind === 'rename' && o.to === save.rel)) {
      problems.push(`step ${save.step}: ${save.rel} never became visible by a rename (it was written in place)`);
    }
  }
  return problems;
}

/** Problems with deletions: nothing is removed from a checkpoint directory while it is visible under its name. */
function deletionProblems(s: Scenario): string[] {
  const problems: string[] = [];
  walkLog(s.rec.log, (op, i, view) => {
    if (op.kind !== 'unlink' || isTemporaryName(op.name)) return;
    const dirPath = pathOf(view.tree, op.dir);
    const isCheckpoint = [...view.tree.entries(op.dir).keys()].some((name) => [COMMIT_MARKER, 'model.json', 'weights.json'].includes(name));
    if (dirPath !== undefined && isCheckpoint && !dirPath.split('/').some(isTemporaryName)) {
      problems.push(`${op.path} was removed (op ${i}) while ${dirPath} was still visible: a half-deleted checkpoint`);
    }
  });
  return problems;
}

/** Under power loss: the rename that hides a deleted checkpoint must be durable before its files are removed. */
function deletionDurabilityProblems(s: Scenario): string[] {
  const problems: string[] = [];
  const hiddenBy = new Map<NodeId, { at: number; dir: NodeId; to: string }>();
  walkLog(s.rec.log, (op, i, view) => {
    if (op.kind === 'rename' && !isTemporaryName(op.fromName) && isTemporaryName(op.toName)) hiddenBy.set(op.node, { at: i, dir: op.dir, to: op.to });
    if (op.kind !== 'unlink') return;
    const hidden = hiddenBy.get(op.dir);
    if (hidden && !view.durable(hidden.dir, hidden.at, i)) {
      problems.push(`${op.path} was removed (op ${i}) before the rename to ${hidden.to} (op ${hidden.at}) was durable: after a power loss the checkpoint can reappear half-deleted`);
      hiddenBy.delete(op.dir); // one message per deletion
    }
  });
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Power loss: observe each distinct crashed state once, then judge it against each crash point's expectations.
// ---------------------------------------------------------------------------------------------

/** What a reader found at one checkpoint path: its step, and what is wrong with it (null if it verifies and loads the right weights). */
interface Seen {
  rel: string;
  step: number | null;
  problem: string | null;
}

interface Observation {
  /** What `list()` showed, or why it threw. */
  listed: Seen[] | string;
  latest: Seen | null | string;
  best: { rel: string; value: number | null } | null | string;
  /** Every path some save wrote to, read as a user would (`verify` / `loadWeights` of the path). */
  atPath: Map<string, Seen & { direct: boolean }>;
  /** Pointer file → the checkpoint it names (relative to the root), or why it is unreadable; absent files are left out. */
  pointers: Map<string, { target: string } | { problem: string }>;
  resume: { problem: string } | { best: number | null; listed: Seen[]; saved: Seen; listedAfterSave: string[] };
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Verifies a checkpoint and loads it into `probe`; the weights must be those saved at the step it records. */
async function examine(s: Scenario, probe: tf.LayersModel, root: string, path: string, checkWeights = true): Promise<Seen> {
  const rel = relative(root, path);
  let step: number | null = null;
  try {
    step = (await verify(path)).metadata?.step ?? null;
    if (!checkWeights) return { rel, step, problem: null };
    const save = s.saves.find((x) => x.step === step);
    if (!save) return { rel, step, problem: `it records step ${step}, which no save wrote` };
    clearWeights(probe);
    await loadWeights(probe, path);
    const problem = sameWeights(weightsOf(probe), save.weights) ? null : `it loads weights that differ from those saved at step ${step}`;
    return { rel, step, problem };
  } catch (e) {
    return { rel, step, problem: message(e) };
  }
}

async function attempt<T>(run: () => Promise<T>): Promise<T | string> {
  try {
    return await run();
  } catch (e) {
    return `threw: ${message(e)}`;
  }
}

async function readPointerFile(root: string, rel: string): Promise<{ target: string } | { problem: string } | undefined> {
  let text: string;
  try {
    text = await readFile(join(root, rel), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const target = (JSON.parse(text) as { path?: unknown }).path;
    if (typeof target !== 'string') return { problem: `${rel} has no path: ${JSON.stringify(text)}` };
    return { target: relative(root, join(root, dirname(rel), target)) };
  } catch {
    return { problem: `${rel} is not valid JSON: ${JSON.stringify(text)}` };
  }
}

async function observeNextRun(s: Scenario, probe: tf.LayersModel, root: string): Promise<Observation['resume']> {
  try {
    const next = await s.resume(root, probe);
    const listed: Seen[] = [];
    for (const path of next.listed) listed.push(await examine(s, probe, root, path));
    // The new save holds the probe's weights at the time, not a recorded step's: it must verify.
    const saved = await examine(s, probe, root, await next.saveNext(), false);
    const listedAfterSave = (await s.reader(root).list()).map((r) => relative(root, r.path));
    return { best: next.best, listed, saved, listedAfterSave };
  } catch (e) {
    return { problem: message(e) };
  }
}

/** Writes the state out and reads it as the library's users would, then starts the next run on it. */
async function observe(s: Scenario, probe: tf.LayersModel, tree: Tree, base: string): Promise<Observation> {
  const root = await mkdtemp(join(base, 's-'));
  try {
    await materialize(tree, root);
    const reader = s.reader(root);
    const listed = await attempt(async () => {
      const seen: Seen[] = [];
      for (const record of await reader.list()) seen.push(await examine(s, probe, root, record.path));
      return seen;
    });
    const latest = await attempt(async () => {
      const path = await latestCheckpoint(reader.template);
      return path === null ? null : examine(s, probe, root, path);
    });
    const best = await attempt(async () => {
      const record = s.monitor ? await reader.best() : null;
      return record ? { rel: relative(root, record.path), value: record.value } : null;
    });
    const atPath: Observation['atPath'] = new Map();
    for (const rel of new Set(s.saves.map((x) => x.rel))) {
      const direct = (await stat(join(root, rel)).catch(() => undefined))?.isDirectory() ?? false;
      atPath.set(rel, { ...(await examine(s, probe, root, join(root, rel))), direct });
    }
    const pointers: Observation['pointers'] = new Map();
    for (const rel of s.pointers) {
      const pointer = await readPointerFile(root, rel);
      if (pointer) pointers.set(rel, pointer);
    }
    return { listed, latest, best, atPath, pointers, resume: await observeNextRun(s, probe, root) };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/** What must hold after a power loss at crash point k, from the markers before k. */
interface Expectation {
  started: Save[];
  resolved: Save[];
  /** Checkpoints whose deletion (a rename to a temporary name) had begun: they may be gone. */
  deleting: Set<string>;
  /** Path → the oldest step it may hold: the newest resolved save there, unless its deletion began. */
  mustSurvive: Map<string, number>;
  /** The best monitored value among resolved saves (lower is better in every scenario here). */
  bestResolved: number | null;
}

function expectationAt(s: Scenario, k: number): Expectation {
  const log = s.rec.log.slice(0, k);
  const deleting = new Set(log.flatMap((op) => (op.kind === 'rename' && isTemporaryName(op.toName) && op.toName.includes(TEMP_MARK) ? [op.from] : [])));
  const started = s.saves.filter((x) => x.started < k);
  const resolved = s.saves.filter((x) => x.resolved < k);
  const mustSurvive = new Map<string, number>();
  for (const save of resolved) if (!deleting.has(save.rel)) mustSurvive.set(save.rel, Math.max(mustSurvive.get(save.rel) ?? 0, save.step));
  const values = resolved.flatMap((x) => (x.value === null ? [] : [x.value]));
  return { started, resolved, deleting, mustSurvive, bestResolved: values.length ? Math.min(...values) : null };
}

function expectationKey(e: Expectation): string {
  return JSON.stringify([e.started.length, e.resolved.length, [...e.deleting].sort()]);
}

type Category =
  | 'listed-temporary'
  | 'listed-unreadable'
  | 'lost-save'
  | 'best'
  | 'pointer-unreadable'
  | 'pointer-lost'
  | 'resume'
  | 'half-deleted'
  | 'dangling-pointer';

/**
 * Failures allowed as known bugs: none. (The three this harness found on its first run are fixed: a
 * deletion fsyncs the directory between its rename and its removal; pointers are rewritten before
 * retention deletes; directories a save creates are fsync'd into their parents.)
 */
const KNOWN: Partial<Record<Category, string>> = {};

interface Failure {
  category: Category;
  message: string;
}

/** Judges one observed state against one crash point's expectation. */
function judge(s: Scenario, obs: Observation, e: Expectation): Failure[] {
  const out: Failure[] = [];
  const fail = (category: Category, text: string) => out.push({ category, message: text });
  const unreadable = (seen: Seen, where: string, otherwise: Category) =>
    fail(e.deleting.has(seen.rel) ? 'half-deleted' : otherwise, `${where} ${seen.rel} is broken: ${seen.problem}`);
  const startedSteps = new Set(e.started.map((x) => x.step));
  const judgeListed = (listed: Seen[], where: string, otherwise: Category) => {
    for (const seen of listed) {
      if (isTemporaryName(basename(seen.rel))) fail('listed-temporary', `${where} shows the temporary ${seen.rel}`);
      else if (seen.problem !== null) unreadable(seen, where, otherwise);
      else if (!startedSteps.has(seen.step!)) fail('listed-unreadable', `${where} shows ${seen.rel} with step ${seen.step}, a save not yet started`);
    }
  };

  if (typeof obs.listed === 'string') fail('listed-unreadable', `list() ${obs.listed}`);
  else judgeListed(obs.listed, 'list()', 'listed-unreadable');
  if (typeof obs.latest === 'string') fail('listed-unreadable', `latestCheckpoint() ${obs.latest}`);
  else if (obs.latest) judgeListed([obs.latest], 'latestCheckpoint()', 'listed-unreadable');

  const listedRels = new Set(typeof obs.listed === 'string' ? [] : obs.listed.map((x) => x.rel));
  for (const [rel, step] of e.mustSurvive) {
    const seen = obs.atPath.get(rel)!;
    if (seen.problem !== null) fail('lost-save', `the save of step ${step} resolved, but ${rel} is gone or broken: ${seen.problem}`);
    else if ((seen.step ?? -1) < step) fail('lost-save', `the save of step ${step} resolved, but ${rel} holds step ${seen.step}`);
    // Between the two renames of a replacement the path is read from the set-aside copy; list() shows it after repair().
    else if (seen.direct && !listedRels.has(rel)) fail('lost-save', `the save of step ${step} resolved, but list() does not show ${rel}`);
  }

  if (s.monitor && e.bestResolved !== null) judgeBest(obs, e, fail);

  const visible = new Set(listedRels);
  for (const [rel, pointer] of obs.pointers) {
    if ('problem' in pointer) fail('pointer-unreadable', pointer.problem);
    else if (!visible.has(pointer.target)) {
      fail(e.deleting.has(pointer.target) ? 'dangling-pointer' : 'pointer-lost', `${rel} names ${pointer.target}, which is not a visible checkpoint`);
    }
  }

  judgeNextRun(s, obs, e, fail, judgeListed);
  return out;
}

function judgeBest(obs: Observation, e: Expectation, fail: (c: Category, m: string) => void): void {
  const values = new Set(e.started.map((x) => x.value));
  if (typeof obs.best === 'string') fail('best', `best() ${obs.best}`);
  else if (!obs.best || obs.best.value === null) fail('best', `best() found nothing, but a save with ${e.bestResolved} resolved`);
  else if (obs.best.value > e.bestResolved!) fail('best', `best() is ${obs.best.rel} with ${obs.best.value}, worse than the resolved ${e.bestResolved}`);
  else if (!values.has(obs.best.value)) fail('best', `best() is ${obs.best.rel} with ${obs.best.value}, a value no save had`);
}

function judgeNextRun(
  s: Scenario,
  obs: Observation,
  e: Expectation,
  fail: (c: Category, m: string) => void,
  judgeListed: (listed: Seen[], where: string, otherwise: Category) => void,
): void {
  const run = obs.resume;
  if ('problem' in run) return void fail('resume', `the next run failed: ${run.problem}`);
  judgeListed(run.listed, 'after repair(), list()', 'resume');
  const listed = new Map(run.listed.map((x) => [x.rel, x]));
  for (const [rel, step] of e.mustSurvive) {
    if ((listed.get(rel)?.step ?? -1) < step) fail('resume', `after repair(), list() does not show the resolved save of step ${step} at ${rel}`);
  }
  if (s.monitor) {
    const onDisk = run.listed.flatMap((x) => s.saves.filter((save) => save.step === x.step && save.value !== null).map((save) => save.value!));
    const trueBest = onDisk.length ? Math.min(...onDisk) : null;
    if (run.best !== trueBest) fail('resume', `the next run recovered best ${run.best}, but the best on disk is ${trueBest}`);
    if (e.bestResolved !== null && (run.best === null || run.best > e.bestResolved)) {
      fail('resume', `the next run recovered best ${run.best}, worse than the resolved ${e.bestResolved}`);
    }
  }
  if (run.saved.problem !== null) fail('resume', `the next run's save ${run.saved.rel} is broken: ${run.saved.problem}`);
  else if (!run.listedAfterSave.includes(run.saved.rel)) fail('resume', `the next run's save ${run.saved.rel} is not listed`);
}

interface CrashReport {
  name: string;
  ops: number;
  crashPoints: number;
  /** Distinct states summed over crash points. */
  states: number;
  /** Distinct directory trees among them (each written out and read once). */
  trees: number;
  failures: (Failure & { crashPoint: number; where: string; label: string })[];
  seconds: number;
}

/** The last marker before `k` and the operation just before it, for messages. */
function describePoint(log: readonly Op[], k: number): string {
  const marker = log.slice(0, k).reverse().find((op) => op.kind === 'mark');
  const op = log[k - 1];
  const last = op === undefined ? 'the start' : op.kind === 'mark' ? `marker '${op.label}'` : `op ${k - 1} ${op.kind} ${'path' in op ? op.path : 'to' in op ? op.to : ''}`;
  return `after ${last} (${marker?.kind === 'mark' ? marker.label : 'before any marker'})`;
}

async function powerLoss(s: Scenario, options: { random: number; seed: number }): Promise<CrashReport> {
  const began = performance.now();
  const log = s.rec.log;
  const probe = s.probe?.() ?? smallClassifier(99);
  const base = await scratchDir('states');
  const observed = new Map<string, Observation>();
  const judged = new Set<string>();
  const report: CrashReport = { name: s.name, ops: log.filter((op) => op.kind !== 'mark').length, crashPoints: log.length + 1, states: 0, trees: 0, failures: [], seconds: 0 };
  for (let k = 0; k <= log.length; k++) {
    const expectation = expectationAt(s, k);
    for (const state of crashStates(log, k, options)) {
      report.states += 1;
      const key = `${state.fingerprint} ${expectationKey(expectation)}`;
      if (judged.has(key)) continue;
      judged.add(key);
      let obs = observed.get(state.fingerprint);
      if (!obs) observed.set(state.fingerprint, (obs = await observe(s, probe, state.tree, base)));
      for (const failure of judge(s, obs, expectation)) {
        report.failures.push({ ...failure, crashPoint: k, where: describePoint(log, k), label: state.label });
      }
    }
  }
  report.trees = observed.size;
  report.seconds = (performance.now() - began) / 1000;
  return report;
}

function summary(r: CrashReport): string {
  const known = r.failures.filter((f) => KNOWN[f.category]).length;
  return (
    `durability: ${r.name}: ${r.ops} ops, ${r.crashPoints} crash points, ${r.states} crash states ` +
    `(${r.trees} distinct trees), ${r.failures.length - known} failures, ${known} known-bug failures, ${r.seconds.toFixed(1)} s`
  );
}

function shown(failures: CrashReport['failures']): string[] {
  return failures.slice(0, 8).map((f) => `[${f.category}] crash point ${f.crashPoint} ${f.where}, state '${f.label}': ${f.message}`);
}

const reports = {
  manager: once(async () => powerLoss(await scenarios.manager(), { random: 4, seed: 1 })),
  fixedPath: once(async () => powerLoss(await scenarios.fixedPath(), { random: 4, seed: 2 })),
  fit: once(async () => powerLoss(await scenarios.fit(), { random: 4, seed: 3 })),
  freshRun: once(async () => powerLoss(await scenarios.freshRun(), { random: 2, seed: 4 })),
  frozen: once(async () => powerLoss(await scenarios.frozen(), { random: 4, seed: 5 })),
};

function unexpected(r: CrashReport): CrashReport['failures'] {
  return r.failures.filter((f) => !KNOWN[f.category]);
}

function ofKind(r: CrashReport, category: Category): CrashReport['failures'] {
  return r.failures.filter((f) => f.category === category);
}

// ---------------------------------------------------------------------------------------------
// The tests.
// ---------------------------------------------------------------------------------------------

describe('crash_fs: the recorder and the crash-state model', () => {
  const text = (tree: Tree) => tree.listing().map(([path, data]) => (data === null ? `${path}/` : `${path}=${Buffer.from(data).toString()}`)).join(' ');
  const statesAt = (log: readonly Op[], k = log.length) => crashStates(log, k, { random: 8, seed: 5 }).map((s) => text(s.tree)).sort();

  it('records creations, writes at the right offsets, renames, removals and fsyncs, whatever form the flags take', async () => {
    const rec = await CrashRecorder.create(await scratchDir('unit'));
    const at = (rel: string) => join(rec.root, rel);
    await rec.fs.mkdir(at('d/e'), { recursive: true });
    const numeric = await rec.fs.open(at('d/n'), fsConstants.O_CREAT | fsConstants.O_WRONLY | fsConstants.O_EXCL, 0o644);
    await numeric.write(Buffer.from('abcdef'), 1, 3); // 'bcd' at 0
    await numeric.write(Buffer.from('XY'), 0, 2, 5); // at 5, leaving a hole
    await numeric.write('z'); // at the handle's position, 3
    await numeric.sync();
    await numeric.close();
    const append = await rec.fs.open(at('d/n'), 'a');
    await append.write(Buffer.from('!'));
    await append.close();
    await rec.fs.writeFile(at('d/e/f'), 'old');
    await rec.fs.writeFile(at('d/e/g'), 'new');
    await rec.fs.rename(at('d/e/g'), at('d/e/f'));
    await rec.fs.rm(at('d/e'), { recursive: true });
    await rec.fs.rm(at('missing'), { force: true });
    const model = stateAfter(rec.log, rec.log.length);
    assert.deepEqual(model.listing(), await readListing(rec.root));
    assert.equal(text(model), `d/ d/n=bcdz\0XY!`);
    assert.deepEqual(
      rec.log.map((op) => op.kind),
      ['mkdir', 'mkdir', 'create', 'write', 'write', 'write', 'fsync', 'close', 'write', 'close', 'create', 'write', 'close', 'create', 'write', 'close', 'rename', 'unlink', 'unlink'],
    );
    await assert.rejects(rec.fs.writeFile(join(rec.root, '..', 'outside'), 'x'), /outside the recording root/);
  });

  it('loses what was not fsync\'d, keeps what was, and keeps each directory\'s operations in order', async () => {
    const rec = await CrashRecorder.create(await scratchDir('unit'));
    await makeDurableDirectory(rec, 'a');
    const file = await rec.fs.open(join(rec.root, 'a/x'), 'wx');
    await file.write(Buffer.from('1'));
    const written = rec.log.length;
    assert.deepEqual(statesAt(rec.log), ['a/', 'a/ a/x=', 'a/ a/x=1'], 'entry and data may each be lost');
    await file.sync();
    assert.deepEqual(statesAt(rec.log), ['a/', 'a/ a/x=1'], 'the data is durable, the entry is not');
    await file.close();
    const dir = await rec.fs.open(join(rec.root, 'a'), 'r');
    await dir.sync();
    await dir.close();
    assert.deepEqual(statesAt(rec.log), ['a/ a/x=1']);
    assert.deepEqual(statesAt(rec.log, written), ['a/', 'a/ a/x=', 'a/ a/x=1'], 'earlier crash points are unchanged');
    await rec.fs.writeFile(join(rec.root, 'a/y'), '');
    await rec.fs.rename(join(rec.root, 'a/y'), join(rec.root, 'a/z'));
    await rec.fs.writeFile(join(rec.root, 'a/w'), '');
    assert.deepEqual(statesAt(rec.log), ['a/ a/w= a/x=1 a/z=', 'a/ a/x=1', 'a/ a/x=1 a/y=', 'a/ a/x=1 a/z='], 'w never persists without the rename before it');
  });

  it('models a hard link as a second entry for the same file: durable with its directory, untouched by removing the first', async () => {
    const rec = await CrashRecorder.create(await scratchDir('unit'));
    await makeDurableDirectory(rec, 'a');
    await makeDurableDirectory(rec, 'b');
    const syncDir = async (rel: string) => {
      const dir = await rec.fs.open(join(rec.root, rel), 'r');
      await dir.sync();
      await dir.close();
    };
    const file = await rec.fs.open(join(rec.root, 'a/x'), 'wx');
    await file.write(Buffer.from('1'));
    await file.sync();
    await file.close();
    await syncDir('a');
    await rec.fs.link(join(rec.root, 'a/x'), join(rec.root, 'b/y'));
    assert.equal(rec.log.at(-1)?.kind, 'link');
    assert.deepEqual(statesAt(rec.log), ['a/ a/x=1 b/', 'a/ a/x=1 b/ b/y=1'], 'the new entry may be lost until b is fsync\'d; its data never');
    await syncDir('b');
    await rec.fs.rm(join(rec.root, 'a/x'));
    await syncDir('a');
    assert.deepEqual(statesAt(rec.log), ['a/ b/ b/y=1']);
    assert.deepEqual(stateAfter(rec.log, rec.log.length).listing(), await readListing(rec.root));
  });
});

describe('durability: the recorded scenarios', () => {
  it('record what they should: deletions, pointer moves, replacements, and a recorder that matches the disk', async () => {
    const all = [await scenarios.manager(), await scenarios.fixedPath(), await scenarios.fit(), await scenarios.freshRun()];
    for (const s of all) {
      const model = stateAfter(s.rec.log, s.rec.log.length).listing();
      assert.deepEqual(model, await readListing(s.rec.root), `${s.name}: the recorder's model of the disk is wrong`);
    }
    const [manager, fixedPath, fit] = all as [Scenario, Scenario, Scenario];
    const deletions = (s: Scenario) => s.rec.log.filter((op) => op.kind === 'rename' && op.toName.includes(TEMP_MARK) && !isTemporaryName(op.fromName)).length;
    assert.equal(manager.saves.length, 4);
    assert.equal(deletions(manager), 3, 'saves 2 and 4 delete 1 and 2 checkpoints');
    assert.ok(manager.rec.log.filter((op) => op.kind === 'rename' && op.to === 'run/best').length >= 2, 'the best pointer moves');
    assert.equal(fixedPath.saves.length, 3);
    assert.equal(fixedPath.rec.log.filter((op) => op.kind === 'rename' && op.from === 'best').length, 2, 'saves 2 and 3 set the old one aside');
    assert.ok(fit.saves.length >= 3, `fit saved ${fit.saves.length} times`);
    assert.ok(deletions(fit) >= 2, 'keepLast 1 deletes during fit');
  });

  it('frozen base: later saves link the base\'s shard from the save before (which retention then deletes), and the recorder matches the disk', async () => {
    const s = await scenarios.frozen();
    assert.deepEqual(stateAfter(s.rec.log, s.rec.log.length).listing(), await readListing(s.rec.root));
    assert.equal(s.saves.length, 3);
    const links = s.rec.log.flatMap((op) => (op.kind === 'link' ? [`${op.from} -> ${op.path}`] : []));
    assert.equal(links.length, 2, `one reused shard per save after the first: ${links.join(', ')}`);
    assert.match(links[0]!, /^w01\/[^/]+\.bin -> /);
    assert.match(links[1]!, /^w02\/[^/]+\.bin -> /);
    assert.equal(s.rec.log.filter((op) => op.kind === 'rename' && op.toName.includes(TEMP_MARK) && !isTemporaryName(op.fromName)).length, 2, 'keepLast 1 deletes w01 and w02');
  });
});

describe('durability: the commit protocol in recorded logs', () => {
  for (const key of ['manager', 'fixedPath', 'fit', 'frozen'] as const) {
    it(`${key}: files and staging directory fsync'd before each rename, the directory after it; every checkpoint appears by a rename`, async () => {
      assert.deepEqual(commitProblems(await scenarios[key]()), []);
    });
    it(`${key}: a deletion never removes files from a checkpoint that is still visible`, async () => {
      assert.deepEqual(deletionProblems(await scenarios[key]()), []);
    });
  }
  it('manager: a deletion is durable before the files go', async () => {
    assert.deepEqual(deletionDurabilityProblems(await scenarios.manager()), []);
  });
  it('fit: a deletion is durable before the files go', async () => {
    assert.deepEqual(deletionDurabilityProblems(await scenarios.fit()), []);
  });
  it('frozen: a deletion is durable before the files go (a shard linked into the next checkpoint included)', async () => {
    assert.deepEqual(deletionDurabilityProblems(await scenarios.frozen()), []);
  });
  it('fixedPath: the old copy set aside is removed only after the replacement is durable', async () => {
    assert.deepEqual(deletionDurabilityProblems(await scenarios.fixedPath()), []);
  });
});

describe('durability: every crash state of every crash point', () => {
  for (const key of ['manager', 'fixedPath', 'fit', 'frozen'] as const) {
    it(`${key}: listed checkpoints verify and load, resolved saves and the best survive, the next run resumes`, async () => {
      const report = await reports[key]();
      console.log(summary(report));
      assert.ok(report.states > report.crashPoints, 'power loss leaves more than one possible state');
      assert.deepEqual(shown(unexpected(report)), []);
    });
  }
  it('manager: no deleted checkpoint reappears half-deleted', async () => {
    assert.deepEqual(shown(ofKind(await reports.manager(), 'half-deleted')), []);
  });
  it('fit: no deleted checkpoint reappears half-deleted', async () => {
    assert.deepEqual(shown(ofKind(await reports.fit(), 'half-deleted')), []);
  });
  it('frozen: no deleted checkpoint reappears half-deleted', async () => {
    assert.deepEqual(shown(ofKind(await reports.frozen(), 'half-deleted')), []);
  });
  it('manager: a pointer never names a deleted checkpoint', async () => {
    assert.deepEqual(shown(ofKind(await reports.manager(), 'dangling-pointer')), []);
  });
  it(
    'a run directory the manager creates survives power loss with its checkpoints',
    async () => {
      const report = await reports.freshRun();
      console.log(summary(report));
      assert.deepEqual(shown(report.failures), []);
    },
  );
});
