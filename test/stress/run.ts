/**
 * `npm run stress`: the long runs that do not belong in `npm test`.
 *   - 500 SIGKILLs of a training child aimed at the windows of its saves (see kill_harness.ts)
 *   - 100 SIGKILLs of two writer processes sharing one template and one fixed path while this
 *     process reads (see two_writers_harness.ts)
 *   - 20,000 fuzzed checkpoint loads (see fuzz_harness.ts)
 * Options: --kills N, --writer-kills N, --writer-epochs N, --fuzz N, --seed N. Prints the counts;
 * exits 1 on any failure.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runFuzz } from '../fuzz_harness.js';
import { runKillCampaign } from '../kill_harness.js';
import { runTwoWriterCampaign } from '../two_writers_harness.js';

tf.enableProdMode();
const { values } = parseArgs({
  options: {
    kills: { type: 'string', default: '500' },
    'writer-kills': { type: 'string', default: '100' },
    'writer-epochs': { type: 'string', default: '10' },
    fuzz: { type: 'string', default: '20000' },
    seed: { type: 'string', default: '1' },
  },
});
const kills = Number(values.kills);
const writerKills = Number(values['writer-kills']);
const writerEpochs = Number(values['writer-epochs']);
const fuzzLoads = Number(values.fuzz);
const seed = Number(values.seed);

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(0)} s`;
}

/** Counts as `key: n, key: n`, largest first. */
function counts(record: Record<string, number>): string {
  return Object.entries(record).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([k, n]) => `${k}: ${n}`).join(', ') || 'none';
}

async function killCampaign(work: string): Promise<boolean> {
  const started = Date.now();
  console.log(`kill campaign: ${kills} SIGKILLs (seed ${seed}) ...`);
  const r = await runKillCampaign({ workDir: join(work, 'kill'), kills, epochs: 40, seed, log: (l) => console.log(`  ${l}`) });
  console.log(
    `kill campaign: ${r.kills} kills (${r.heldKills} held at their window, ${r.killsLeavingTemporaries} leaving temporaries), ${r.restarts} restarts, ` +
      `${r.completedRuns} runs completed bit-identical, ${r.checkpointsVerified} checkpoint verifications, ` +
      `${r.fixedPathSetAside} kills left the fixed path set aside, ${r.aimedNotReached} aimed windows not reached, ${r.failures.length} failures (${seconds(started)})`,
  );
  console.log(`  kills per kind of window: ${counts(r.killsByClass)}`);
  console.log(`  kills per window: ${counts(r.killsByWindow)}`);
  console.log(`  temporaries left after completed runs: ${counts(r.leftAfterCompletedRuns)}`);
  for (const f of r.failures) console.log(`  FAIL ${f}`);
  return r.failures.length === 0;
}

async function twoWriterCampaign(work: string): Promise<boolean> {
  const started = Date.now();
  console.log(`two-writer campaign: 2 writers × ${writerEpochs} epochs, ${writerKills} SIGKILLs (seed ${seed}) ...`);
  const r = await runTwoWriterCampaign({ workDir: join(work, 'writers'), writers: 2, epochs: writerEpochs, kills: writerKills, seed, log: (l) => console.log(`  ${l}`) });
  console.log(
    `two-writer campaign: ${r.kills} kills (${r.heldKills} held at their window), ${r.writerRuns} writer runs in ${r.rounds} rounds, ` +
      `${r.versionedNames} versioned names, ${r.claimedAtCommit} names claimed at commit, ${r.probes} reader probes, ${r.reads} templated reads, ` +
      `${r.fixedReads} fixed-path reads, ${r.readerRetries} reader retries, ${r.failures.length} failures (${seconds(started)})`,
  );
  console.log(`  kills per window: ${counts(r.killsByWindow)}`);
  console.log(`  false CORRUPT_CHECKPOINT: ${counts(r.falseCorrupt)}`);
  console.log(`  temporaries left after every writer finished: ${counts(r.leftoversAfterFinish)}; after the next writer's repair: ${counts(r.leftoversAfterRepair)}`);
  for (const f of r.failures.slice(0, 30)) console.log(`  FAIL ${f}`);
  if (r.failures.length > 30) console.log(`  … and ${r.failures.length - 30} more failures`);
  return r.failures.length === 0;
}

async function fuzzCampaign(work: string): Promise<boolean> {
  const started = Date.now();
  // Each case makes two or three loads (loadWeights, verify, and loadModel for full models).
  const r = await runFuzz({ workDir: join(work, 'fuzz'), cases: Math.ceil(fuzzLoads / 2.5), seed });
  console.log(
    `fuzz: ${r.cases} loads of damaged checkpoints: ${r.loaded} loaded the saved weights, ${r.typedErrors} typed errors, ` +
      `${r.unverified} returned without checksums to check (${r.unverifiedWrong} of them wrong weights), ` +
      `${r.failures.length} failures (crashes, hangs or untyped errors) (${seconds(started)})`,
  );
  for (const f of r.failures.slice(0, 20)) console.log(`  FAIL ${f}`);
  return r.failures.length === 0;
}

const work = await mkdtemp(join(tmpdir(), 'tfjs-ckpt-stress-'));
let passed = true;
try {
  if (kills > 0) passed = (await killCampaign(work)) && passed;
  if (writerKills > 0) passed = (await twoWriterCampaign(work)) && passed;
  if (fuzzLoads > 0) passed = (await fuzzCampaign(work)) && passed;
} finally {
  await rm(work, { recursive: true, force: true });
}
console.log(passed ? 'stress: all passed' : 'stress: FAILED');
process.exit(passed ? 0 : 1);
