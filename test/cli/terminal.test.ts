/**
 * What the CLI does only on a terminal (run on a pseudo-terminal with util-linux `script`): the
 * progress bar of `verify` on a large checkpoint, and `prune` asking before it deletes.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { CheckpointManager } from '../../src/index.js';
import { tempDir } from '../helpers.js';
import { ensureBuilt, NO_SCRIPT, runCli, runOnTerminal, trainWithCheckpoints } from './cli_helpers.js';

let root: string;

before(async () => {
  ensureBuilt();
  root = await tempDir('tfjs-ckpt-cli-tty-');
});

describe('on a terminal', { skip: NO_SCRIPT }, () => {
  it('verify shows a progress bar for a large checkpoint (on the terminal only), and none when piped', async () => {
    const dir = join(root, 'large');
    const manager = new CheckpointManager({ directory: dir, asyncSave: false });
    const big = tf.fill([10 * 1024 * 1024], 0.5); // 40 MiB
    await manager.save(1, { big });
    big.dispose();
    const onTerminal = await runOnTerminal(['verify', dir]);
    assert.equal(onTerminal.code, 0, onTerminal.output);
    assert.match(onTerminal.output, /verifying .*\d+% \| .* of 40\.0 MiB/);
    assert.match(onTerminal.output, /All 1 checkpoint verified\./);
    const piped = await runCli(['verify', dir]);
    assert.equal(piped.code, 0);
    assert.equal(piped.stderr, '');
    assert.doesNotMatch(piped.stdout, /verifying|%/);
  });

  it('prune asks before deleting; "n" deletes nothing, --yes does not ask', async () => {
    const run = join(root, 'run');
    await trainWithCheckpoints(join(run, 'w{epoch:02d}'), { epochs: 3 });
    const copy = join(root, 'run-copy');
    await cp(run, copy, { recursive: true });
    const declined = await runOnTerminal(['prune', run, '--keep-last', '1'], {}, 'n\n');
    assert.equal(declined.code, 0, declined.output);
    assert.match(declined.output, /Delete 2 checkpoints\? \[y\/N\]/);
    assert.match(declined.output, /Nothing was deleted\./);
    assert.equal((JSON.parse((await runCli(['list', run, '--json'])).stdout) as { checkpoints: unknown[] }).checkpoints.length, 3);
    const accepted = await runOnTerminal(['prune', run, '--keep-last', '1'], {}, 'y\n');
    assert.match(accepted.output, /Deleted 2 checkpoints/);
    const yes = await runOnTerminal(['prune', copy, '--keep-last', '1', '--yes']);
    assert.doesNotMatch(yes.output, /\[y\/N\]/);
    assert.match(yes.output, /Deleted 2 checkpoints/);
    assert.equal((JSON.parse((await runCli(['list', copy, '--json'])).stdout) as { checkpoints: unknown[] }).checkpoints.length, 1);
  });
});
