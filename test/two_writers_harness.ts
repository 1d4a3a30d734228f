/**
 * The two-writer campaign: writer processes (fixtures/writer_child.ts) save the same epochs
 * concurrently to ONE template (`w{epoch:02d}`) and replace ONE fixed path, are SIGKILLed at random
 * (right after a chosen step of a save, or at a random time) and restarted, while this process reads
 * whenever a writer announces a step: it lists, verifies and loads. Checks: a checkpoint once seen is
 * never lost or replaced by another writer; each writer's save of an epoch exists exactly once (as
 * `wNN`, `wNN-v1`, …); every listed checkpoint verifies and loads with its writer's content; a reader
 * never gets CORRUPT_CHECKPOINT (it may retry NOT_FOUND on the fixed path: a swap in progress);
 * once committed the fixed path stays visible; and no temporary is left once every writer finished.
 * Used by two_writers.test.ts (a few kills) and by `npm run stress`. KILL_DEBUG=1 logs each writer
 * run's plan and outcome. The seed fixes the sequence of plans; which writer run gets which plan
 * depends on how the two processes interleave, so a failure replays in kind, not step for step.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CheckpointError, CheckpointManager, latestCheckpoint, verify, type CheckpointRecord } from '../src/index.js';
import { contentValue, writerPaths, writerStep } from './fixtures/writer_child.js';
import { seededRandom } from './helpers.js';
import { runChild, tally, temporariesIn, type ChildResult, type KillPlan } from './kill_plan.js';

const WRITER = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'writer_child.ts');

/** A writer's windows and how often each occurs per epoch (3 files per checkpoint). */
const WRITER_WINDOWS: [string, number][] = [
  ['write template', 3],
  ['write fixed', 3],
  ['rename-commit template', 1],
  ['rename-aside fixed', 1],
  ['rename-swap fixed', 1],
  ['rm-aside fixed', 1],
];

/** Chance that a writer process gets a kill plan (while kills remain to be made). */
const KILL_CHANCE = 0.75;
const RANDOM_SHARE = 0.25;
/** Rounds before giving up on making the kills asked for (a round ends when every writer finished). */
const MAX_ROUNDS = 200;
/** Attempts at reading the fixed path while NOT_FOUND (it was caught mid-swap). */
const READ_ATTEMPTS = 5;

export interface TwoWriterOptions {
  workDir: string;
  writers: number;
  epochs: number;
  kills: number;
  seed: number;
  log?: (line: string) => void;
}

export interface TwoWriterReport {
  rounds: number;
  kills: number;
  killsByWindow: Record<string, number>;
  heldKills: number;
  writerRuns: number;
  /** Commits whose name another writer took meanwhile (saved under the next version instead). */
  claimedAtCommit: number;
  /** Names with a version suffix at the end of the rounds. */
  versionedNames: number;
  probes: number;
  /** Checkpoints verified and loaded (content checked) by the reader. */
  reads: number;
  fixedReads: number;
  /** NOT_FOUND retries on the fixed path. */
  readerRetries: number;
  /** CORRUPT_CHECKPOINT errors a reader got from a checkpoint that was fine. */
  falseCorrupt: Record<string, number>;
  /** Temporaries present once every writer finished, and after one more writer's repair. */
  leftoversAfterFinish: Record<string, number>;
  leftoversAfterRepair: Record<string, number>;
  failures: string[];
}

interface Identity {
  writer: number;
  epoch: number;
  step: number;
}

function sameIdentity(a: Identity, b: Identity): boolean {
  return a.writer === b.writer && a.epoch === b.epoch && a.step === b.step;
}

function identityOf(record: CheckpointRecord): Identity {
  return { writer: record.metadata.metrics['writer'] as number, epoch: record.metadata.epoch ?? -1, step: record.metadata.step ?? -1 };
}

/** Loads a checkpoint's tensors and checks they are one writer's save of one epoch (nothing mixed). */
async function loadContent(manager: CheckpointManager, path: string): Promise<Identity> {
  const tensors = (await manager.restore(path)) as tf.NamedTensorMap;
  try {
    const [writer, epoch, step] = Array.from(tensors['id']!.dataSync());
    const identity = { writer: writer!, epoch: epoch!, step: step! };
    const off = tf.tidy(() => tensors['w']!.sub(contentValue(identity.writer, identity.epoch)).abs().max().dataSync()[0]!);
    if (identity.step !== writerStep(identity.writer, identity.epoch) || off !== 0) {
      throw new Error(`${path} holds mixed content: id ${JSON.stringify(identity)}, weights off by ${off}`);
    }
    return identity;
  } finally {
    tf.dispose(tensors);
  }
}

/** The reader: what it has seen, and one probe of the directory. */
class Reader {
  private readonly seen = new Map<string, Identity>();
  private readonly checked = new Set<string>();
  private fixedSeen = false;
  /** Per writer, the newest of its saves the fixed path has shown: a writer saves epochs in order, so it never goes back. */
  private readonly fixedNewest = new Map<number, number>();
  private readonly templated: CheckpointManager;
  private readonly fixed: CheckpointManager;
  private readonly fixedPath: string;

  constructor(
    dir: string,
    private readonly report: TwoWriterReport,
    private readonly fail: (message: string) => void,
  ) {
    const paths = writerPaths(dir);
    this.templated = new CheckpointManager({ filepath: paths.template });
    this.fixed = new CheckpointManager({ filepath: paths.fixed });
    this.fixedPath = paths.fixed;
  }

  /** Lists, and verifies and loads what it has not read yet (plus one it has, and the fixed path). */
  async probe(random: () => number, all = false): Promise<CheckpointRecord[]> {
    this.report.probes += 1;
    const records = await this.templated.list();
    const listed = new Set(records.map((r) => r.path));
    for (const [path, identity] of this.seen) {
      if (!listed.has(path)) this.fail(`${path} (writer ${identity.writer}, epoch ${identity.epoch}) was listed before and is gone: a checkpoint was lost`);
    }
    const again = records[Math.floor(random() * records.length)]?.path;
    for (const record of records) {
      const identity = identityOf(record);
      if (record.path.includes('.tmp-') || record.path.includes('.old-')) this.fail(`list() returned a temporary: ${record.path}`);
      const before = this.seen.get(record.path);
      if (before && !sameIdentity(before, identity)) {
        this.fail(`${record.path} was writer ${before.writer}'s epoch ${before.epoch} and is now writer ${identity.writer}'s epoch ${identity.epoch}: replaced by another writer`);
      }
      this.seen.set(record.path, identity);
      if (!all && this.checked.has(record.path) && record.path !== again) continue;
      this.checked.add(record.path);
      await this.read(this.templated, record.path, 'template', identity);
    }
    await this.probeFixed();
    return records;
  }

  /** Once committed, the fixed path is listed and found by latestCheckpoint, and reads as one writer's save. */
  private async probeFixed(): Promise<void> {
    const records = await this.fixed.list();
    const listed = records.some((r) => r.path === this.fixedPath);
    if (this.fixedSeen && !listed) this.fail(`the fixed-path checkpoint ${this.fixedPath} was committed but list() does not show it`);
    if (this.fixedSeen || listed) {
      const latest = await latestCheckpoint(this.fixedPath);
      if (latest !== this.fixedPath) this.fail(`latestCheckpoint(${this.fixedPath}) returned ${latest} after the fixed path was committed`);
    }
    this.fixedSeen ||= listed;
    if (this.fixedSeen) await this.read(this.fixed, this.fixedPath, 'fixed');
  }

  private checkFixedNewer(path: string, loaded: Identity): void {
    this.report.fixedReads += 1;
    const newest = this.fixedNewest.get(loaded.writer) ?? 0;
    if (loaded.epoch < newest) this.fail(`${path} went back to writer ${loaded.writer}'s epoch ${loaded.epoch} after showing its epoch ${newest}`);
    this.fixedNewest.set(loaded.writer, Math.max(newest, loaded.epoch));
  }

  /**
   * Verifies and loads one checkpoint. The fixed path may be caught mid-swap and read as NOT_FOUND:
   * that is retried. Any CORRUPT_CHECKPOINT is a false one (nothing here damages files).
   */
  private async read(manager: CheckpointManager, path: string, kind: 'template' | 'fixed', expected?: Identity): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const verified = await verify(path);
        const loaded = await loadContent(manager, path);
        if (expected && (!sameIdentity(loaded, expected) || verified.metadata?.step !== expected.step)) {
          this.fail(`${path} was listed as ${JSON.stringify(expected)} but reads as ${JSON.stringify(loaded)} (verify says step ${verified.metadata?.step})`);
        }
        if (kind === 'fixed') this.checkFixedNewer(path, loaded);
        else this.report.reads += 1;
        return;
      } catch (e) {
        const code = e instanceof CheckpointError ? e.code : undefined;
        if (code === 'NOT_FOUND' && kind === 'fixed' && attempt < READ_ATTEMPTS) {
          this.report.readerRetries += 1;
          continue;
        }
        if (code === 'CORRUPT_CHECKPOINT') tally(this.report.falseCorrupt, kind);
        this.fail(`reading ${kind} checkpoint ${path} (attempt ${attempt}): ${code ?? 'error'}: ${(e as Error).message}`);
        return;
      }
    }
  }
}

/** Each writer's save of every epoch exists exactly once, and an epoch's saves are named wNN, wNN-v1, …. */
function checkFinalNames(records: readonly CheckpointRecord[], writers: number, epochs: number, fail: (m: string) => void): void {
  for (let epoch = 1; epoch <= epochs; epoch++) {
    const ofEpoch = records.filter((r) => r.metadata.epoch === epoch);
    const base = join(dirname(records[0]?.path ?? '/'), `w${String(epoch).padStart(2, '0')}`);
    const names = ofEpoch.map((r) => r.path).sort();
    const expected = Array.from({ length: writers }, (_, v) => (v === 0 ? base : `${base}-v${v}`)).sort();
    if (JSON.stringify(names) !== JSON.stringify(expected)) fail(`epoch ${epoch} is saved as ${JSON.stringify(names)}, expected ${JSON.stringify(expected)}`);
    for (let writer = 1; writer <= writers; writer++) {
      const count = ofEpoch.filter((r) => r.metadata.metrics['writer'] === writer).length;
      if (count !== 1) fail(`writer ${writer}'s save of epoch ${epoch} exists ${count} times`);
    }
  }
}

function describePlan(plan: KillPlan | undefined): string {
  if (!plan) return 'no kill';
  return plan.type === 'time' ? `random time ${plan.delayMs} ms after READY` : `${plan.hold ? 'held at' : 'after'} occurrence ${plan.occurrence} of "${plan.window}" + ${plan.delayMs} ms`;
}

export async function runTwoWriterCampaign(options: TwoWriterOptions): Promise<TwoWriterReport> {
  const { writers, epochs, log = () => undefined } = options;
  const random = seededRandom(options.seed);
  const report: TwoWriterReport = {
    rounds: 0,
    kills: 0,
    killsByWindow: {},
    heldKills: 0,
    writerRuns: 0,
    claimedAtCommit: 0,
    versionedNames: 0,
    probes: 0,
    reads: 0,
    fixedReads: 0,
    readerRetries: 0,
    falseCorrupt: {},
    leftoversAfterFinish: {},
    leftoversAfterRepair: {},
    failures: [],
  };
  let planned = 0;
  /** A kill plan for a writer that has `remaining` epochs to save, while kills remain to be made. */
  const choosePlan = (remaining: number): KillPlan | undefined => {
    if (planned >= options.kills || random() >= KILL_CHANCE) return undefined;
    planned += 1;
    if (random() < RANDOM_SHARE) return { type: 'time', delayMs: Math.floor(random() * 150 * Math.max(1, remaining)) };
    const [window, perEpoch] = WRITER_WINDOWS[Math.floor(random() * WRITER_WINDOWS.length)]!;
    return { type: 'window', window, occurrence: 1 + Math.floor(random() * perEpoch * Math.max(1, remaining)), hold: random() < 0.5, delayMs: Math.floor(random() * 3) };
  };
  // Rounds go on after a failure: a reader's false corruption says nothing about the writers' promises.
  while (report.kills < options.kills && report.rounds < MAX_ROUNDS) {
    await runRound(join(options.workDir, `round-${report.rounds}`), report, options, random, choosePlan, () => (planned -= 1));
    report.rounds += 1;
    log(`round ${report.rounds} finished: ${report.kills} kills in total`);
  }
  return report;
}

async function runRound(
  dir: string,
  report: TwoWriterReport,
  options: TwoWriterOptions,
  random: () => number,
  choosePlan: (remaining: number) => KillPlan | undefined,
  unplan: () => void,
): Promise<void> {
  await mkdir(dir, { recursive: true });
  const round = report.rounds;
  const fail = (message: string) => report.failures.push(`seed ${options.seed}, round ${round}: ${message}`);
  const reader = new Reader(dir, report, fail);
  const committed = new Map<number, number>(); // writer → newest epoch the reader saw of it
  const processes = new Map<string, string>(); // pid → which writer run it was, and how it ended
  // The reader probes whenever a writer announces a step (coalesced: at most one probe runs, one waits).
  let probing: Promise<void> | null = null;
  let again = false;
  // Resolves once a probe that started after the call has finished (probes never overlap: each compares with the last).
  const probe = (): Promise<void> => {
    if (probing) {
      again = true;
      return probing;
    }
    probing = (async () => {
      do {
        again = false;
        for (const r of await reader.probe(random)) committed.set(identityOf(r).writer, Math.max(committed.get(identityOf(r).writer) ?? 0, r.metadata.epoch ?? 0));
      } while (again);
    })().finally(() => (probing = null));
    return probing;
  };
  const runWriter = async (writer: number): Promise<void> => {
    for (;;) {
      await probe(); // what this writer has committed decides where the next kill can land
      const plan = choosePlan(options.epochs - (committed.get(writer) ?? 0));
      const child = runChild({ script: WRITER, args: [dir, String(writer), String(options.epochs)], plan, watchdogMs: 120_000, onLine: (l) => void (l.startsWith('OP ') && probe()) });
      const result = await child.done;
      processes.set(String(child.pid), `writer ${writer} (${result.killed ? 'killed' : result.code === 0 ? 'finished' : `exit ${result.code}`}, ${describePlan(plan)})`);
      if (process.env['KILL_DEBUG']) options.log?.(`writer ${writer} pid ${child.pid}: ${describePlan(plan)}: ${result.killed ? 'killed' : 'exit ' + result.code}; ${result.lines.filter((l) => l.startsWith('HELD') || l.startsWith('CLAIMED')).join(' | ')}`);
      report.writerRuns += 1;
      report.claimedAtCommit += result.lines.filter((l) => l.startsWith('CLAIMED ')).length;
      if (!finishedRun(result, plan, writer, report, fail)) return;
      if (!result.killed && plan) unplan();
      if (!result.killed) return;
    }
  };
  await Promise.all(Array.from({ length: options.writers }, (_, i) => runWriter(i + 1)));
  while (probing) await probing;
  await finalChecks(dir, reader, report, options, random, fail, processes);
}

/** Counts a writer run; false when it failed (the round stops restarting that writer). */
function finishedRun(result: ChildResult, plan: KillPlan | undefined, writer: number, report: TwoWriterReport, fail: (m: string) => void): boolean {
  const where = `writer ${writer} (${describePlan(plan)})`;
  if (result.hung) {
    fail(`${where} hung (killed by the watchdog); last lines: ${result.lines.slice(-5).join(' | ')}`);
    return false;
  }
  if (result.killed) {
    report.kills += 1;
    tally(report.killsByWindow, plan?.type === 'window' ? plan.window : `random after ${result.lastOp ?? 'READY'}`);
    if (result.lines.some((l) => l.startsWith('HELD '))) report.heldKills += 1;
    return true;
  }
  if (result.code !== 0 || !result.lines.includes('DONE')) {
    fail(`${where} failed (exit ${result.code}): ${result.stderr.slice(0, 2000)}`);
    return false;
  }
  return true;
}

/** After every writer finished: names, a full read of everything, and no temporaries left (also after one more writer's repair). */
async function finalChecks(
  dir: string,
  reader: Reader,
  report: TwoWriterReport,
  options: TwoWriterOptions,
  random: () => number,
  fail: (m: string) => void,
  processes: ReadonlyMap<string, string>,
): Promise<void> {
  // Whose a temporary is: the pid in its token.
  const owner = (name: string) => `${name} of ${processes.get(/(?:\.tmp-|\.old-)(\d+)-/.exec(name)?.[1] ?? '') ?? 'an unknown process'}`;
  const records = await reader.probe(random, true);
  checkFinalNames(records, options.writers, options.epochs, fail);
  report.versionedNames += records.filter((r) => /-v\d+$/.test(r.path)).length;
  const left = await temporariesIn(dir);
  for (const name of left) tally(report.leftoversAfterFinish, name.replace(/-\d+-[0-9a-z]+-[0-9a-f]+$/, '-*'));
  if (left.length > 0) fail(`temporaries left after every writer finished: ${left.map(owner).join(', ')}`);
  // One more writer (with nothing left to save) only repairs: whatever dead writers left must go.
  const result = await runChild({ script: WRITER, args: [dir, '1', String(options.epochs)] }).done;
  if (result.code !== 0) fail(`the repairing writer failed: ${result.stderr.slice(0, 2000)}`);
  const still = await temporariesIn(dir);
  for (const name of still) tally(report.leftoversAfterRepair, name.replace(/-\d+-[0-9a-z]+-[0-9a-f]+$/, '-*'));
  if (still.length > 0) fail(`temporaries left even after the next writer's repair: ${still.map(owner).join(', ')}`);
}
