/**
 * Durable checkpoints under SIGKILL: a child trains with four asynchronous checkpointing callbacks
 * (a backup listed first, a best-only checkpoint with pointers, an every-epoch one with retention, a
 * fixed path replaced every epoch) while this process kills it right after chosen steps of its saves
 * (the fixed-path swap, retention deletions, backup rotation, pointer updates, commits, writes) or
 * at random times, and restarts it. After every kill every committed checkpoint verifies and loads,
 * no temporary is listed, pointers name listed checkpoints, the fixed path stays visible, the commit
 * order holds, the resumed run reports the true best so far, and the run ends with the same weights
 * as an uninterrupted one and no temporaries. `npm run stress` runs 500 kills.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runKillCampaign } from './kill_harness.js';
import { tempDir } from './helpers.js';

describe('kill test', () => {
  it('30 SIGKILLs aimed at the windows of saves: committed checkpoints always verify, order and best survive, the run finishes bit-identical', { timeout: 900_000 }, async () => {
    const started = performance.now();
    const report = await runKillCampaign({ workDir: await tempDir('tfjs-ckpt-kill-'), kills: 30, epochs: 40, seed: 20261126 });
    console.log(`kill test (seed 20261126, ${((performance.now() - started) / 1000).toFixed(0)} s): ${JSON.stringify(report)}`);
    assert.deepEqual(report.failures, []);
    assert.ok(report.kills >= 30);
    assert.ok(report.killsLeavingTemporaries > 0, 'some kills landed inside saves');
    assert.ok(Object.keys(report.killsByClass).length >= 5, `kills reached most kinds of window: ${JSON.stringify(report.killsByClass)}`);
    assert.ok(report.completedRuns >= 1);
  });
});
