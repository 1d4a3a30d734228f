/**
 * The built CLI against checkpoints on disk made by real training: list, inspect, verify, prune,
 * diff and plot, their human output (key lines), `--json` shapes, exit codes on corruption, missing
 * files and bad arguments, no colour off a terminal or with NO_COLOR, and one spelling per place.
 */
import assert from 'node:assert/strict';
import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { tempDir } from '../helpers.js';
import { ANSI, assertOneLineError, ensureBuilt, NO_SCRIPT, runCli, runOnTerminal, trainWithCheckpoints } from './cli_helpers.js';

let root: string;
let run: string;
const TEMPLATE = 'w{epoch:02d}-{val_loss:.3f}';
let names: string[];

before(async () => {
  ensureBuilt();
  root = await tempDir('tfjs-ckpt-cli-');
  run = join(root, 'run');
  await trainWithCheckpoints(join(run, TEMPLATE), { epochs: 5 });
  const listed = await runCli(['list', run, '--json']);
  names = (JSON.parse(listed.stdout) as { checkpoints: { name: string }[] }).checkpoints.map((c) => c.name);
  assert.equal(names.length, 5);
});

/** A copy of the run to damage or prune. */
async function copyOfRun(name: string): Promise<string> {
  const dir = join(root, name);
  await cp(run, dir, { recursive: true });
  return dir;
}

interface ListJson {
  format: string;
  version: number;
  location: string;
  checkpoints: {
    path: string; name: string; format: string; kind: string | null; epoch: number | null; step: number | null; committedAt: string | null; bytes: number | null;
    monitor: { name: string; mode: string; value: number | null } | null; metrics: Record<string, number | string>; template: string | null; best: boolean; latest: boolean;
    check: { level: string; ok: boolean; checksums?: string; problem?: string };
  }[];
}

describe('list', () => {
  it('prints a table with epoch, step, the monitored metric, the other metrics, format, size, age, best and latest', async () => {
    const r = await runCli(['list', run]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines[0], `Checkpoints in ${run}`);
    assert.match(lines[1]!, /name\s+epoch\s+step\s+val_loss \(monitor\)\s+acc\s+loss\s+val_acc\s+format\s+size\s+age\s+check/);
    assert.equal(lines.length, 2 + 5 + 1);
    // val_loss falls every epoch here: the last one is both the best and the latest.
    assert.match(lines[6]!, new RegExp(`^\\*>\\s+${names[4]}\\s+5\\s+15\\s+\\d\\.\\d{4}\\s+.*tfjs\\s+\\d+\\.\\d+ KiB\\s+\\S+\\s+sizes ok$`));
    assert.match(lines[2]!, new RegExp(`^\\s+${names[0]}\\s+1\\s+3\\s`));
    assert.equal(lines[7], '5 checkpoints; * best, > latest');
    assert.doesNotMatch(r.stdout, ANSI);
  });

  it('--json has the documented shape', async () => {
    const r = await runCli(['list', run, '--json']);
    assert.equal(r.code, 0);
    const json = JSON.parse(r.stdout) as ListJson;
    assert.equal(json.format, 'tfjs-checkpoint-list');
    assert.equal(json.version, 1);
    assert.equal(json.location, run);
    assert.equal(json.checkpoints.length, 5);
    const last = json.checkpoints[4]!;
    assert.deepEqual(Object.keys(last).sort(), ['best', 'bytes', 'check', 'committedAt', 'epoch', 'format', 'kind', 'latest', 'metrics', 'monitor', 'name', 'path', 'step', 'template'].sort());
    assert.equal(last.path, join(run, names[4]!));
    assert.equal(last.format, 'tfjs');
    assert.equal(last.kind, 'model');
    assert.equal(last.epoch, 5);
    assert.equal(last.step, 15);
    assert.equal(last.template, TEMPLATE);
    assert.equal(last.monitor?.name, 'val_loss');
    assert.equal(last.monitor?.mode, 'min');
    assert.equal(last.monitor?.value, last.metrics['val_loss']);
    assert.deepEqual(Object.keys(last.metrics).sort(), ['acc', 'loss', 'val_acc', 'val_loss']);
    assert.ok(last.bytes! > 1000);
    assert.ok(!Number.isNaN(Date.parse(last.committedAt!)));
    assert.deepEqual(json.checkpoints.map((c) => [c.best, c.latest]), [[false, false], [false, false], [false, false], [false, false], [true, true]]);
    assert.deepEqual(last.check, { level: 'quick', ok: true });
    const verified = JSON.parse((await runCli(['list', run, '--json', '--verify'])).stdout) as ListJson;
    assert.deepEqual(verified.checkpoints[0]!.check, { level: 'full', ok: true, checksums: 'verified' });
  });

  it('every spelling of one place lists the same (relative, trailing slash, file:// URL, template)', async () => {
    const spellings = [run, `${run}/`, `${run}/./`, relative(process.cwd(), run), pathToFileURL(run).href, `${root}/x/../run`];
    const outputs = await Promise.all(spellings.map((s) => runCli(['list', s, '--json'])));
    for (const [i, out] of outputs.entries()) {
      assert.equal(out.code, 0, `${spellings[i]}: ${out.stderr}`);
      assert.deepEqual(JSON.parse(out.stdout), JSON.parse(outputs[0]!.stdout), spellings[i]);
    }
    const byTemplate = JSON.parse((await runCli(['list', join(run, TEMPLATE), '--json'])).stdout) as ListJson;
    assert.deepEqual(byTemplate.checkpoints, (JSON.parse(outputs[0]!.stdout) as ListJson).checkpoints);
    assert.equal(byTemplate.location, join(run, TEMPLATE));
  });

  it('--monitor and --mode rank by another metric', async () => {
    const json = JSON.parse((await runCli(['list', run, '--json', '--monitor', 'loss', '--mode', 'max'])).stdout) as ListJson;
    // The training loss falls: by "higher is better" the first epoch is the best.
    assert.deepEqual(json.checkpoints.map((c) => c.best), [true, false, false, false, false]);
    assert.equal(json.checkpoints[0]!.monitor?.name, 'loss');
  });
});

describe('colour', () => {
  it('never colours piped output, nor with NO_COLOR or --no-color', async () => {
    for (const args of [['list', run], ['verify', run], ['plot', run]]) {
      for (const [extra, env] of [[[], {}], [[], { NO_COLOR: '1' }], [['--no-color'], { FORCE_COLOR: '1' }]] as [string[], Record<string, string>][]) {
        const r = await runCli([...args, ...extra], env);
        assert.equal(r.code, 0, r.stderr);
        assert.doesNotMatch(r.stdout + r.stderr, ANSI, `${args.join(' ')} ${extra.join(' ')} ${JSON.stringify(env)}`);
      }
    }
  });

  it('colours on a terminal, unless NO_COLOR', { skip: NO_SCRIPT }, async () => {
    const onTerminal = await runOnTerminal(['verify', run]);
    assert.match(onTerminal.output, /\u001b\[32mok\u001b\[39m/);
    const noColor = await runOnTerminal(['verify', run], { NO_COLOR: '1' });
    assert.doesNotMatch(noColor.output, ANSI);
    assert.match(noColor.output, /All 5 checkpoints verified/);
  });
});

describe('inspect', () => {
  it('shows format, versions, writer, time, metrics, the layer summary and the weights table', async () => {
    const path = join(run, names[4]!);
    const r = await runCli(['inspect', path]);
    assert.equal(r.code, 0, r.stderr);
    const out = r.stdout;
    assert.match(out, new RegExp(`^Checkpoint  ${path}$`, 'm'));
    assert.match(out, /^Format {6}TF\.js layers folder .*, full model, \d+\.\d+ KiB$/m);
    assert.match(out, /^Model JSON  layers-model, generated by TensorFlow\.js tfjs-layers v\d+\.\d+\.\d+/m);
    assert.match(out, /^Metadata {4}tfjs-checkpoint version 1$/m);
    assert.match(out, /^Written by  tfjs-checkpoint \d+\.\d+\.\d+, TF\.js \d+\.\d+\.\d+$/m);
    assert.match(out, /^Epoch {7}5 {3}step 15/m);
    assert.match(out, /^Monitor {5}val_loss \(min\) = \d\.\d{4}/m);
    assert.match(out, /Layer \(type\)/);
    assert.match(out, /Total params: 67/);
    assert.match(out, /^dense_Dense1\/kernel\s+\[4, 8\]\s+float32\s+128$/m);
    assert.match(out, /^dense_Dense2\/bias\s+\[3\]\s+float32\s+12$/m);
    assert.match(out, /^4 weights, 268 B$/m);
  });

  it('--stats adds min, max, mean, std and NaN/Inf counts; --json has the same numbers', async () => {
    const path = join(run, names[0]!);
    const r = await runCli(['inspect', path, '--stats']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /weight\s+shape\s+dtype\s+bytes\s+min\s+max\s+mean\s+std\s+NaN\s+Inf/);
    assert.match(r.stdout, /^dense_Dense1\/kernel\s+\[4, 8\]\s+float32\s+128\s+-?\d\.\d{4}\s+-?\d\.\d{4}\s+-?\d\.\d{4}\s+\d\.\d{4}\s+0\s+0$/m);
    const json = JSON.parse((await runCli(['inspect', path, '--stats', '--json'])).stdout) as {
      format: string; checkpointFormat: string; kind: string; metadata: { epoch: number }; layers: { name: string; className: string; params: number }[];
      weights: { name: string; shape: number[]; dtype: string; bytes: number; stats: { min: number; max: number; mean: number; std: number; nan: number; inf: number } }[]; totalBytes: number;
    };
    assert.equal(json.format, 'tfjs-checkpoint-inspect');
    assert.equal(json.checkpointFormat, 'tfjs');
    assert.equal(json.kind, 'model');
    assert.equal(json.metadata.epoch, 1);
    assert.deepEqual(json.layers.map((l) => [l.className, l.params]), [['Dense', 40], ['Dense', 27]]);
    assert.deepEqual(json.weights.map((w) => [w.name, w.shape, w.bytes]), [['dense_Dense1/kernel', [4, 8], 128], ['dense_Dense1/bias', [8], 32], ['dense_Dense2/kernel', [8, 3], 96], ['dense_Dense2/bias', [3], 12]]);
    const k = json.weights[0]!.stats;
    assert.ok(k.min <= k.mean && k.mean <= k.max && k.std > 0 && k.nan === 0 && k.inf === 0);
    assert.equal(json.totalBytes, 268);
  });

  it('a path with no checkpoint is one clear line and exit 2', async () => {
    const r = await runCli(['inspect', join(root, 'nothing-here')]);
    assert.equal(r.code, 2);
    assertOneLineError(r, /nothing-here: no checkpoint there/);
  });
});

describe('verify', () => {
  it('passes intact checkpoints: exit 0, one line each', async () => {
    const r = await runCli(['verify', run]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 6);
    assert.match(lines[0]!, new RegExp(`^ok\\s+${join(run, names[0]!)} \\(\\d+\\.\\d+ KiB, checksums verified\\)$`));
    assert.equal(lines[5], 'All 5 checkpoints verified.');
    assert.equal(r.stderr, '', 'no progress bar when not on a terminal');
    const one = await runCli(['verify', join(run, names[2]!)]);
    assert.equal(one.code, 0);
    assert.match(one.stdout, /All 1 checkpoint verified\./);
  });

  it('a flipped byte and a missing file: exit 1 and a list of what is wrong', async () => {
    const dir = await copyOfRun('damaged');
    const flipped = join(dir, names[1]!, 'weights.bin');
    const bytes = await readFile(flipped);
    bytes[10] = bytes[10]! ^ 0xff;
    await writeFile(flipped, bytes);
    await rm(join(dir, names[3]!, 'weights.bin'));
    const r = await runCli(['verify', dir]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, new RegExp(`^CORRUPT\\s+${join(dir, names[1]!)}: .*checksum`, 'm'));
    assert.match(r.stdout, new RegExp(`^CORRUPT\\s+${join(dir, names[3]!)}: .*weights\\.bin`, 'm'));
    assert.match(r.stdout, /^2 of 5 checkpoints failed verification\.$/m);
    const json = JSON.parse((await runCli(['verify', dir, '--json'])).stdout) as { ok: boolean; checkpoints: { path: string; ok: boolean; problem?: string }[] };
    assert.equal(json.ok, false);
    assert.deepEqual(json.checkpoints.map((c) => c.ok), [true, false, true, false, true]);
    // list's quick check sees the missing file without reading any bytes
    const listed = await runCli(['list', dir]);
    assert.equal(listed.code, 1);
    assert.match(listed.stdout, new RegExp(`${names[3]}.*MISSING`));
    assert.match(listed.stdout, new RegExp(`problem: ${names[3]}: .*weights\\.bin is missing`));
  });

  it('a path with nothing there: one clear line on stderr, no stack, exit 2; --debug adds the stack', async () => {
    const r = await runCli(['verify', join(root, 'missing')]);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assertOneLineError(r, /^tfjs-checkpoint: error: .*missing: nothing is there\./);
    const debug = await runCli(['verify', join(root, 'missing'), '--debug']);
    assert.equal(debug.code, 2);
    assert.match(debug.stderr, /\n\s+at /);
  });
});

describe('bad arguments', () => {
  for (const [args, pattern] of [
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['list'], /missing required argument 'location'/],
    [['list', '.', '--bogus'], /unknown option '--bogus'/],
    [['prune', '.', '--keep-last', 'two'], /--keep-last <n>.*'two' is invalid/],
    [['prune', '.'], /say what to keep: --keep-last/],
    [['diff', 'a', 'b', '--atol', '-1'], /--atol.*invalid/],
    [['export', 'a', 'b', '--to', 'onnx'], /argument 'onnx' is invalid/],
    [['list', 'gs://bucket/run'], /no store handles "gs:\/\/" locations/],
    [['list', '--mode', 'sideways', '.'], /sideways.*invalid/],
  ] as [string[], RegExp][]) {
    it(`${args.join(' ')}: exit 2, one line`, async () => {
      const r = await runCli(args, {}, root);
      assert.equal(r.code, 2, r.stderr);
      assertOneLineError(r, pattern);
    });
  }

  it('--help for every command, with examples; exit 0', async () => {
    for (const command of ['list', 'inspect', 'verify', 'prune', 'diff', 'plot', 'export']) {
      const r = await runCli([command, '--help']);
      assert.equal(r.code, 0);
      assert.match(r.stdout, new RegExp(`^Usage: tfjs-checkpoint ${command} `, 'm'));
      assert.match(r.stdout, new RegExp(`Examples:\\n\\s+\\$ tfjs-checkpoint ${command} `));
    }
  });
});

describe('diff', () => {
  it('a checkpoint against itself: equal, exit 0', async () => {
    const path = join(run, names[2]!);
    const r = await runCli(['diff', path, path]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^dense_Dense1\/kernel\s+\[4, 8\]\s+float32\s+0\s+0\s+equal$/m);
    assert.match(r.stdout, /^Equal: all 4 weights within --atol 0\.$/m);
  });

  it('two epochs: which weights changed and by how much; --atol decides the exit code', async () => {
    const [a, b] = [join(run, names[0]!), join(run, names[4]!)];
    const r = await runCli(['diff', a, b, '--json']);
    assert.equal(r.code, 1);
    const json = JSON.parse(r.stdout) as { equal: boolean; matchedBy: string; weights: { name: string; status: string; maxAbs: number; meanAbs: number }[] };
    assert.equal(json.equal, false);
    assert.equal(json.matchedBy, 'name');
    assert.ok(json.weights.every((w) => w.status === 'changed' && w.maxAbs > 0 && w.meanAbs > 0 && w.meanAbs <= w.maxAbs));
    const largest = Math.max(...json.weights.map((w) => w.maxAbs));
    const human = await runCli(['diff', a, b]);
    assert.match(human.stdout, /^Different: 4 of 4 weights \(changed\)\.$/m);
    assert.equal((await runCli(['diff', a, b, '--atol', String(largest * 1.01)])).code, 0);
    assert.equal((await runCli(['diff', a, b, '--atol', String(largest * 0.99)])).code, 1);
  });
});

describe('plot', () => {
  it('draws the monitored metric and the loss in the terminal, with the best named', async () => {
    const r = await runCli(['plot', run]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^Metrics of 5 checkpoints in ${run}$`, 'm'));
    assert.match(r.stdout, /┤/);
    assert.equal(r.stdout.split('\n').filter((l) => /[┤┼]/.test(l)).length, 11);
    assert.match(r.stdout, /^epochs: 1 2 3 4 5 {2}\(one point per saved checkpoint\)$/m);
    assert.match(r.stdout, /^\[1\] val_loss \(monitored\) {3}\[2\] loss$/m);
    assert.match(r.stdout, new RegExp(`^best: val_loss \\d\\.\\d{4} at epoch 5 \\(${names[4]}\\)$`, 'm'));
    const json = JSON.parse((await runCli(['plot', run, '--json'])).stdout) as { format: string; x: string; series: { metric: string; monitored: boolean; points: { x: number; y: number }[] }[]; best: { path: string; x: number } };
    assert.equal(json.format, 'tfjs-checkpoint-plot');
    assert.equal(json.x, 'epoch');
    assert.deepEqual(json.series.map((s) => [s.metric, s.monitored, s.points.map((p) => p.x)]), [['val_loss', true, [1, 2, 3, 4, 5]], ['loss', false, [1, 2, 3, 4, 5]]]);
    assert.deepEqual([json.best.path, json.best.x], [join(run, names[4]!), 5]);
  });
});

describe('prune', () => {
  it('--dry-run lists exactly what prune then deletes, and the bytes it frees; never the best or the newest', async () => {
    const dir = await copyOfRun('pruned');
    // Ranked by "highest loss is best", the best is the first epoch and the newest the fifth.
    const args = ['prune', dir, '--keep-last', '1', '--monitor', 'loss', '--mode', 'max'];
    const dry = await runCli([...args, '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, new RegExp(`^Would delete 3 of 5 checkpoints in ${dir} \\(keepLast\\(1\\); the best and the newest are always kept\\):$`, 'm'));
    for (const name of names.slice(1, 4)) assert.match(dry.stdout, new RegExp(`^-\\s+${name}\\s+\\d\\s+\\d+\\.\\d+ KiB$`, 'm'));
    assert.match(dry.stdout, new RegExp(`^Keeping 2: ${names[0]} \\(best\\), ${names[4]} \\(newest\\)$`, 'm'));
    assert.match(dry.stdout, /^Dry run: nothing was deleted\.$/m);
    const dryJson = JSON.parse((await runCli([...args, '--dry-run', '--json'])).stdout) as { dryRun: boolean; policy: string; delete: { path: string; bytes: number }[]; keep: { path: string; reason: string }[]; freedBytes: number };
    assert.equal(dryJson.dryRun, true);
    assert.equal(dryJson.policy, 'keepLast(1)');
    assert.deepEqual(dryJson.delete.map((d) => d.path), names.slice(1, 4).map((n) => join(dir, n)));
    assert.equal(dryJson.freedBytes, dryJson.delete.reduce((n, d) => n + d.bytes, 0));
    assert.match(dry.stdout, new RegExp(`^Would free .* \\(${dryJson.freedBytes} bytes\\)\\.$`, 'm'));
    assert.deepEqual(dryJson.keep, [{ path: join(dir, names[0]!), reason: 'best' }, { path: join(dir, names[4]!), reason: 'newest' }]);
    // Nothing was deleted by the dry run.
    assert.equal((JSON.parse((await runCli(['list', dir, '--json'])).stdout) as ListJson).checkpoints.length, 5);

    const real = await runCli([...args, '--json']);
    assert.equal(real.code, 0, real.stderr);
    const realJson = JSON.parse(real.stdout) as typeof dryJson;
    assert.deepEqual({ ...realJson, dryRun: true }, dryJson);
    const left = (JSON.parse((await runCli(['list', dir, '--json'])).stdout) as ListJson).checkpoints.map((c) => c.name);
    assert.deepEqual(left, [names[0], names[4]]);
    assert.equal((await runCli(['verify', dir])).code, 0);
  });

  it('the human output of a real prune (not a terminal: no question asked)', async () => {
    const dir = await copyOfRun('pruned-human');
    const r = await runCli(['prune', dir, '--keep-every-n-epochs', '2']);
    assert.equal(r.code, 0, r.stderr);
    // Epochs 2 and 4 by the policy, 5 as the newest (and the best: val_loss falls every epoch).
    assert.match(r.stdout, new RegExp(`^Deleting 2 of 5 checkpoints in ${dir} \\(keepEveryNEpochs\\(2\\);`, 'm'));
    assert.match(r.stdout, /^Deleted 2 checkpoints, freed \d+\.\d+ KiB\.$/m);
    const left = (JSON.parse((await runCli(['list', dir, '--json'])).stdout) as ListJson).checkpoints.map((c) => c.epoch);
    assert.deepEqual(left, [2, 4, 5]);
  });
});
