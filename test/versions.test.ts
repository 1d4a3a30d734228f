/**
 * Which tfjs versions we claim, and the version-dependent paths: the peer range's floor is exactly what
 * CI tests (.ci/run runs the suite against it), no tfjs internal that old versions lack is used, and
 * weight data in several buffers (tfjs >= 4.6 may hand it over so) is saved and loaded byte for byte.
 */
import * as tf from '@tensorflow/tfjs';
import { io } from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { byteRange, decodesBufferLists, joinBuffers, weightBuffers } from '../src/formats/weight_data.js';
import { fileLoadHandler, fileSaveHandler, loadModel, saveModel } from '../src/index.js';
import { maxAbsDiff, smallClassifier, tempDir } from './helpers.js';

const root = resolve(new URL('..', import.meta.url).pathname);
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sourceFiles(join(dir, e.name)) : [join(dir, e.name)]));
}

describe('supported tfjs versions', () => {
  it("the peer range's floor is one version, the one CI runs the suite against", () => {
    const ranges = ['@tensorflow/tfjs-core', '@tensorflow/tfjs-layers'].map((name) => pkg.peerDependencies[name]);
    assert.match(ranges[0], /^>=\d+\.\d+\.\d+$/);
    assert.equal(ranges[1], ranges[0], 'tfjs-core and tfjs-layers claim the same floor');
    const printed = spawnSync(process.execPath, ['scripts/test-oldest-tfjs.mjs', '--print-floor'], { cwd: root, encoding: 'utf8' });
    assert.equal(printed.status, 0, printed.stderr);
    assert.equal(printed.stdout.trim(), ranges[0].slice(2));
    // .ci/run runs that script with no version of its own, before the last step (the newest tfjs's npm test).
    const steps = readFileSync(join(root, '.ci/run'), 'utf8').split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
    const oldest = steps.findIndex((l) => /^node scripts\/test-oldest-tfjs\.mjs\s*$/.test(l.trim()));
    assert.ok(oldest >= 0, '.ci/run runs `node scripts/test-oldest-tfjs.mjs` (no --version)');
    assert.equal(steps.at(-1)!.trim(), 'npm test');
    assert.ok(oldest < steps.length - 1);
    assert.ok(!steps.some((l) => /test-oldest-tfjs\.mjs.*--version/.test(l)));
  });

  it('the devDependency is the newest tfjs, inside the range', () => {
    const floor = pkg.peerDependencies['@tensorflow/tfjs-core'].slice(2).split('.').map(Number);
    const dev = pkg.devDependencies['@tensorflow/tfjs'].split('.').map(Number);
    assert.ok(dev[0] > floor[0] || (dev[0] === floor[0] && (dev[1] > floor[1] || (dev[1] === floor[1] && dev[2] >= floor[2]))));
  });

  it('src uses no io.CompositeArrayBuffer (tfjs before 4.6 has none)', () => {
    const users = sourceFiles(join(root, 'src')).filter((f) => readFileSync(f, 'utf8').includes('CompositeArrayBuffer'));
    assert.deepEqual(users, []);
  });

  it('decodesBufferLists: 4.6 on', () => {
    assert.deepEqual(['4.0.0', '4.5.1', '4.6.0', '4.22.0', '5.0.0'].map((v) => decodesBufferLists(v)), [false, false, true, true, true]);
  });
});

describe('weight data in several buffers', () => {
  const bytes = (n: number, from = 0) => Uint8Array.from({ length: n }, (_, i) => (from + i) & 0xff);
  const split = (whole: Uint8Array, sizes: number[]): ArrayBuffer[] => {
    let at = 0;
    return sizes.map((n) => whole.slice(at, (at += n)).buffer);
  };

  it('byteRange: a view inside one buffer, a copy across several, a typed error past the end', () => {
    const buffers = split(bytes(30), [10, 3, 0, 17]);
    const inside = byteRange(buffers, 13, 5);
    assert.equal(inside.buffer, buffers[3]);
    assert.deepEqual([...inside], [...bytes(5, 13)]);
    assert.deepEqual([...byteRange(buffers, 8, 20)], [...bytes(20, 8)]);
    assert.deepEqual([...byteRange(buffers, 0, 30)], [...bytes(30)]);
    assert.equal(byteRange(buffers, 30, 0).byteLength, 0);
    assert.throws(() => byteRange(buffers, 25, 6), { code: 'INVALID_ARGUMENT' });
    assert.deepEqual(weightBuffers(undefined), []);
    assert.deepEqual(new Uint8Array(joinBuffers(buffers)), bytes(30));
  });

  it('fileSaveHandler saves weightData given as several ArrayBuffers (weights split mid-way) to the same bytes', async () => {
    const dir = await tempDir();
    const model = smallClassifier(3, { batchNorm: true });
    let artifacts: io.ModelArtifacts | undefined;
    await model.save(io.withSaveHandler(async (a) => ((artifacts = a), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } })));
    const whole = new Uint8Array(joinBuffers(weightBuffers(artifacts!.weightData)));
    assert.ok(whole.byteLength > 100);
    // Odd sizes: most weights start in one buffer and end in another, none 4-byte aligned.
    const sizes: number[] = [];
    for (let left = whole.byteLength, n = 7; left > 0; left -= sizes.at(-1)!, n = n === 7 ? 13 : 7) sizes.push(Math.min(n, left));
    await fileSaveHandler(`file://${join(dir, 'm')}`).save!({ ...artifacts!, weightData: split(whole, sizes) });
    const loaded = await fileLoadHandler(join(dir, 'm')).load!();
    assert.deepEqual(new Uint8Array(joinBuffers(weightBuffers(loaded.weightData))), whole);
    assert.deepEqual(loaded.weightSpecs, artifacts!.weightSpecs);
    const back = await tf.loadLayersModel(`file://${join(dir, 'm')}`);
    assert.equal(maxAbsDiff(back.getWeights(), model.getWeights()), 0);
  });

  it('loads a sharded checkpoint where io.decodeWeights cannot be replaced (a frozen io, as in bundles)', async () => {
    const dir = await tempDir();
    const model = smallClassifier(4);
    await saveModel(model, join(dir, 'm'), { maxShardBytes: 40 });
    const descriptor = Object.getOwnPropertyDescriptor(io, 'decodeWeights')!;
    assert.ok(descriptor.configurable && descriptor.writable);
    Object.defineProperty(io, 'decodeWeights', { ...descriptor, writable: false });
    try {
      const loaded = await loadModel(join(dir, 'm'));
      assert.equal(maxAbsDiff(loaded.getWeights(), model.getWeights()), 0);
    } finally {
      Object.defineProperty(io, 'decodeWeights', descriptor);
    }
  });
});
