/**
 * Durable checkpoints under SIGKILL: a child trains with checkpoints while this process kills it at
 * random moments (many inside saves) and restarts it. After every kill every committed checkpoint
 * verifies and loads, no temporary is listed, the resumed run reports the true best so far, and the
 * run ends with the same weights as an uninterrupted one. `npm run stress` runs 500 kills.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runKillCampaign } from './kill_harness.js';
import { tempDir } from './helpers.js';

describe('kill test', () => {
  it('30 SIGKILLs at random moments: committed checkpoints always verify, best survives, the run finishes bit-identical', { timeout: 600_000 }, async () => {
    const report = await runKillCampaign({ workDir: await tempDir('tfjs-ckpt-kill-'), kills: 30, epochs: 40, seed: 20261126 });
    console.log(`kill test: ${JSON.stringify(report)}`);
    assert.deepEqual(report.failures, []);
    assert.ok(report.kills >= 30);
    assert.ok(report.killsLeavingTemporaries > 0, 'some kills landed inside saves');
    assert.ok(report.completedRuns >= 1);
  });
});
