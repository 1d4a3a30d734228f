/**
 * A 1 GiB checkpoint through the S3 store, measured in child processes: saving needs at most
 * partSize × (queueSize + 2) (the documented bound, 48 MiB at the defaults) plus a fixed 32 MiB for
 * the SDK and HTTP buffers beyond the weights it was given; loading needs one copy of the weights
 * plus 64 MiB (ranges stream straight into the weight buffers; what is left is the HTTP responses'
 * chunks waiting for the garbage collector: 9 to 46 MiB measured, more with more, smaller ranges).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { startS3Server, type S3TestServer } from './stores/s3_server.js';

const CHILD = fileURLToPath(new URL('./fixtures/s3_memory_child.ts', import.meta.url));
const MiB = 1024 * 1024;
const PART_BOUND = 8 * MiB * (4 + 2);
const FIXED = 32 * MiB;

let server: S3TestServer;
before(async () => {
  server = await startS3Server();
});
after(async () => {
  await server.stop();
});

function run(mode: 'save' | 'load'): { extra: number; last?: number } {
  const env: NodeJS.ProcessEnv = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
  delete env['NODE_TEST_CONTEXT'];
  const child = spawnSync(process.execPath, ['--import', 'tsx', CHILD, mode, server.endpoint, 'big'], { encoding: 'utf8', env, maxBuffer: 1 << 24 });
  assert.equal(child.status, 0, child.stderr);
  return JSON.parse(child.stdout.trim().split('\n').pop()!);
}

describe('S3 memory', { skip: process.platform !== 'linux' && 'peak memory is read from /proc' }, () => {
  it('a 1 GiB checkpoint is saved within partSize × (queueSize + 2) of extra memory and loaded with one copy of the weights', { timeout: 300_000 }, () => {
    const saved = run('save');
    assert.ok(saved.extra <= PART_BOUND + FIXED, `saving used ${(saved.extra / MiB).toFixed(0)} MiB beyond the weights`);
    const loaded = run('load');
    assert.equal(loaded.last, 7.5);
    assert.ok(loaded.extra <= 64 * MiB, `loading used ${(loaded.extra / MiB).toFixed(0)} MiB beyond one copy of the weights`);
  });
});
