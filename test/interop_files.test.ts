/**
 * Files written by Keras 3, tf.keras 2's layout and Python safetensors, through the public API:
 * `loadModel` rebuilds Keras's `.keras` and legacy `.h5` models from their own configs and predicts
 * what Keras predicted; `loadWeights` reads every weights layout; `latestCheckpoint` and a resumed
 * `CheckpointManager` find complete Keras files and skip torn ones; retention never deletes them.
 */
import assert from 'node:assert/strict';
import { copyFile, readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CheckpointManager, latestCheckpoint, loadModel, loadWeights, verify, type CheckpointError } from '../src/index.js';
import { tempDir } from './helpers.js';
import { BUILD, expected, FIXTURES, predict } from './interop_models.js';

async function assertPredicts(model: Parameters<typeof predict>[0], name: string): Promise<void> {
  const e = await expected(name);
  const got = predict(model, e);
  const diff = Math.max(...e.output.values.map((v, i) => Math.abs(v - got[i]!)));
  assert.ok(diff <= 1e-5, `${name}: max abs diff ${diff}`);
}

describe('Keras and safetensors files, through the public API', () => {
  for (const name of Object.keys(BUILD)) {
    it(`${name}: loadModel builds Keras's .keras and legacy .h5 models from their configs and predicts what Keras did`, async () => {
      for (const ext of ['.keras', '.h5']) {
        const model = await loadModel(join(FIXTURES, `${name}${ext}`));
        const described = (ws: { name: string; shape: readonly (number | null)[] }[]) => ws.map((w) => `${w.name}:${w.shape.join('x')}`).sort();
        assert.deepEqual(
          described(model.weights.map((w) => ({ name: w.originalName, shape: w.shape }))),
          described((await expected(name)).weights),
          `${ext}: the weights' names and shapes`,
        );
        await assertPredicts(model, name);
        const checked = await verify(join(FIXTURES, `${name}${ext}`));
        assert.equal(checked.checksums, 'absent', 'Keras records no checksums');
      }
    });

    it(`${name}: loadWeights reads .weights.h5, the tf.keras 2 weights .h5, the model_weights of a full .h5 and .safetensors`, async () => {
      for (const file of ['.weights.h5', '.legacy-weights.h5', '.h5', '.safetensors', '.f16.safetensors']) {
        const model = BUILD[name]!();
        await loadWeights(model, join(FIXTURES, `${name}${file}`));
        if (!file.startsWith('.f16')) await assertPredicts(model, name);
      }
    });
  }

  it('latestCheckpoint and a resumed manager find the newest complete Keras file and skip a torn one; retention keeps them', async () => {
    const dir = await tempDir();
    const at = (n: number) => new Date(Date.UTC(2026, 0, 1, 0, n));
    for (const [n, ext] of [[1, '.keras'], [2, '.keras']] as const) {
      await copyFile(join(FIXTURES, `dense_bn${ext}`), join(dir, `m-0${n}${ext}`));
      await utimes(join(dir, `m-0${n}${ext}`), at(n), at(n));
    }
    // A crash while Keras wrote epoch 3: the archive's directory (written last) is missing.
    const whole = await readFile(join(FIXTURES, 'dense_bn.keras'));
    await writeFile(join(dir, 'm-03.keras'), whole.subarray(0, whole.length - 200));
    await utimes(join(dir, 'm-03.keras'), at(3), at(3));
    const template = join(dir, 'm-{epoch:02d}.keras');
    assert.equal(await latestCheckpoint(template), join(dir, 'm-02.keras'));
    await assert.rejects(loadModel(join(dir, 'm-03.keras')), (e: CheckpointError) => e.code === 'CORRUPT_CHECKPOINT');

    const manager = new CheckpointManager({ filepath: template, keepLast: 1 });
    const restored = await manager.restore('latest');
    await assertPredicts(restored as Parameters<typeof predict>[0], 'dense_bn');
    assert.deepEqual((await manager.list()).map((r) => r.path), [join(dir, 'm-01.keras'), join(dir, 'm-02.keras')]);
    assert.ok((await manager.list()).every((r) => !r.owned), 'files Keras wrote are never ours to delete');

    // The same for HDF5: a file shorter than its superblock's end-of-data is torn.
    const h5 = await readFile(join(FIXTURES, 'conv.h5'));
    await writeFile(join(dir, 'c-01.h5'), h5);
    await utimes(join(dir, 'c-01.h5'), at(1), at(1));
    await writeFile(join(dir, 'c-02.h5'), h5.subarray(0, h5.length - 100));
    await utimes(join(dir, 'c-02.h5'), at(2), at(2));
    assert.equal(await latestCheckpoint(join(dir, 'c-{epoch:02d}.h5')), join(dir, 'c-01.h5'));
  });
});
