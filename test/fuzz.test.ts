/** Fuzzing the loader (issue: durable checkpoints §5): 1,000+ damaged or hostile checkpoints. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runFuzz } from './fuzz_harness.js';
import { tempDir } from './helpers.js';

describe('loader fuzz', () => {
  it('1,000 mutated, truncated and hostile checkpoints: every one a typed error, or a load of exactly the saved weights (or, without checkpoint.json, counted as unverified)', { timeout: 600_000 }, async () => {
    const report = await runFuzz({ workDir: await tempDir('tfjs-ckpt-fuzz-'), cases: 400, seed: 7 });
    console.log(`fuzz: ${JSON.stringify({ ...report, failures: report.failures.length })}`);
    assert.deepEqual(report.failures.slice(0, 10), []);
    assert.ok(report.cases >= 1000, `${report.cases} loads`);
    assert.ok(report.typedErrors > report.cases / 2, 'most mutations are caught');
    assert.ok(report.loaded > 0 && report.unverified > 0, 'intact-enough checkpoints of both kinds load');
  });
});
