/**
 * Two writer processes save the same epochs concurrently to one template and one fixed path, are
 * SIGKILLed at chosen steps and restarted, while this process lists, verifies and loads: nothing is
 * lost or replaced by the other writer, both saves of an epoch exist (wNN and wNN-v1), every listed
 * checkpoint reads as its writer's save, readers never see a false CORRUPT_CHECKPOINT, and no
 * temporary is left. `npm run stress` runs a longer campaign.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runTwoWriterCampaign } from './two_writers_harness.js';
import { tempDir } from './helpers.js';

describe('two writers', () => {
  it('2 writers × 5 epochs, 3 SIGKILLs: nothing lost or replaced, every read verifies, no temporaries left', { timeout: 300_000 }, async () => {
    const started = performance.now();
    const report = await runTwoWriterCampaign({ workDir: await tempDir('tfjs-ckpt-writers-'), writers: 2, epochs: 5, kills: 3, seed: 20261127 });
    console.log(`two writers (seed 20261127, ${((performance.now() - started) / 1000).toFixed(0)} s): ${JSON.stringify(report)}`);
    assert.deepEqual(report.failures, []);
    assert.ok(report.kills >= 3);
    assert.ok(report.reads > 0 && report.fixedReads > 0);
    assert.ok(report.versionedNames >= 5, 'every epoch was saved by both writers');
  });
});
