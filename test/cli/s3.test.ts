/**
 * The built CLI on s3:// URLs against a real S3 server (s3rver on 127.0.0.1): checkpoints written by
 * real training through the S3 store, then listed, inspected, verified, compared, exported, pruned
 * (dry run, then for real) and plotted by the CLI, with the endpoint from `--endpoint` or from the
 * standard AWS variables; a missing bucket is one clear line.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { registerStore } from '../../src/index.js';
import { S3Store } from '../../src/stores/s3.js';
import { tempDir } from '../helpers.js';
import { startS3Server, type S3TestServer } from '../stores/s3_server.js';
import { assertOneLineError, ensureBuilt, runCli, trainWithCheckpoints } from './cli_helpers.js';

let server: S3TestServer;
let local: string;
const CREDENTIALS = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1', TFJS_CHECKPOINT_S3_ENDPOINT: undefined, AWS_ENDPOINT_URL: undefined,
  // The test server's module sets this for the test process; the CLI must quiet the notice itself.
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: undefined,
};
const RUN = 's3://bucket/run';

/** The CLI with the server as `--endpoint`. */
function s3cli(args: string[], env: Record<string, string | undefined> = {}) {
  return runCli([...args, '--endpoint', server.endpoint], { ...CREDENTIALS, ...env });
}

interface ListJson {
  location: string;
  checkpoints: { path: string; name: string; epoch: number; best: boolean; latest: boolean; bytes: number; check: { ok: boolean } }[];
}

before(async () => {
  ensureBuilt();
  server = await startS3Server({ buckets: ['bucket'] });
  registerStore('s3', new S3Store({ client: server.client() }));
  local = await tempDir('tfjs-ckpt-cli-s3-');
  await trainWithCheckpoints(`${RUN}/w{epoch:02d}-{val_loss:.3f}`, { epochs: 4 });
});
after(async () => {
  await server?.stop();
});

describe('the CLI on s3:// URLs', () => {
  let listed: ListJson;

  it('list: the same table as on disk; --endpoint or AWS_ENDPOINT_URL; two spellings are one place', async () => {
    const r = await s3cli(['list', RUN]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Checkpoints in s3:\/\/bucket\/run$/m);
    assert.match(r.stdout, /^\*>\s+w04-\d\.\d{3}\s+4\s+12\s/m);
    assert.match(r.stdout, /^4 checkpoints; \* best, > latest$/m);
    listed = JSON.parse((await s3cli(['list', RUN, '--json', '--verify'])).stdout) as ListJson;
    assert.deepEqual(listed.checkpoints.map((c) => [c.epoch, c.check.ok]), [[1, true], [2, true], [3, true], [4, true]]);
    assert.ok(listed.checkpoints.every((c) => c.path.startsWith('s3://bucket/run/w0') && c.bytes > 1000));
    const fromEnv = await runCli(['list', 's3://bucket//run/./', '--json', '--verify'], { ...CREDENTIALS, AWS_ENDPOINT_URL: server.endpoint });
    assert.equal(fromEnv.code, 0, fromEnv.stderr);
    assert.deepEqual(JSON.parse(fromEnv.stdout), listed);
  });

  it('inspect, verify and diff read from the bucket', async () => {
    const [first, last] = [listed.checkpoints[0]!.path, listed.checkpoints[3]!.path];
    const inspected = await s3cli(['inspect', last]);
    assert.equal(inspected.code, 0, inspected.stderr);
    assert.match(inspected.stdout, new RegExp(`^Checkpoint  ${last}$`, 'm'));
    assert.match(inspected.stdout, /^dense_Dense1\/kernel\s+\[4, 8\]\s+float32\s+128$/m);
    const verified = await s3cli(['verify', RUN]);
    assert.equal(verified.code, 0, verified.stderr);
    assert.match(verified.stdout, /^All 4 checkpoints verified\.$/m);
    assert.equal((await s3cli(['diff', last, last])).code, 0);
    assert.equal((await s3cli(['diff', first, last])).code, 1);
  });

  it('export from the bucket to disk and back: the weights are equal', async () => {
    const last = listed.checkpoints[3]!.path;
    const onDisk = join(local, 'best.safetensors');
    const out = await s3cli(['export', last, onDisk]);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, new RegExp(`^Exported ${last} \\(tfjs\\) to ${onDisk} \\(safetensors\\): 4 weights`));
    const back = await s3cli(['export', onDisk, '--to', 'tfjs', 's3://bucket/exported/best']);
    assert.equal(back.code, 0, back.stderr);
    assert.equal((await s3cli(['diff', last, 's3://bucket/exported/best'])).code, 0);
    assert.equal((await s3cli(['verify', 's3://bucket/exported/best'])).code, 0);
  });

  it('plot and prune: the dry run names what prune then deletes', async () => {
    const plot = await s3cli(['plot', RUN]);
    assert.equal(plot.code, 0, plot.stderr);
    assert.match(plot.stdout, /^epochs: 1 2 3 4 /m);
    const dry = JSON.parse((await s3cli(['prune', RUN, '--keep-last', '2', '--dry-run', '--json'])).stdout) as { delete: { path: string }[]; freedBytes: number };
    assert.deepEqual(dry.delete.map((d) => d.path), listed.checkpoints.slice(0, 2).map((c) => c.path));
    const real = JSON.parse((await s3cli(['prune', RUN, '--keep-last', '2', '--json'])).stdout) as typeof dry;
    assert.deepEqual(real.delete, dry.delete);
    assert.equal(real.freedBytes, dry.freedBytes);
    const left = JSON.parse((await s3cli(['list', RUN, '--json'])).stdout) as ListJson;
    assert.deepEqual(left.checkpoints.map((c) => c.epoch), [3, 4]);
  });

  it('a bucket that does not exist: one clear line, exit 2', async () => {
    const r = await s3cli(['list', 's3://no-such-bucket/run']);
    assert.equal(r.code, 2);
    assertOneLineError(r, /^tfjs-checkpoint: error: .*s3:\/\/no-such-bucket\/run.*The bucket "no-such-bucket" does not exist/);
    const unreachable = await runCli(['verify', 's3://bucket/run', '--endpoint', 'http://127.0.0.1:1'], CREDENTIALS);
    assert.equal(unreachable.code, 2);
    assertOneLineError(unreachable, /could not be reached/);
  });
});
