/**
 * Keras HDF5 weights through h5wasm: the committed fixtures written by Keras 3 (`.weights.h5`, the
 * legacy `.h5` weights layout, a full-model `.h5`'s `model_weights`) load into the same architecture
 * built in TF.js and predict what Keras predicted; files we write in both layouts load in real Keras
 * 3 (when Python is available) and predict what TF.js predicts; hostile files are clear errors.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { CheckpointError } from '../src/errors.js';
import * as h5File from '../src/hdf5/h5_file.js';
import type { DatasetRead, H5IoOptions, H5WritePlan } from '../src/hdf5/h5_file.js';
import { nodeHdf5Host } from '../src/node/hdf5_node_host.js';

// The HDF5 file functions on Node's host (real files), as the fs entry uses them.
const writeH5 = (path: string, plan: H5WritePlan, options?: H5IoOptions) => h5File.writeH5(nodeHdf5Host, path, plan, options);
const readH5Tree = (path: string) => h5File.readH5Tree(nodeHdf5Host, path);
const readDatasets = (path: string, reads: DatasetRead[], options?: H5IoOptions) => h5File.readDatasets(nodeHdf5Host, path, reads, options);
import { keras3Layout, legacyLayout, planKerasLoad, readKerasContents, toSnakeCase, type KerasH5Layout, type LayerDescription, type LoadPlan } from '../src/formats/h5/keras_layout.js';
import { seededRandom, tempDir } from './helpers.js';
import { BUILD, expected, FIXTURES, predict, type Expected } from './interop_models.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const PYTHON = process.env['TFJS_CKPT_PYTHON'] ?? join(ROOT, 'bench/.venv/bin/python');
const HAVE_PYTHON = existsSync(PYTHON);
const SKIP_PYTHON = HAVE_PYTHON ? false : `live Keras/h5py checks did not run: no Python at ${PYTHON} (set TFJS_CKPT_PYTHON)`;

const isCode = (code: string, pattern?: RegExp) => (e: unknown) => e instanceof CheckpointError && e.code === code && (!pattern || pattern.test(e.message));

function describeModel(model: tf.LayersModel): LayerDescription[] {
  return model.layers.map((layer) => ({
    name: layer.name,
    className: layer.getClassName(),
    weights: layer.weights.map((w) => ({ name: w.originalName, shape: w.shape as number[], dtype: w.dtype as 'float32' | 'int32' })),
  }));
}

/** Loads a plan's datasets into the model (what the loader built on this codec will do). */
async function loadPlan(model: tf.LayersModel, path: string, plan: LoadPlan): Promise<void> {
  const reads = plan.entries.map((e) => ({ datasetPath: e.path, dest: new Uint8Array(4 * e.shape.reduce((a, b) => a * b, 1)) }));
  await readDatasets(path, reads);
  const byName = new Map(model.weights.map((w) => [w.originalName, w]));
  plan.entries.forEach((e, i) => {
    const bytes = reads[i]!.dest;
    const values = e.dtype === 'int32' ? new Int32Array(bytes.buffer) : new Float32Array(bytes.buffer);
    byName.get(e.weight)!.write(tf.tensor(values, e.shape, e.dtype));
  });
}

async function loadFile(model: tf.LayersModel, path: string): Promise<LoadPlan> {
  const plan = planKerasLoad(describeModel(model), readKerasContents(await readH5Tree(path), path), path);
  await loadPlan(model, path, plan);
  return plan;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** A write plan whose datasets read the model's current weights. */
function planOf(model: tf.LayersModel, layout: KerasH5Layout): H5WritePlan {
  const byName = new Map(model.weights.map((w) => [w.originalName, w]));
  return {
    groups: layout.groups,
    attributes: layout.attributes,
    datasets: layout.datasets.map((d) => ({
      ...d,
      read: async () => {
        const data = byName.get(d.weight)!.read().dataSync() as Float32Array | Int32Array;
        return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      },
    })),
  };
}

/** Seeded weights unlike the fixtures' (positive variances for BatchNormalization). */
function seedWeights(model: tf.LayersModel, seed: number): void {
  const random = seededRandom(seed);
  for (const w of model.weights) {
    const n = w.shape.reduce((a, b) => a! * b!, 1)!;
    const positive = /moving_variance|gamma/.test(w.originalName);
    const values = Float32Array.from({ length: n }, () => (positive ? 0.5 + random() : random() - 0.5));
    w.write(tf.tensor(values, w.shape as number[]));
  }
}

function python(script: string, args: string[]): string {
  const child = spawnSync(PYTHON, ['-c', script, ...args], { encoding: 'utf8', env: { ...process.env, KERAS_BACKEND: 'jax' }, timeout: 300_000, maxBuffer: 1 << 26 });
  assert.equal(child.status, 0, `python failed:\n${child.stderr}`);
  return child.stdout;
}

describe('Keras HDF5 weights (h5wasm)', () => {
  it('layouts: Keras 3 group names by class and occurrence; legacy names as tf.keras 2 wrote them', () => {
    assert.equal(toSnakeCase('BatchNormalization'), 'batch_normalization');
    assert.equal(toSnakeCase('Conv2D'), 'conv2d');
    assert.equal(toSnakeCase('LSTM'), 'lstm');
    assert.equal(toSnakeCase('GlobalAveragePooling1D'), 'global_average_pooling1d');
    assert.equal(toSnakeCase('InputLayer'), 'input_layer');
    const layers = describeModel(BUILD['embed_lstm']!());
    const v3 = keras3Layout(layers, { modelName: 'm', modelClass: 'Functional' });
    assert.deepEqual(v3.datasets.map((d) => d.path), ['layers/embedding/vars/0', 'layers/lstm/cell/vars/0', 'layers/lstm/cell/vars/1', 'layers/lstm/cell/vars/2', 'layers/dense/vars/0', 'layers/dense/vars/1']);
    assert.ok(v3.groups.includes('layers/input_layer/vars') && v3.groups.includes('layers/global_average_pooling1d_1/vars'));
    const legacy = legacyLayout(layers);
    assert.deepEqual(legacy.datasets.map((d) => d.path), ['embedding/embedding/embeddings:0', 'lstm/lstm/lstm_cell/kernel:0', 'lstm/lstm/lstm_cell/recurrent_kernel:0', 'lstm/lstm/lstm_cell/bias:0', 'dense/dense/kernel:0', 'dense/dense/bias:0']);
  });

  for (const name of Object.keys(BUILD)) {
    for (const [suffix, layout] of [['weights.h5', 'keras3'], ['legacy-weights.h5', 'legacy'], ['h5', 'legacy']] as const) {
      it(`${name}.${suffix} (Keras 3): loads by name and predicts what Keras predicted`, async () => {
        const e = await expected(name);
        const model = BUILD[name]!();
        const path = join(FIXTURES, `${name}.${suffix}`);
        const contents = readKerasContents(await readH5Tree(path), path);
        assert.equal(contents.layout, layout);
        const plan = await loadFile(model, path);
        assert.equal(plan.matchedBy, 'name');
        assert.deepEqual(plan.entries.map((p) => p.weight).sort(), e.weights.map((w) => w.name).sort());
        const diff = maxDiff(predict(model, e), e.output.values);
        assert.ok(diff <= 1e-5, `max abs diff ${diff}`);
      });
    }
  }

  it('stored names: legacy weight_names become TF.js names; Keras 3 vars by class', async () => {
    const legacy = readKerasContents(await readH5Tree(join(FIXTURES, 'embed_lstm.legacy-weights.h5')), 'x');
    assert.deepEqual(legacy.layers.find((l) => l.name === 'lstm')!.weights.map((w) => w.name), ['lstm/kernel', 'lstm/recurrent_kernel', 'lstm/bias']);
    const full = readKerasContents(await readH5Tree(join(FIXTURES, 'embed_lstm.h5')), 'x');
    assert.deepEqual(full.layers.find((l) => l.name === 'lstm')!.weights.map((w) => w.path), ['model_weights/lstm/lstm/lstm_cell/kernel', 'model_weights/lstm/lstm/lstm_cell/recurrent_kernel', 'model_weights/lstm/lstm/lstm_cell/bias']);
    const v3 = readKerasContents(await readH5Tree(join(FIXTURES, 'dense_bn.weights.h5')), 'x');
    assert.deepEqual(v3.layers.find((l) => l.name === 'batch_normalization')!.weights.map((w) => w.name), ['batch_normalization/gamma', 'batch_normalization/beta', 'batch_normalization/moving_mean', 'batch_normalization/moving_variance']);
  });

  it('other layer names (auto-generated in another instance) pair by order', async () => {
    const e = await expected('dense_bn');
    for (const suffix of ['weights.h5', 'legacy-weights.h5']) {
      const model = tf.sequential({
        layers: [
          tf.layers.dense({ units: 8, activation: 'relu', inputShape: [4] }),
          tf.layers.batchNormalization(),
          tf.layers.dropout({ rate: 0.2 }),
          tf.layers.dense({ units: 3, activation: 'softmax' }),
        ],
      });
      const plan = await loadFile(model, join(FIXTURES, `dense_bn.${suffix}`));
      assert.equal(plan.matchedBy, 'order');
      assert.ok(maxDiff(predict(model, e), e.output.values) <= 1e-5, suffix);
    }
  });

  it('a model that does not fit is a WEIGHT_MISMATCH naming the weight; the plan is never made', async () => {
    for (const suffix of ['weights.h5', 'legacy-weights.h5', 'h5']) {
      const path = join(FIXTURES, `dense_bn.${suffix}`);
      const contents = readKerasContents(await readH5Tree(path), path);
      const wider = tf.sequential({
        layers: [
          tf.layers.dense({ units: 9, activation: 'relu', inputShape: [4], name: 'dense' }),
          tf.layers.batchNormalization({ name: 'batch_normalization' }),
          tf.layers.dense({ units: 3, name: 'dense_1' }),
        ],
      });
      assert.throws(() => planKerasLoad(describeModel(wider), contents, path), isCode('WEIGHT_MISMATCH', /"dense\/kernel" has shape \[4,9\].*stores \[4,8\]/), suffix);
      assert.throws(() => planKerasLoad(describeModel(BUILD['conv']!()), contents, path), isCode('WEIGHT_MISMATCH', /conv2d|layers/), suffix);
      const noBias = tf.sequential({
        layers: [
          tf.layers.dense({ units: 8, inputShape: [4], useBias: false, name: 'dense' }),
          tf.layers.batchNormalization({ name: 'batch_normalization' }),
          tf.layers.dense({ units: 3, name: 'dense_1' }),
        ],
      });
      assert.throws(() => planKerasLoad(describeModel(noBias), contents, path), isCode('WEIGHT_MISMATCH', /Layer "dense" has 1 weights.*stores 2/), suffix);
    }
  });

  it('writes both layouts from TF.js; reading them back gives the same weights', async () => {
    const dir = await tempDir('tfjs-ckpt-h5-');
    for (const name of Object.keys(BUILD)) {
      const model = BUILD[name]!();
      seedWeights(model, 11);
      const layers = describeModel(model);
      const modelClass = model.getClassName() === 'Sequential' ? 'Sequential' : 'Functional';
      for (const [file, layout] of [[`${name}.weights.h5`, keras3Layout(layers, { modelName: name, modelClass })], [`${name}.legacy.h5`, legacyLayout(layers)]] as const) {
        const path = join(dir, file);
        // A small slice size, so the chunked path (resize, write box by box) is exercised too.
        await writeH5(path, planOf(model, layout), { sliceBytes: 64 });
        const back = BUILD[name]!();
        await loadFile(back, path);
        back.weights.forEach((w, i) => assert.deepEqual(w.read().dataSync(), model.weights[i]!.read().dataSync(), `${file} ${w.originalName}`));
      }
    }
  });

  it('full-model .h5: JSON root attributes and model_weights', async () => {
    const dir = await tempDir('tfjs-ckpt-h5-');
    const model = BUILD['dense_bn']!();
    seedWeights(model, 5);
    const layout = legacyLayout(describeModel(model), { root: 'model_weights' });
    const path = join(dir, 'full.h5');
    const config = JSON.stringify({ class_name: 'Sequential', config: { name: 'ü-model', layers: [] } });
    await writeH5(path, { ...planOf(model, layout), attributes: [{ group: '', name: 'model_config', value: { type: 'string', value: config } }, ...layout.attributes] });
    const tree = await readH5Tree(path);
    assert.equal(tree.nodes.get('')!.attributes['model_config'], config);
    const back = BUILD['dense_bn']!();
    await loadFile(back, path);
    back.weights.forEach((w, i) => assert.deepEqual(w.read().dataSync(), model.weights[i]!.read().dataSync()));
  });

  it('Keras 3 loads both layouts we write and predicts what TF.js predicts; h5py reads the string lists as arrays', { skip: SKIP_PYTHON, timeout: 600_000 }, async () => {
    const dir = await tempDir('tfjs-ckpt-h5-');
    const cases: { name: string; path: string; x: Expected['input']; y: number[] }[] = [];
    for (const name of Object.keys(BUILD)) {
      const e = await expected(name);
      const model = BUILD[name]!();
      seedWeights(model, 23);
      const y = [...predict(model, e)];
      const layers = describeModel(model);
      const modelClass = model.getClassName() === 'Sequential' ? 'Sequential' : 'Functional';
      const v3 = join(dir, `${name}.weights.h5`);
      const legacy = join(dir, `${name}.legacy.h5`);
      await writeH5(v3, planOf(model, keras3Layout(layers, { modelName: name, modelClass })));
      await writeH5(legacy, planOf(model, legacyLayout(layers)));
      cases.push({ name, path: v3, x: e.input, y }, { name, path: legacy, x: e.input, y });
    }
    const casesPath = join(dir, 'cases.json');
    await writeFile(casesPath, JSON.stringify(cases));
    const out = python(
      `
import json, sys, h5py, numpy as np
sys.path.insert(0, sys.argv[2])
import make_fixtures as mf
cases = json.load(open(sys.argv[1]))
result = []
for c in cases:
    model, _ = getattr(mf, c["name"])()
    model.load_weights(c["path"])
    x = np.array(c["x"]["values"], dtype=c["x"]["dtype"]).reshape(c["x"]["shape"])
    y = np.asarray(model.predict(x, verbose=0)).ravel()
    kinds = []
    if not c["path"].endswith(".weights.h5"):
        with h5py.File(c["path"]) as f:
            kinds.append(f.attrs["layer_names"].dtype.kind)
            kinds += [f[n].attrs["weight_names"].dtype.kind for n in f.attrs["layer_names"].astype(str)]
    result.append({"diff": float(np.max(np.abs(y - np.array(c["y"])))), "kinds": kinds})
print(json.dumps(result))
`,
      [casesPath, FIXTURES],
    );
    const results = JSON.parse(out.trim().split('\n').at(-1)!) as { diff: number; kinds: string[] }[];
    results.forEach((r, i) => {
      assert.ok(r.diff <= 1e-5, `${cases[i]!.path}: Keras differs from TF.js by ${r.diff}`);
      // 'S': numpy byte strings, as tf.keras 2 wrote them; 'f': the empty float64 array of a layer without weights.
      r.kinds.forEach((k) => assert.ok(k === 'S' || k === 'f', `${cases[i]!.path}: string list of kind ${k}`));
    });
  });

  it('float16 and bfloat16 datasets (h5py and Keras 3 writers) widen to float32 exactly', { skip: SKIP_PYTHON, timeout: 300_000 }, async () => {
    const dir = await tempDir('tfjs-ckpt-h5-');
    const path = join(dir, 'half.weights.h5');
    python(
      `
import sys, numpy as np, h5py, ml_dtypes
vals = np.array([0, -0.0, 1, -2.5, 65504, 6.1e-05, 5.96e-08, 3.0e-07, np.inf, -np.inf, 0.1, 1234.5], dtype=np.float32)
with h5py.File(sys.argv[1], "w") as f:
    f["f16"] = vals.astype(np.float16)
    f["f16_big"] = np.arange(-3000, 3000, dtype=np.float32).astype(np.float16).reshape(60, 100)
    d = f.create_dataset("bf16", data=vals.astype(ml_dtypes.bfloat16))
    d.attrs["dtype"] = "bfloat16"
    f["f64"] = vals.astype(np.float64)
`,
      [path],
    );
    const tree = await readH5Tree(path);
    const node = (p: string) => tree.nodes.get(p) as { dtype: string; shape: number[] };
    assert.equal(node('f16').dtype, 'float16');
    assert.equal(node('bf16').dtype, 'bfloat16');
    assert.equal(node('f64').dtype, 'float64');
    const values = [0, -0, 1, -2.5, 65504, 6.1e-5, 5.96e-8, 3.0e-7, Infinity, -Infinity, 0.1, 1234.5];
    const f16 = new Uint8Array(values.length * 4);
    const bf16 = new Uint8Array(values.length * 4);
    const big = new Uint8Array(6000 * 4);
    await readDatasets(path, [{ datasetPath: 'f16', dest: f16 }, { datasetPath: 'bf16', dest: bf16 }, { datasetPath: 'f16_big', dest: big }], { sliceBytes: 256 });
    // Exactly numpy's float16/bfloat16 roundings, widened.
    const expectedHalf = JSON.parse(
      python(
        `
import json, numpy as np, ml_dtypes
v = np.array([${values.map((v) => (Object.is(v, -0) ? '-0.0' : Number.isFinite(v) ? String(v) : v > 0 ? '1e300' : '-1e300')).join(', ')}], dtype=np.float64).astype(np.float32)
print(json.dumps([[float(a) if np.isfinite(a) else str(a) for a in v.astype(np.float16).astype(np.float32)], [float(a) if np.isfinite(a) else str(a) for a in v.astype(ml_dtypes.bfloat16).astype(np.float32)]]))
`,
        [],
      ),
    ) as (number | string)[][];
    const asNumber = (v: number | string) => (typeof v === 'number' ? v : v === 'inf' ? Infinity : -Infinity);
    assert.deepEqual([...new Float32Array(f16.buffer)], expectedHalf[0]!.map(asNumber));
    assert.deepEqual([...new Float32Array(bf16.buffer)], expectedHalf[1]!.map(asNumber));
    assert.ok(Object.is(new Float32Array(f16.buffer)[1], -0));
    // Above 2048 float16 steps by 2: odd integers round to the even multiple of 2 (ties to even).
    const half = (v: number) => (Math.abs(v) <= 2048 || v % 2 === 0 ? v : (Math.floor(v / 2) % 2 === 0 ? Math.floor(v / 2) : Math.floor(v / 2) + 1) * 2);
    assert.deepEqual([...new Float32Array(big.buffer)], Array.from({ length: 6000 }, (_, i) => half(i - 3000)));
    await assert.rejects(readDatasets(path, [{ datasetPath: 'f64', dest: new Uint8Array(values.length * 4) }]), isCode('WEIGHT_MISMATCH', /float64.*float32, int32, float16 and bfloat16/));
  });

  it('hostile files are CheckpointErrors, not crashes; the module keeps working', async () => {
    const dir = await tempDir('tfjs-ckpt-h5-');
    const good = await readFile(join(FIXTURES, 'dense_bn.weights.h5'));
    const random = seededRandom(3);
    const cases: [string, Uint8Array, string][] = [
      ['empty.h5', new Uint8Array(0), 'CORRUPT_CHECKPOINT'],
      ['garbage.h5', Uint8Array.from({ length: 4096 }, () => Math.floor(random() * 256)), 'CORRUPT_CHECKPOINT'],
      ['header-only.h5', good.subarray(0, 96), 'CORRUPT_CHECKPOINT'],
      ['half.h5', good.subarray(0, good.length >> 1), 'CORRUPT_CHECKPOINT'],
      ['short.h5', good.subarray(0, good.length - 100), 'CORRUPT_CHECKPOINT'],
    ];
    for (const [name, bytes, code] of cases) {
      const path = join(dir, name);
      await writeFile(path, bytes);
      await assert.rejects(
        (async () => {
          const model = BUILD['dense_bn']!();
          await loadFile(model, path);
        })(),
        isCode(code, /HDF5|damaged|truncated/),
        name,
      );
    }
    await assert.rejects(readH5Tree(join(dir, 'absent.h5')), isCode('NOT_FOUND'));
    // An HDF5 file that is not Keras weights.
    await writeH5(join(dir, 'other.h5'), { groups: ['x'], attributes: [], datasets: [] });
    assert.throws(() => readKerasContents({ nodes: new Map([['', { kind: 'group', path: '', attributes: {} }]]) }, 'other.h5'), isCode('UNSUPPORTED_FORMAT'));
    // Still usable after all that.
    const model = BUILD['dense_bn']!();
    await loadFile(model, join(FIXTURES, 'dense_bn.weights.h5'));
  });

  it('reads a file with a trailer appended after the HDF5 bytes', async () => {
    const dir = await tempDir('tfjs-ckpt-h5-');
    const e = await expected('dense_bn');
    for (const suffix of ['weights.h5', 'legacy-weights.h5']) {
      const path = join(dir, `trailer.${suffix}`);
      await copyFile(join(FIXTURES, `dense_bn.${suffix}`), path);
      const json = Buffer.from(JSON.stringify({ format: 'tfjs-checkpoint', epoch: 3 }));
      const length = Buffer.alloc(8);
      length.writeBigUInt64LE(BigInt(json.length));
      await writeFile(path, Buffer.concat([await readFile(path), json, length, Buffer.from('TFJSCKPT')]));
      const model = BUILD['dense_bn']!();
      await loadFile(model, path);
      assert.ok(maxDiff(predict(model, e), e.output.values) <= 1e-5);
    }
  });
});
