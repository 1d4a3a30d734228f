/**
 * Entry points and the scheme registry: the universal entry imports no `node:` module and works on
 * its own (memory:// and user stores, a clear error for plain paths); the Node entry adds the fs store;
 * a scheme no store claims is an error naming the schemes there are; users can register their own.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { CheckpointError, MemoryStore, modelCheckpoint, loadWeights, registerStore, resolveLocation, saveWeights, verify } from '../src/index.js';
import { maxAbsDiff, smallClassifier, toyData } from './helpers.js';

const root = resolve(import.meta.dirname, '..');

/** Every module the universal entry reaches through relative imports, with the bare specifiers each imports. */
function importClosure(entry: string): Map<string, string[]> {
  const seen = new Map<string, string[]>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    const text = readFileSync(file, 'utf8');
    // Type-only imports are erased from the output: they load nothing.
    const specifiers = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\s(?!type\s)[^'"]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g)].map((m) => (m[1] ?? m[2])!);
    const bare: string[] = [];
    seen.set(file, bare);
    for (const specifier of specifiers) {
      if (specifier.startsWith('.')) visit(join(dirname(file), specifier.replace(/\.js$/, '.ts')));
      else bare.push(specifier);
    }
  };
  visit(entry);
  return seen;
}

describe('entry points', () => {
  it('the universal entry imports no node: module, directly or through any module it reaches', () => {
    const closure = importClosure(join(root, 'src/universal.ts'));
    assert.ok(closure.size > 20, `only ${closure.size} modules found: the import scan is broken`);
    const nodeOnly = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
    const offenders = [...closure].flatMap(([file, bare]) => bare.filter((s) => s.startsWith('node:') || nodeOnly.has(s)).map((s) => `${file.slice(root.length + 1)} imports ${s}`));
    assert.deepEqual(offenders, []);
    // And the Node entry is the one that brings the fs store.
    assert.ok([...importClosure(join(root, 'src/index.ts')).keys()].some((f) => f.endsWith('stores/fs.ts')));
  });

  it('only the fs store (src/stores/fs*.ts, its writer identities) and the Node entry import node: modules', () => {
    const allowed = /^src\/(stores\/(fs|fs_files|fs_ops|fs_single_file|fs_worker|writer_identity)\.ts|node\/[a-z0-9_]+\.ts|index\.ts)$/;
    const offenders = [...importClosure(join(root, 'src/index.ts'))]
      .filter(([file, bare]) => bare.some((s) => s.startsWith('node:')) && !allowed.test(file.slice(root.length + 1)))
      .map(([file]) => file.slice(root.length + 1));
    assert.deepEqual(offenders, []);
  });

  it('package.json maps the node condition to the Node entry and browser/default to the universal one', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    const main = pkg.exports['.'];
    assert.deepEqual(Object.keys(main), ['node', 'browser', 'default']);
    assert.equal(main.node.import.default, './dist/esm/index.js');
    assert.equal(main.node.require.default, './dist/cjs/index.js');
    assert.equal(pkg.exports['./s3'].import.default, './dist/esm/s3.js');
    assert.equal(pkg.exports['./s3'].require.default, './dist/cjs/s3.js');
    for (const entry of [main.browser, main.default, pkg.exports['./universal']]) {
      assert.equal(entry.import.default, './dist/esm/universal.js');
      assert.equal(entry.require.default, './dist/cjs/universal.js');
    }
  });

  it('on its own, the universal entry saves and loads memory:// checkpoints (also as safetensors and .weights.h5) and explains that plain paths need a file system', () => {
    const script = `
      import * as tf from '@tensorflow/tfjs';
      import { saveWeights, loadWeights, verify, latestCheckpoint } from './src/universal.ts';
      const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 3 })] });
      await saveWeights(model, 'memory://run/w01');
      const fresh = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 3 })] });
      await loadWeights(fresh, 'memory://run/w01');
      const same = fresh.getWeights().every((w, i) => tf.equal(w, model.getWeights()[i]).all().dataSync()[0] === 1);
      const errors = [];
      for (const path of ['/tmp/x/w01', 'file:///tmp/x/w01', 's3://bucket/run/w01']) {
        try { await verify(path); errors.push('no error'); } catch (e) { errors.push(e.code + ': ' + e.message); }
      }
      await saveWeights(model, 'memory://run/w.safetensors');
      const viaSafetensors = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 3 })] });
      await loadWeights(viaSafetensors, 'memory://run/w.safetensors');
      const sameSafetensors = viaSafetensors.getWeights().every((w, i) => tf.equal(w, model.getWeights()[i]).all().dataSync()[0] === 1);
      await saveWeights(model, 'memory://run/w.weights.h5');
      const viaH5 = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 3 })] });
      await loadWeights(viaH5, 'memory://run/w.weights.h5');
      const sameH5 = viaH5.getWeights().every((w, i) => tf.equal(w, model.getWeights()[i]).all().dataSync()[0] === 1);
      console.log(JSON.stringify({ same, sameSafetensors, sameH5, checksums: (await verify('memory://run/w01')).checksums, latest: await latestCheckpoint('memory://run/w{epoch:02d}'), errors }));
    `;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
    assert.equal(child.status, 0, child.stderr);
    const out = JSON.parse(child.stdout.trim().split('\n').pop()!);
    assert.equal(out.same, true);
    assert.equal(out.checksums, 'verified');
    assert.equal(out.latest, 'memory://run/w01');
    assert.match(out.errors[0], /^UNSUPPORTED_FORMAT: .*plain paths need a file system.*memory:\/\//);
    assert.match(out.errors[1], /^UNSUPPORTED_FORMAT: .*no store handles "file:\/\/"/);
    assert.match(out.errors[2], /^UNSUPPORTED_FORMAT: .*no store handles "s3:\/\/".*memory:\/\//);
    assert.equal(out.sameSafetensors, true, 'safetensors works from the universal entry');
    assert.equal(out.sameH5, true, 'HDF5 works from the universal entry (h5wasm in memory, as in a browser)');
  });
});

describe('the scheme registry', () => {
  it('a scheme no store claims is a clear error naming the schemes there are, never a local folder named "gs:"', async () => {
    const model = smallClassifier(1);
    // A configuration error: thrown where the callback is made, before any training.
    assert.throws(
      () => modelCheckpoint({ filepath: 'gs://bucket/run/w{epoch}', verbose: 0 }),
      (e: unknown) => e instanceof CheckpointError && e.code === 'UNSUPPORTED_FORMAT' && /"gs:\/\/".*file:\/\/.*memory:\/\/.*s3:\/\/.*plain paths.*registerStore/.test(e.message),
    );
    await assert.rejects(model.save('gs://bucket/run/stock'), /Cannot find any save handlers/);
    await assert.rejects(saveWeights(model, 'gs://bucket/run/w1'), /no store handles "gs:\/\/"/);
    assert.throws(() => resolveLocation('gs://bucket/run'), /no store handles "gs:\/\/"/);
  });

  it('a user-registered store serves ModelCheckpoint, model.save, loading and verify by its scheme', async () => {
    const mine = new MemoryStore();
    registerStore('mystore', mine);
    const model = smallClassifier(2);
    const { x, y } = toyData(16);
    await model.fit(x, y, { epochs: 2, batchSize: 8, shuffle: false, verbose: 0, callbacks: [modelCheckpoint({ filepath: 'mystore://runs/a/w{epoch:02d}', saveWeightsOnly: true, verbose: 0 })] });
    assert.deepEqual(mine.keys(), ['/runs/a/w01', '/runs/a/w02']);
    const fresh = smallClassifier(3);
    await loadWeights(fresh, 'mystore://runs/a/w02');
    assert.equal(maxAbsDiff(fresh.getWeights(), model.getWeights()), 0);
    await model.save('mystore://runs/a/stock');
    assert.equal((await verify('mystore://runs/a/stock')).kind, 'model');
    const back = await tf.loadLayersModel('mystore://runs/a/stock/model.json');
    assert.equal(maxAbsDiff(back.getWeights(), model.getWeights()), 0);
    assert.throws(() => registerStore('not a scheme', mine), /not a URL scheme/);
  });
});
