/**
 * `npm run stress`: the long runs that do not belong in `npm test`.
 *   - 500 SIGKILLs of a training child (see kill_harness.ts)
 *   - 20,000 fuzzed checkpoint loads (see fuzz_harness.ts)
 * Options: --kills N, --fuzz N, --seed N. Prints the counts; exits 1 on any failure.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runFuzz } from '../fuzz_harness.js';
import { runKillCampaign } from '../kill_harness.js';

tf.enableProdMode();
const { values } = parseArgs({ options: { kills: { type: 'string', default: '500' }, fuzz: { type: 'string', default: '20000' }, seed: { type: 'string', default: '1' } } });
const kills = Number(values.kills);
const fuzzLoads = Number(values.fuzz);
const seed = Number(values.seed);

const work = await mkdtemp(join(tmpdir(), 'tfjs-ckpt-stress-'));
let failed = false;
try {
  const started = Date.now();
  console.log(`kill campaign: ${kills} SIGKILLs (seed ${seed}) ...`);
  const killReport = await runKillCampaign({ workDir: join(work, 'kill'), kills, epochs: 40, seed, log: (l) => console.log(`  ${l}`) });
  console.log(
    `kill campaign: ${killReport.kills} kills (${killReport.killsLeavingTemporaries} inside saves), ${killReport.restarts} restarts, ` +
      `${killReport.completedRuns} runs completed bit-identical, ${killReport.checkpointsVerified} checkpoint verifications, ` +
      `${killReport.failures.length} failures (${((Date.now() - started) / 1000).toFixed(0)} s)`,
  );
  for (const f of killReport.failures) console.log(`  FAIL ${f}`);
  failed ||= killReport.failures.length > 0;

  const fuzzStarted = Date.now();
  // Each case makes two or three loads (loadWeights, verify, and loadModel for full models).
  const fuzzReport = await runFuzz({ workDir: join(work, 'fuzz'), cases: Math.ceil(fuzzLoads / 2.5), seed });
  console.log(
    `fuzz: ${fuzzReport.cases} loads of damaged checkpoints: ${fuzzReport.loaded} loaded the saved weights, ${fuzzReport.typedErrors} typed errors, ` +
      `${fuzzReport.unverified} returned without checksums to check (${fuzzReport.unverifiedWrong} of them wrong weights), ` +
      `${fuzzReport.failures.length} failures (crashes, hangs or untyped errors) (${((Date.now() - fuzzStarted) / 1000).toFixed(0)} s)`,
  );
  for (const f of fuzzReport.failures.slice(0, 20)) console.log(`  FAIL ${f}`);
  failed ||= fuzzReport.failures.length > 0;
} finally {
  await rm(work, { recursive: true, force: true });
}
console.log(failed ? 'stress: FAILED' : 'stress: all passed');
process.exit(failed ? 1 : 0);
