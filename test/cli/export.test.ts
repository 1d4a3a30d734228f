/**
 * `export` round trips on checkpoints made by real training: a full model to .keras, .h5 and
 * .safetensors and each back to a TF.js folder, a weights-only checkpoint to every format that holds
 * weights; the models loaded from the exports predict exactly what the original does. And `inspect`
 * on every format, Keras's own files included.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { loadModel, loadWeights } from '../../src/index.js';
import { maxAbsDiff, smallClassifier, tempDir, toyData } from '../helpers.js';
import { assertOneLineError, ensureBuilt, runCli, trainWithCheckpoints } from './cli_helpers.js';

let root: string;
let full: string;
let weightsOnly: string;
let x: tf.Tensor2D;
let expected: tf.Tensor;

before(async () => {
  ensureBuilt();
  root = await tempDir('tfjs-ckpt-cli-export-');
  const model = await trainWithCheckpoints(join(root, 'full/w{epoch:02d}'), { epochs: 2 });
  await trainWithCheckpoints(join(root, 'weights/w{epoch:02d}'), { epochs: 2, saveWeightsOnly: true });
  full = join(root, 'full/w02');
  weightsOnly = join(root, 'weights/w02');
  x = toyData(16, 11).x;
  expected = model.predict(x) as tf.Tensor;
});

async function exported(args: string[]): Promise<string> {
  const r = await runCli(['export', ...args]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Exported .* \((tfjs|keras|h5|weights\.h5|safetensors)\) to .*: 4 weights/);
  return r.stdout;
}

/** Predictions of a model loaded from a TF.js folder or .safetensors (the test process loads no HDF5). */
async function predictionsOf(path: string): Promise<tf.Tensor> {
  const model = await loadModel(path);
  return model.predict(x) as tf.Tensor;
}

async function predictionsWithWeights(path: string): Promise<tf.Tensor> {
  const model = smallClassifier(3);
  await loadWeights(model, path);
  return model.predict(x) as tf.Tensor;
}

describe('export: a full model', () => {
  for (const format of ['keras', 'h5', 'safetensors'] as const) {
    it(`to ${format} and back to a TF.js folder: the same predictions, and diff says equal`, async () => {
      const file = join(root, `model-${format}`);
      const out = await exported([full, '--to', format, file]);
      const written = `${file}.${format}`;
      assert.match(out, new RegExp(`to ${written} \\(${format}\\)`));
      assert.equal((await runCli(['verify', written])).code, 0);
      assert.equal((await runCli(['diff', full, written])).code, 0);
      const back = join(root, `back-from-${format}`);
      await exported([written, '--to', 'tfjs', back]);
      assert.equal(maxAbsDiff([await predictionsOf(back)], [expected]), 0);
      if (format === 'safetensors') assert.equal(maxAbsDiff([await predictionsOf(written)], [expected]), 0);
      const inspected = await runCli(['inspect', written]);
      assert.equal(inspected.code, 0, inspected.stderr);
      assert.match(inspected.stdout, /, full model, /);
      assert.match(inspected.stdout, /Total params: 67/);
      // The export carries the checkpoint's record (epoch and metrics).
      assert.match(inspected.stdout, /^Epoch {7}2 {3}step 6/m);
    });
  }

  it('the format follows the extension of the destination; one it cannot write is refused', async () => {
    await exported([full, join(root, 'by-extension.keras')]);
    const clash = await runCli(['export', full, '--to', 'keras', join(root, 'x.safetensors')]);
    assert.equal(clash.code, 2);
    assertOneLineError(clash, /names a \.safetensors file, but --to is keras/);
  });

  it('refuses to overwrite without --force, and replaces with it', async () => {
    const dest = join(root, 'twice.safetensors');
    await exported([full, dest]);
    const again = await runCli(['export', full, dest]);
    assert.equal(again.code, 2);
    assertOneLineError(again, /exists: choose another destination, or pass --force/);
    await exported([full, dest, '--force']);
  });
});

describe('export: a weights-only checkpoint', () => {
  for (const [format, ext] of [['safetensors', '.safetensors'], ['weights.h5', '.weights.h5'], ['h5', '.h5'], ['tfjs', '']] as const) {
    it(`to ${format}: the weights load into the model and predict the same`, async () => {
      const dest = join(root, `weights-${format.replace('.', '-')}${ext}`);
      await exported([weightsOnly, '--to', format, dest]);
      const inspected = await runCli(['inspect', dest]);
      assert.match(inspected.stdout, /, weights only/);
      assert.equal((await runCli(['diff', weightsOnly, dest])).code, 0);
      const tfjsCopy = format === 'tfjs' || format === 'safetensors' ? dest : join(root, `weights-back-from-${format.replace('.', '-')}`);
      if (tfjsCopy !== dest) await exported([dest, '--to', 'tfjs', tfjsCopy]);
      const original = await predictionsWithWeights(weightsOnly);
      assert.equal(maxAbsDiff([await predictionsWithWeights(tfjsCopy)], [original]), 0);
    });
  }

  it('to .keras is refused: a .keras file holds a whole model', async () => {
    const r = await runCli(['export', weightsOnly, '--to', 'keras', join(root, 'nope')]);
    assert.equal(r.code, 2);
    assertOneLineError(r, /holds weights only, and a \.keras file holds a whole model/);
  });
});

describe('inspect reads every format, files Keras wrote included', () => {
  for (const file of ['dense_bn.keras', 'dense_bn.h5', 'dense_bn.weights.h5', 'dense_bn.safetensors', 'dense_bn.legacy-weights.h5']) {
    it(file, async () => {
      const r = await runCli(['inspect', join('test/fixtures/interop', file), '--stats']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^Metadata {4}none of tfjs-checkpoint/m);
      assert.match(r.stdout, /batch_normalization\/moving_variance\s+\[8\]\s+float32\s+32\s/);
      assert.match(r.stdout, file.endsWith('.keras') || file === 'dense_bn.h5' ? /full model.*\n[\s\S]*Layer \(type\)/ : /weights only/);
    });
  }
});
