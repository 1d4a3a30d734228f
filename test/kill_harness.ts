/**
 * The kill campaign: runs the kill child (four asynchronous checkpointing callbacks, see
 * fixtures/kill_child.ts), SIGKILLs it right after a chosen step of a save (a window: the fixed-path
 * swap, a retention deletion, a backup rotation, a pointer update, a commit, a file write) or at a
 * random time, restarts it, and after every kill checks the promises of durable checkpoints. Used
 * by kill.test.ts (a few dozen kills) and by `npm run stress` (hundreds). KILL_DEBUG=1 logs each
 * restart's plan and outcome.
 */
import * as tf from '@tensorflow/tfjs';
import { readFile, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CheckpointManager, latestCheckpoint, loadWeights, verify, type CheckpointRecord } from '../src/index.js';
import { buildKillModel, killPaths } from './fixtures/kill_child.js';
import { seededRandom } from './helpers.js';
import { runChild, tally, temporariesIn, type ChildResult, type KillPlan } from './kill_plan.js';

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'kill_child.ts');

/** The windows a kill is aimed at, grouped so that each kind of window gets its share of kills. */
const WINDOW_CLASSES: [string, RegExp][] = [
  ['swap', /^(rename-aside|rename-swap|rm-aside) last$/],
  ['retention', /^(rename-delete|rm-delete) (best|every)$/],
  ['rotation', /^((rename-commit|rename-delete|rm-delete) backup|pointer(-write)? backup-pointer)$/],
  ['pointer', /^pointer(-write)? (latest|best)-pointer$/],
  ['commit', /^rename-commit (best|every|last)$/],
  ['write', /^write /],
  ['reuse', /^link /],
];

/** Share of kills at a random time rather than at a window. */
const RANDOM_SHARE = 0.2;

export interface CampaignReport {
  kills: number;
  /** Kills per aimed window (`<kind> <scope>`); `random after <window>` for random-time kills. */
  killsByWindow: Record<string, number>;
  killsByClass: Record<string, number>;
  /** Aimed kills whose child was holding at the window when killed. */
  heldKills: number;
  /** Planned windows a run finished before reaching. */
  aimedNotReached: number;
  killsLeavingTemporaries: number;
  restarts: number;
  completedRuns: number;
  checkpointsVerified: number;
  /** Set-aside copies of the fixed path found by readers after a kill (the swap window was hit). */
  fixedPathSetAside: number;
  /** Temporaries (by kind of name) still present after a run completed: leftovers nobody cleaned (each also a failure). */
  leftAfterCompletedRuns: Record<string, number>;
  failures: string[];
}

export interface CampaignOptions {
  workDir: string;
  kills: number;
  epochs: number;
  seed: number;
  log?: (line: string) => void;
}

interface Reference {
  losses: number[];
  finalWeights: tf.Tensor[];
  /** Each window's occurrences in an uninterrupted run, as the number of epochs completed before each. */
  windowEpochs: Map<string, number[]>;
  /** Milliseconds from READY to DONE in an uninterrupted run. */
  durationMs: number;
}

/** Newest epoch per checkpointing callback (0: none), and what else a check learned. */
interface DiskState {
  verified: number;
  best: number;
  every: number;
  last: number;
  backup: number;
  bestOnDisk: number;
  fixedSetAside: boolean;
}

function newestEpoch(records: readonly CheckpointRecord[]): number {
  return Math.max(0, ...records.map((r) => r.metadata.epoch ?? 0));
}

function trueBest(losses: readonly number[], upToEpoch: number): number {
  return upToEpoch === 0 ? Infinity : Math.min(...losses.slice(0, upToEpoch));
}

/** Every listed checkpoint verifies and loads into the model; none is a temporary. */
async function checkRecords(label: string, records: CheckpointRecord[], latest: CheckpointRecord | null, failures: string[]): Promise<number> {
  let verified = 0;
  for (const path of [...records.map((r) => r.path), ...(latest ? [latest.path] : [])]) {
    if (path.includes('.tmp-') || path.includes('.old-')) failures.push(`${label}: list()/latest() returned a temporary: ${path}`);
  }
  for (const record of records) {
    try {
      await verify(record.path);
      const model = buildKillModel();
      await loadWeights(model, record.path);
      model.dispose();
      verified += 1;
    } catch (e) {
      failures.push(`${label}: committed checkpoint ${record.path} does not verify/load: ${(e as Error).message}`);
    }
  }
  return verified;
}

/** A pointer file that exists parses and names a listed checkpoint of its template. */
async function checkPointer(pointer: string, records: readonly CheckpointRecord[], failures: string[]): Promise<void> {
  let text: string;
  try {
    text = await readFile(pointer, 'utf8');
  } catch {
    return; // not written yet
  }
  try {
    const target = join(dirname(pointer), (JSON.parse(text) as { path: string }).path);
    if (!records.some((r) => r.path === target)) failures.push(`pointer ${pointer} names ${target}, which is not a listed checkpoint of its template`);
  } catch (e) {
    failures.push(`pointer ${pointer} does not parse: ${(e as Error).message}: ${JSON.stringify(text.slice(0, 200))}`);
  }
}

/**
 * Checks every committed checkpoint of a run directory: each template's list() verifies and loads,
 * pointers name listed checkpoints, the fixed path is visible once committed, the commit order
 * holds, and the best on disk is the true best so far.
 */
async function checkCommitted(runDir: string, losses: readonly number[], lastSeen: { value: boolean }, failures: string[]): Promise<DiskState> {
  const paths = killPaths(runDir);
  const managers = {
    best: new CheckpointManager({ filepath: paths.best, monitor: 'loss' }),
    every: new CheckpointManager({ filepath: paths.every, monitor: 'loss' }),
    last: new CheckpointManager({ filepath: paths.last, monitor: 'loss' }),
    backup: new CheckpointManager({ directory: paths.backupDir, name: 'backup-{step:012d}' }),
  };
  const records: Record<keyof typeof managers, CheckpointRecord[]> = { best: [], every: [], last: [], backup: [] };
  let verified = 0;
  for (const [name, manager] of Object.entries(managers) as [keyof typeof managers, CheckpointManager][]) {
    records[name] = await manager.list();
    verified += await checkRecords(name, records[name], await manager.latest(), failures);
  }
  await checkPointer(paths.latestPointer, records.best, failures);
  await checkPointer(paths.bestPointer, records.best, failures);
  await checkPointer(paths.backupPointer, records.backup, failures);
  const state: DiskState = {
    verified,
    best: newestEpoch(records.best),
    every: newestEpoch(records.every),
    last: newestEpoch(records.last),
    backup: newestEpoch(records.backup),
    bestOnDisk: Math.min(Infinity, ...records.best.map((r) => r.value ?? Infinity)),
    fixedSetAside: (await temporariesIn(dirname(paths.last))).some((n) => n.startsWith('.last.old-')),
  };
  await checkFixedPath(paths.last, records.last, state, lastSeen, failures);
  checkCommitOrder(state, failures);
  const upTo = Math.max(state.best, state.every, state.last, state.backup);
  if (Math.fround(state.bestOnDisk) !== Math.fround(trueBest(losses, upTo))) {
    failures.push(`best on disk ${state.bestOnDisk}, expected ${trueBest(losses, upTo)} (the best loss up to epoch ${upTo}, the newest on disk)`);
  }
  return state;
}

/** Once committed, the fixed-path checkpoint is always visible (even mid-swap, via its set-aside copy). */
async function checkFixedPath(path: string, records: readonly CheckpointRecord[], state: DiskState, lastSeen: { value: boolean }, failures: string[]): Promise<void> {
  // The commit order also says it must exist: it committed before any later every-epoch save or backup.
  const expected = lastSeen.value || state.every >= 2 || state.backup >= 1;
  const listed = records.some((r) => r.path === path);
  const latest = await latestCheckpoint(path);
  if (listed) lastSeen.value = true;
  if (expected && !listed) failures.push(`the fixed-path checkpoint ${path} was committed but list() does not show it`);
  if ((expected || listed) && latest !== path) failures.push(`latestCheckpoint(${path}) returned ${latest}, expected the fixed-path checkpoint`);
}

/**
 * Saves of one epoch commit in the order they began: best-only, every-epoch, fixed path, then the
 * backup (taken at the next event). So what is on disk is a prefix: backup ≤ fixed ≤ every ≤ backup + 1.
 */
function checkCommitOrder(s: DiskState, failures: string[]): void {
  const order = `(newest epochs: best-only ${s.best}, every-epoch ${s.every}, fixed path ${s.last}, backup ${s.backup})`;
  if (s.backup > s.every || s.backup > s.last) failures.push(`a backup is ahead of the checkpoints of its epoch ${order}`);
  if (s.last > s.every) failures.push(`the fixed-path checkpoint is ahead of the every-epoch checkpoint of its epoch ${order}`);
  if (s.every > s.backup + 1 || s.every > s.last + 1) failures.push(`an every-epoch checkpoint committed before an earlier epoch's saves ${order}`);
  if (s.best > s.every + 1) failures.push(`a best-only checkpoint committed before an earlier epoch's saves ${order}`);
}

function runKillChild(runDir: string, epochs: number, plan?: KillPlan): Promise<ChildResult> {
  return runChild({ script: CHILD, args: [runDir, String(epochs)], plan }).done;
}

/** The uninterrupted reference: per-epoch losses, final weights, and how often each window occurs. */
async function reference(workDir: string, epochs: number): Promise<Reference> {
  const dir = join(workDir, 'reference');
  await rm(dir, { recursive: true, force: true });
  const started = performance.now();
  let ready = started;
  const result = await runChild({ script: CHILD, args: [dir, String(epochs)], onLine: (l) => void (l === 'READY' && (ready = performance.now())) }).done;
  if (result.code !== 0 || !result.lines.includes('DONE')) throw new Error(`reference run failed: ${result.stderr}`);
  const durationMs = performance.now() - ready;
  const losses = result.lines.filter((l) => l.startsWith('EPOCH ')).map((l) => Number(l.split(' ')[2]));
  const windowEpochs = new Map<string, number[]>();
  let completed = 0;
  for (const line of result.lines) {
    if (line.startsWith('EPOCH ')) completed += 1;
    if (line.startsWith('OP ')) windowEpochs.set(line.slice(3), [...(windowEpochs.get(line.slice(3)) ?? []), completed]);
  }
  const model = buildKillModel();
  await loadWeights(model, killPaths(dir).final);
  await rm(dir, { recursive: true, force: true });
  return { losses, finalWeights: model.getWeights(), windowEpochs, durationMs };
}

function classOf(window: string): string | undefined {
  return WINDOW_CLASSES.find(([, pattern]) => pattern.test(window))?.[0];
}

/**
 * Where to kill the next run, which starts at `initialEpoch`: a random window class, a window in it,
 * and an occurrence among those the rest of the run should see (as the reference run saw them);
 * or a random time within the rest of the run.
 */
function choosePlan(random: () => number, ref: Reference, epochs: number, initialEpoch: number): KillPlan {
  if (random() < RANDOM_SHARE) return { type: 'time', delayMs: Math.floor((random() * ref.durationMs * Math.max(1, epochs - initialEpoch)) / epochs) };
  const ahead = new Map([...ref.windowEpochs].map(([w, at]) => [w, at.filter((e) => e > initialEpoch || initialEpoch === 0).length] as const).filter(([w, n]) => n > 0 && classOf(w)));
  const classes = WINDOW_CLASSES.map(([name]) => name).filter((name) => [...ahead.keys()].some((w) => classOf(w) === name));
  if (classes.length === 0) return { type: 'time', delayMs: Math.floor(random() * ref.durationMs) };
  const cls = classes[Math.floor(random() * classes.length)]!;
  const windows = [...ahead.keys()].filter((w) => classOf(w) === cls).sort();
  const window = windows[Math.floor(random() * windows.length)]!;
  return { type: 'window', window, occurrence: 1 + Math.floor(random() * ahead.get(window)!), hold: random() < 0.5, delayMs: Math.floor(random() * 3) };
}

function describePlan(plan: KillPlan): string {
  return plan.type === 'time' ? `random time ${plan.delayMs} ms after READY` : `${plan.hold ? 'held at' : 'after'} occurrence ${plan.occurrence} of "${plan.window}" + ${plan.delayMs} ms`;
}

async function finalWeightsDiff(runDir: string, ref: Reference): Promise<number> {
  const model = buildKillModel();
  await loadWeights(model, killPaths(runDir).final);
  const diff = Math.max(...model.getWeights().map((t, i) => tf.tidy(() => t.sub(ref.finalWeights[i]!).abs().max().dataSync()[0]!)));
  model.dispose();
  return diff;
}

/**
 * A completed run leaves no temporaries: every callback repairs its directory when training begins
 * (after the last kill of the run), so the dead writers' leftovers are gone, and its own are removed.
 */
async function checkLeftovers(runDir: string, report: CampaignReport, fail: (m: string) => void): Promise<void> {
  const paths = killPaths(runDir);
  for (const dir of [dirname(paths.best), paths.backupDir]) {
    const left = await temporariesIn(dir);
    for (const name of left) tally(report.leftAfterCompletedRuns, `${basename(dir)}/${name.replace(/\.(tmp|old)-.*$/, '.$1-*')}`);
    if (left.length > 0) fail(`temporaries left in ${dir} after the run completed: ${left.join(', ')}`);
  }
}

export async function runKillCampaign(options: CampaignOptions): Promise<CampaignReport> {
  const { workDir, epochs, log = () => undefined } = options;
  const random = seededRandom(options.seed);
  const ref = await reference(workDir, epochs);
  const report: CampaignReport = {
    kills: 0,
    killsByWindow: {},
    killsByClass: {},
    heldKills: 0,
    aimedNotReached: 0,
    killsLeavingTemporaries: 0,
    restarts: 0,
    completedRuns: 0,
    checkpointsVerified: 0,
    fixedPathSetAside: 0,
    leftAfterCompletedRuns: {},
    failures: [],
  };
  let run = 0;
  let runDir = join(workDir, `run-${run}`);
  let disk = { backup: 0, upTo: 0 };
  let lastSeen = { value: false };
  while (report.kills < options.kills && report.failures.length === 0) {
    const plan = choosePlan(random, ref, epochs, disk.backup);
    const result = await runKillChild(runDir, epochs, plan);
    const fail = (message: string) => report.failures.push(`seed ${options.seed}, run ${run}, restart ${report.restarts} (${describePlan(plan)}): ${message}`);
    report.restarts += 1;
    if (process.env['KILL_DEBUG']) log(`restart ${report.restarts}: from epoch ${disk.backup}, ${describePlan(plan)}: ${outcome(result, plan)}`);
    checkResumed(result, disk, ref, fail);
    if (result.hung) fail(`the child hung (killed by the watchdog); last lines: ${result.lines.slice(-5).join(' | ')}`);
    if (!result.killed && !result.hung && result.code !== 0) fail(`child failed: ${result.stderr.slice(0, 2000)}`);
    if (result.killed) {
      countKill(report, plan, result);
      const paths = killPaths(runDir);
      if ((await temporariesIn(dirname(paths.best))).length > 0 || (await temporariesIn(paths.backupDir)).length > 0) report.killsLeavingTemporaries += 1;
    } else if (plan.type === 'window') report.aimedNotReached += 1;
    const found: string[] = [];
    const state = await checkCommitted(runDir, ref.losses, lastSeen, found);
    for (const f of found) fail(f);
    report.checkpointsVerified += state.verified;
    if (result.killed && state.fixedSetAside) report.fixedPathSetAside += 1;
    disk = { backup: state.backup, upTo: Math.max(state.best, state.every, state.last, state.backup) };
    if (result.lines.includes('DONE')) {
      const diff = await finalWeightsDiff(runDir, ref);
      if (diff !== 0) fail(`final weights differ from the uninterrupted run by ${diff}`);
      await checkLeftovers(runDir, report, fail);
      report.completedRuns += 1;
      log(`run ${run} completed after ${report.kills} kills in total`);
      await rm(runDir, { recursive: true, force: true });
      run += 1;
      runDir = join(workDir, `run-${run}`);
      disk = { backup: 0, upTo: 0 };
      lastSeen = { value: false };
    }
  }
  // Finish the last run without kills: it must end where the uninterrupted run ended.
  if (report.failures.length === 0) {
    const result = await runKillChild(runDir, epochs);
    if (result.code !== 0 || !result.lines.includes('DONE')) report.failures.push(`seed ${options.seed}: final run failed: ${result.stderr.slice(0, 2000)}`);
    else {
      const diff = await finalWeightsDiff(runDir, ref);
      if (diff !== 0) report.failures.push(`seed ${options.seed}: final run: weights differ from the uninterrupted run by ${diff}`);
      await checkLeftovers(runDir, report, (m) => report.failures.push(`seed ${options.seed}: final run: ${m}`));
      report.completedRuns += 1;
    }
  }
  return report;
}

/** The resumed run starts from the newest backup and reports the true best: the best loss up to the newest epoch on disk. */
function checkResumed(result: ChildResult, disk: { backup: number; upTo: number }, ref: Reference, fail: (m: string) => void): void {
  const resumed = result.lines.find((l) => l.startsWith('RESUMED '))?.split(' ');
  if (!resumed) return;
  const initialEpoch = Number(resumed[1]);
  const reported = Number(resumed[2]);
  if (initialEpoch !== disk.backup) fail(`resumed at epoch ${initialEpoch}, but the newest backup on disk is of epoch ${disk.backup}`);
  const expected = trueBest(ref.losses, Math.max(initialEpoch, disk.upTo));
  if (Math.fround(reported) !== Math.fround(expected)) fail(`resumed at epoch ${initialEpoch} reporting best ${reported}, expected ${expected}`);
}

/** What a run did with its plan (for KILL_DEBUG). */
function outcome(result: ChildResult, plan: KillPlan): string {
  const epochs = result.lines.filter((l) => l.startsWith('EPOCH ')).length;
  const seen = plan.type === 'window' ? `, ${result.lines.filter((l) => l === `OP ${plan.window}`).length} occurrences of the window` : '';
  return `${result.killed ? 'killed' : 'not killed'} after ${epochs} epochs${seen}`;
}

function countKill(report: CampaignReport, plan: KillPlan, result: ChildResult): void {
  report.kills += 1;
  if (plan.type === 'time') {
    tally(report.killsByClass, 'random');
    tally(report.killsByWindow, `random after ${result.lastOp ?? 'READY'}`);
    return;
  }
  tally(report.killsByClass, classOf(plan.window)!);
  tally(report.killsByWindow, plan.window);
  if (result.lines.some((l) => l.startsWith('HELD '))) report.heldKills += 1;
}
