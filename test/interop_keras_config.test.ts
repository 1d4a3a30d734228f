/**
 * Model configs between TF.js and Keras (src/formats/keras): Keras 3's `.keras` config.json and the
 * legacy `.h5` model_config, both ways, and the `.keras` zip container.
 * - The committed Keras fixtures (test/fixtures/interop, written by real Keras 3) build in TF.js and,
 *   with the same weights, predict what Keras predicted.
 * - TF.js models covering every supported layer round-trip through both Keras forms to the same model.
 * - With Python (bench/.venv or TFJS_CKPT_PYTHON), real Keras 3 loads what we write (a `.keras` made by
 *   writeKerasZip, and a legacy `.h5` with our model_config) and predicts what TF.js predicts.
 * - Untranslatable layers and options are UNSUPPORTED_LAYER errors naming the layer.
 */
import * as tf from '@tensorflow/tfjs';
import h5wasm from 'h5wasm/node';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { CheckpointError, loadWeights } from '../src/index.js';
import { fromKeras3Config, fromLegacyModelConfig } from '../src/formats/keras/from_keras.js';
import type { JsonObject, TfjsTopology } from '../src/formats/keras/json.js';
import { readKerasZip, writeKerasZip, type RandomAccessSource } from '../src/formats/keras/keras_zip.js';
import { toKeras3Config, toLegacyModelConfig, toLegacyTrainingConfig } from '../src/formats/keras/to_keras.js';
import { tempDir } from './helpers.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/interop/', import.meta.url));
const REPO = fileURLToPath(new URL('../', import.meta.url));
const PYTHON = process.env['TFJS_CKPT_PYTHON'] ?? join(REPO, 'bench/.venv/bin/python');
const HAS_PYTHON = existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import keras, h5py'], { env: { ...process.env, KERAS_BACKEND: 'jax' } }).status === 0;
const NO_PYTHON = `live Keras check did not run: no Python with keras and h5py at ${PYTHON} (set TFJS_CKPT_PYTHON)`;

const isCode = (code: string, pattern?: RegExp) => (e: unknown) => e instanceof CheckpointError && e.code === code && (!pattern || pattern.test(e.message));

function memorySource(bytes: Uint8Array): RandomAccessSource {
  return {
    size: bytes.length,
    read: async (dest, offset, length, position) => {
      dest.set(bytes.subarray(position, position + length), offset);
    },
  };
}

async function fileSource(path: string): Promise<RandomAccessSource & { close(): Promise<void> }> {
  const handle = await open(path, 'r');
  const { size } = await handle.stat();
  return {
    size,
    read: async (dest, offset, length, position) => {
      await handle.read(dest, offset, length, position);
    },
    close: () => handle.close(),
  };
}

const topologyOf = (model: tf.LayersModel): TfjsTopology => JSON.parse(JSON.stringify(model.toJSON(null, false)));
const build = (topology: TfjsTopology) => tf.models.modelFromJSON({ modelTopology: topology as unknown as tf.io.ModelJSON['modelTopology'] } as tf.io.ModelJSON);

async function* chunks(bytes: Uint8Array, size = 1000): AsyncIterable<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

function python(script: string, args: string[]): string {
  const r = spawnSync(PYTHON, ['-c', script, ...args], { env: { ...process.env, KERAS_BACKEND: 'jax', TF_CPP_MIN_LOG_LEVEL: '3' }, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`python failed:\n${r.stderr}`);
  return r.stdout;
}

// ---- committed Keras fixtures ------------------------------------------------------------------

interface Expected {
  input: { dtype: string; shape: number[]; values: number[] };
  output: { shape: number[]; values: number[] };
  weights: { name: string; shape: number[]; dtype: string }[];
}

function predict(model: tf.LayersModel, input: { dtype: string; shape: number[]; values: number[] }): Float32Array {
  return tf.tidy(() => (model.predict(tf.tensor(input.values, input.shape, input.dtype === 'int32' ? 'int32' : 'float32')) as tf.Tensor).dataSync() as Float32Array);
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  assert.equal(a.length, b.length);
  return Math.max(0, ...Array.from(a, (v, i) => Math.abs(v - b[i]!)));
};

async function checkFixtureModel(model: tf.LayersModel, name: string): Promise<void> {
  const e: Expected = JSON.parse(await readFile(join(FIXTURES, `${name}.expected.json`), 'utf8'));
  // TF.js lists trainable weights before non-trainable ones (BN statistics last): compare by name.
  const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);
  assert.deepEqual(
    model.weights.map((w) => ({ name: w.originalName, shape: w.shape })).sort(byName),
    e.weights.map((w) => ({ name: w.name, shape: w.shape })).sort(byName),
  );
  await loadWeights(model, join(FIXTURES, `${name}.safetensors`));
  const diff = maxDiff(predict(model, e.input), e.output.values);
  assert.ok(diff <= 1e-5, `max abs diff ${diff}`);
}

describe('Keras fixtures into TF.js', () => {
  for (const name of ['dense_bn', 'conv', 'embed_lstm']) {
    it(`${name}.keras: readKerasZip + fromKeras3Config build the model Keras saved (weights, predictions)`, async () => {
      const source = await fileSource(join(FIXTURES, `${name}.keras`));
      try {
        const zip = await readKerasZip(source);
        assert.deepEqual([...zip.names].sort(), ['config.json', 'metadata.json', 'model.weights.h5']);
        const metadata = JSON.parse(new TextDecoder().decode(await zip.readMetadata()));
        assert.match(metadata.keras_version, /^3\./);
        // The weights entry is stored: its range holds an HDF5 file.
        const magic = new Uint8Array(8);
        await source.read(magic, 0, 8, zip.weights.offset);
        assert.deepEqual(Array.from(magic), [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);
        const config = JSON.parse(new TextDecoder().decode(await zip.readConfig()));
        const model = await build(fromKeras3Config(config));
        await checkFixtureModel(model, name);
      } finally {
        await source.close();
      }
    });

    it(`${name}.h5: fromLegacyModelConfig builds the model Keras saved`, async () => {
      await h5wasm.ready;
      const file = new h5wasm.File(join(FIXTURES, `${name}.h5`), 'r');
      const modelConfig = JSON.parse(String(file.attrs['model_config']!.value));
      const kerasVersion = String(file.attrs['keras_version']!.value);
      file.close();
      const model = await build(fromLegacyModelConfig(modelConfig, { kerasVersion }));
      await checkFixtureModel(model, name);
    });
  }
});

// ---- TF.js models covering every supported layer -----------------------------------------------

const seeded = (seed: number) => tf.initializers.glorotUniform({ seed });

/** name -> [model, an input for it]. Every supported layer class appears at least once. */
const MODELS: Record<string, () => { model: tf.LayersModel; input: { dtype: string; shape: number[]; values: number[] } }> = {
  dense_stack: () => {
    const model = tf.sequential({
      name: 'dense_stack',
      layers: [
        tf.layers.dense({ inputShape: [6], units: 8, activation: 'relu', kernelInitializer: seeded(1), kernelRegularizer: tf.regularizers.l2({ l2: 0.01 }), kernelConstraint: tf.constraints.maxNorm({ maxValue: 3 }), name: 'd1' }),
        tf.layers.batchNormalization({ name: 'bn' }),
        tf.layers.dropout({ rate: 0.3, name: 'drop' }),
        tf.layers.reshape({ targetShape: [2, 4], name: 'reshape' }),
        tf.layers.layerNormalization({ name: 'ln' }),
        tf.layers.activation({ activation: 'tanh', name: 'act' }),
        tf.layers.flatten({ name: 'flat' }),
        tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: seeded(2), biasInitializer: tf.initializers.constant({ value: 0.1 }), name: 'd2' }),
      ],
    });
    return { model, input: randomInput([5, 6], 11) };
  },
  conv2d: () => {
    const model = tf.sequential({
      name: 'conv2d_stack',
      layers: [
        tf.layers.conv2d({ inputShape: [9, 9, 2], filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: seeded(3), name: 'c1' }),
        tf.layers.maxPooling2d({ poolSize: 2, name: 'mp' }),
        tf.layers.conv2d({ filters: 3, kernelSize: [2, 3], strides: [1, 2], kernelInitializer: tf.initializers.heNormal({ seed: 4 }), name: 'c2' }),
        tf.layers.averagePooling2d({ poolSize: 2, strides: 1, padding: 'same', name: 'ap' }),
        tf.layers.globalMaxPooling2d({ name: 'gmp' }),
        tf.layers.dense({ units: 2, kernelInitializer: seeded(5), name: 'out' }),
      ],
    });
    return { model, input: randomInput([2, 9, 9, 2], 12) };
  },
  conv1d_functional: () => {
    const x = tf.input({ shape: [12, 3], name: 'signal' });
    const c = tf.layers.conv1d({ filters: 4, kernelSize: 3, dilationRate: 2, activation: 'elu', kernelInitializer: seeded(6), name: 'c1d' }).apply(x) as tf.SymbolicTensor;
    const p = tf.layers.maxPooling1d({ poolSize: 2, name: 'mp1d' }).apply(c) as tf.SymbolicTensor;
    const a = tf.layers.averagePooling1d({ poolSize: 2, name: 'ap1d' }).apply(p) as tf.SymbolicTensor;
    const g1 = tf.layers.globalAveragePooling1d({ name: 'gap1d' }).apply(a) as tf.SymbolicTensor;
    const g2 = tf.layers.globalMaxPooling1d({ name: 'gmp1d' }).apply(c) as tf.SymbolicTensor;
    const sum = tf.layers.add({ name: 'sum' }).apply([g1, g2]) as tf.SymbolicTensor;
    const img = tf.input({ shape: [6, 6, 1], name: 'image' });
    const ic = tf.layers.conv2d({ filters: 4, kernelSize: 3, kernelInitializer: seeded(7), name: 'img_conv' }).apply(img) as tf.SymbolicTensor;
    const ig = tf.layers.globalAveragePooling2d({ name: 'gap2d' }).apply(ic) as tf.SymbolicTensor;
    const both = tf.layers.concatenate({ name: 'cat' }).apply([sum, ig]) as tf.SymbolicTensor;
    const out = tf.layers.dense({ units: 2, kernelInitializer: seeded(8), name: 'head' }).apply(both) as tf.SymbolicTensor;
    return { model: tf.model({ inputs: [x, img], outputs: out, name: 'two_inputs' }), input: randomInput([3, 12, 3], 13) };
  },
  recurrent_functional: () => {
    const tokens = tf.input({ shape: [7], dtype: 'int32', name: 'tokens' });
    const e = tf.layers.embedding({ inputDim: 20, outputDim: 5, embeddingsInitializer: tf.initializers.randomUniform({ minval: -0.5, maxval: 0.5, seed: 9 }), name: 'emb' }).apply(tokens) as tf.SymbolicTensor;
    // Keras 3's recurrent activation (TF.js's default hardSigmoid has no Keras 3 equivalent).
    const l = tf.layers.lstm({ units: 4, returnSequences: true, recurrentActivation: 'sigmoid', kernelInitializer: seeded(10), recurrentInitializer: seeded(11), name: 'lstm' }).apply(e) as tf.SymbolicTensor;
    const g = tf.layers.gru({ units: 4, returnSequences: true, recurrentActivation: 'sigmoid', kernelInitializer: seeded(12), recurrentInitializer: seeded(13), name: 'gru' }).apply(l) as tf.SymbolicTensor;
    const s = tf.layers.simpleRNN({ units: 3, kernelInitializer: seeded(14), recurrentInitializer: seeded(15), name: 'rnn' }).apply(g) as tf.SymbolicTensor;
    const skip = tf.layers.globalAveragePooling1d({ name: 'gap' }).apply(e) as tf.SymbolicTensor;
    const cat = tf.layers.concatenate({ name: 'cat' }).apply([s, skip]) as tf.SymbolicTensor;
    const out = tf.layers.dense({ units: 2, activation: 'sigmoid', kernelInitializer: seeded(16), name: 'out' }).apply(cat) as tf.SymbolicTensor;
    const model = tf.model({ inputs: tokens, outputs: out, name: 'recurrent' });
    const values = Array.from({ length: 4 * 7 }, (_, i) => (i * 7 + 3) % 20);
    return { model, input: { dtype: 'int32', shape: [4, 7], values } };
  },
};

function randomInput(shape: number[], seed: number) {
  const t = tf.randomNormal(shape, 0, 1, 'float32', seed);
  const values = Array.from(t.dataSync());
  t.dispose();
  return { dtype: 'float32', shape, values };
}

/** Some weights away from their initial values (BN statistics, zero biases), so a dropped one shows. */
function perturb(model: tf.LayersModel): void {
  model.setWeights(model.getWeights().map((w, i) => tf.tidy(() => (w.dtype === 'float32' ? w.add(tf.randomUniform(w.shape, 0.05, 0.3, 'float32', 100 + i)) : w))));
}

function inputsFor(model: tf.LayersModel, input: { dtype: string; shape: number[]; values: number[] }): tf.Tensor[] {
  // Multi-input models get the same first input and zeros-plus-ramp for the others.
  return model.inputs.map((s, i) => {
    if (i === 0) return tf.tensor(input.values, input.shape, input.dtype as 'float32' | 'int32');
    const shape = [input.shape[0]!, ...(s.shape.slice(1) as number[])];
    return tf.tidy(() => tf.range(0, shape.reduce((a, b) => a * b, 1)).div(50).sin().reshape(shape));
  });
}

function predictAll(model: tf.LayersModel, xs: tf.Tensor[]): number[] {
  return tf.tidy(() => Array.from((model.predict(xs.length === 1 ? xs[0]! : xs) as tf.Tensor).dataSync()));
}

describe('TF.js models round-trip through Keras configs', () => {
  for (const [name, make] of Object.entries(MODELS)) {
    for (const form of ['keras3', 'legacy'] as const) {
      it(`${name} via ${form === 'keras3' ? 'toKeras3Config/fromKeras3Config' : 'toLegacyModelConfig/fromLegacyModelConfig'}: the same TF.js topology and predictions`, async () => {
        const { model, input } = make();
        perturb(model);
        const topology = topologyOf(model);
        const keras = form === 'keras3' ? toKeras3Config(topology) : toLegacyModelConfig(topology);
        // What Keras reads is plain JSON.
        const back = form === 'keras3' ? fromKeras3Config(JSON.parse(JSON.stringify(keras))) : fromLegacyModelConfig(JSON.parse(JSON.stringify(keras)));
        const rebuilt = await build(back);
        assert.deepEqual(normalized(topologyOf(rebuilt)), normalized(topology));
        rebuilt.setWeights(model.getWeights());
        const xs = inputsFor(model, input);
        // Not always bit-equal: TF.js may pick other kernels for a freshly built model (seen: 6e-8).
        assert.ok(maxDiff(predictAll(rebuilt, xs), predictAll(model, xs)) <= 1e-6);
        xs.forEach((x) => x.dispose());
      });
    }
  }
});

/** TF.js's topology with what does not change the model taken out: TF.js writes unset options as null. */
function normalized(topology: TfjsTopology): unknown {
  const clean = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(clean);
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) {
        if (k === 'keras_version' || k === 'backend') continue;
        if (x === null || (k === 'unit_forget_bias' && x === false) || (k === 'mask_zero' && x === false) || k === 'implementation') continue;
        out[k] = clean(x);
      }
      return out;
    }
    return v;
  };
  return clean(topology);
}

// ---- real Keras ----------------------------------------------------------------------------------

/** Builds the model from our config, sets TF.js's weights, saves Keras weights, predicts. */
const PY_BUILD = `
import json, sys, numpy as np, keras
spec = json.load(open(sys.argv[1]))
model = keras.saving.deserialize_keras_object(spec["config"])
model.set_weights([np.asarray(w["values"], dtype="float32").reshape(w["shape"]) for w in spec["weights"]])
model.save_weights(sys.argv[2])
xs = [np.asarray(x["values"], dtype=x["dtype"]).reshape(x["shape"]) for x in spec["inputs"]]
y = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
json.dump({"output": np.asarray(y).ravel().tolist(), "layers": [[l.name, type(l).__name__] for l in model.layers]}, sys.stdout)
`;

/** Loads our .keras with load_model (zipfile inside) and a legacy .h5 with our model_config. */
const PY_LOAD = `
import json, sys, zipfile, h5py, numpy as np, keras
from keras.src.legacy.saving import legacy_h5_format
spec = json.load(open(sys.argv[1]))
with zipfile.ZipFile(sys.argv[2]) as z:
    assert z.testzip() is None
    names = z.namelist()
    stored = z.getinfo("model.weights.h5").compress_type == zipfile.ZIP_STORED
model = keras.models.load_model(sys.argv[2])
xs = [np.asarray(x["values"], dtype=x["dtype"]).reshape(x["shape"]) for x in spec["inputs"]]
y = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
with h5py.File(sys.argv[3], "w") as f:
    f.attrs["model_config"] = json.dumps(spec["legacy_config"]).encode()
    if spec.get("training_config") is not None:
        f.attrs["training_config"] = json.dumps(spec["training_config"]).encode()
    f.attrs["keras_version"] = b"2.15.0"
    f.attrs["backend"] = b"tensorflow"
    legacy_h5_format.save_weights_to_hdf5_group(f.create_group("model_weights"), model)
legacy = keras.models.load_model(sys.argv[3])
y2 = legacy.predict(xs if len(xs) > 1 else xs[0], verbose=0)
json.dump({"names": names, "stored": stored, "output": np.asarray(y).ravel().tolist(), "legacy_output": np.asarray(y2).ravel().tolist(),
           "compiled": legacy.optimizer is not None and legacy.loss is not None, "keras3_compiled": model.optimizer is not None}, sys.stdout)
`;

describe('real Keras 3 reads what we write', () => {
  for (const [name, make] of Object.entries(MODELS)) {
    it(`${name}: Keras builds our config.json, loads our .keras and our legacy .h5, and predicts what TF.js predicts`, { skip: HAS_PYTHON ? false : NO_PYTHON }, async () => {
      const { model, input } = make();
      perturb(model);
      model.compile({ optimizer: tf.train.adam(0.01), loss: 'meanSquaredError', metrics: ['mae'] });
      const topology = topologyOf(model);
      const trainingConfig = (model as unknown as { getTrainingConfig(): JsonObject }).getTrainingConfig();
      const config = toKeras3Config(topology, { trainingConfig: trainingConfig as never });
      assert.ok(config['compile_config'], 'the training config translates');
      const xs = inputsFor(model, input);
      const expected = predictAll(model, xs);
      const dir = await tempDir();
      const spec = {
        config,
        legacy_config: toLegacyModelConfig(topology),
        training_config: toLegacyTrainingConfig(trainingConfig as never),
        // Keras's get/set_weights order is layer by layer; TF.js's model.getWeights() puts all non-trainable ones last.
        weights: model.layers.flatMap((l) => l.weights).map((w) => ({ shape: w.shape, values: Array.from(w.read().dataSync()) })),
        inputs: xs.map((x) => ({ dtype: x.dtype, shape: x.shape, values: Array.from(x.dataSync()) })),
      };
      xs.forEach((x) => x.dispose());
      await writeFile(join(dir, 'spec.json'), JSON.stringify(spec));
      const built = JSON.parse(python(PY_BUILD, [join(dir, 'spec.json'), join(dir, 'w.weights.h5')]));
      assert.deepEqual(built.layers.filter((l: string[]) => l[1] !== 'InputLayer').map((l: string[]) => l[0]), model.layers.filter((l) => l.getClassName() !== 'InputLayer').map((l) => l.name));
      assert.ok(maxDiff(built.output, expected) <= 1e-5, `deserialize_keras_object: max abs diff ${maxDiff(built.output, expected)}`);

      // Our .keras: our config.json, our metadata.json, Keras's weights file streamed in.
      const weights = new Uint8Array(await readFile(join(dir, 'w.weights.h5')));
      const handle = await open(join(dir, 'model.keras'), 'w');
      await writeKerasZip({ config: new TextEncoder().encode(JSON.stringify(config)), weights: chunks(weights, 4096), weightsSize: weights.length }, { write: async (c) => void (await handle.write(c)) });
      await handle.close();
      const loaded = JSON.parse(python(PY_LOAD, [join(dir, 'spec.json'), join(dir, 'model.keras'), join(dir, 'legacy.h5')]));
      assert.deepEqual(loaded.names, ['metadata.json', 'config.json', 'model.weights.h5']);
      assert.equal(loaded.stored, true);
      assert.ok(maxDiff(loaded.output, expected) <= 1e-5, `load_model(.keras): max abs diff ${maxDiff(loaded.output, expected)}`);
      assert.ok(maxDiff(loaded.legacy_output, expected) <= 1e-5, `load_model(.h5): max abs diff ${maxDiff(loaded.legacy_output, expected)}`);
      assert.equal(loaded.compiled, true, 'the legacy training_config compiles');
      assert.equal(loaded.keras3_compiled, true, 'the compile_config compiles');
    });
  }
});

// ---- what cannot be translated ------------------------------------------------------------------

describe('untranslatable layers and options', () => {
  it('a layer class without a translation is UNSUPPORTED_LAYER naming the layer and class, suggesting weights-only formats', () => {
    const model = tf.sequential({ layers: [tf.layers.conv2dTranspose({ inputShape: [4, 4, 1], filters: 2, kernelSize: 2, name: 'up' })] });
    for (const f of [toKeras3Config, toLegacyModelConfig]) {
      assert.throws(() => f(topologyOf(model)), isCode('UNSUPPORTED_LAYER', /"up" \(Conv2DTranspose\).*\.weights\.h5 or \.safetensors/));
    }
  });

  it("TF.js's default hardSigmoid recurrent activation is refused for Keras 3 (a different function there)", () => {
    const model = tf.sequential({ layers: [tf.layers.lstm({ inputShape: [3, 2], units: 2, name: 'lstm_default' })] });
    assert.throws(() => toKeras3Config(topologyOf(model)), isCode('UNSUPPORTED_LAYER', /"lstm_default" \(LSTM\).*hard_sigmoid/));
    // tf.keras 2's hard_sigmoid is TF.js's: allowed when asked for.
    const legacy = toLegacyModelConfig(topologyOf(model), { keras2HardSigmoid: true });
    assert.equal(((legacy['config'] as JsonObject)['layers'] as JsonObject[])[1]!['config'] && (((legacy['config'] as JsonObject)['layers'] as JsonObject[])[1]!['config'] as JsonObject)['recurrent_activation'], 'hard_sigmoid');
  });

  it('Keras-side: a GRU with reset_after=True, a custom class, a mixed-precision policy', async () => {
    const source = await fileSource(join(FIXTURES, 'dense_bn.keras'));
    const config = JSON.parse(new TextDecoder().decode(await (await readKerasZip(source)).readConfig()));
    await source.close();
    const dense = config.config.layers[1];
    const variants: [string, (c: typeof config) => void, RegExp][] = [
      ['custom', (c) => { c.config.layers[1].registered_name = 'my_pkg>MyDense'; c.config.layers[1].module = 'my_pkg'; }, /"dense" \(Dense\).*custom class/],
      ['mixed', (c) => { c.config.layers[1].config.dtype.config.name = 'mixed_float16'; }, /"dense" \(Dense\).*mixed_float16/],
      ['gru', (c) => { c.config.layers[1] = { ...dense, class_name: 'GRU', config: { name: 'g', units: 2, reset_after: true } }; }, /"g" \(GRU\).*reset_after/],
      ['option', (c) => { c.config.layers[1].config.lora_rank = 4; }, /"dense" \(Dense\).*lora_rank/],
    ];
    for (const [what, change, pattern] of variants) {
      const c = JSON.parse(JSON.stringify(config));
      change(c);
      assert.throws(() => fromKeras3Config(c), isCode('UNSUPPORTED_LAYER', pattern), what);
    }
  });
});

// ---- the .keras zip ------------------------------------------------------------------------------

async function zipBytes(weights: Uint8Array, options: { zip64?: boolean; weightsSize?: number } = {}): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  await writeKerasZip(
    { config: new TextEncoder().encode('{"class_name": "Sequential"}'), metadata: { extra: 1 }, weights: chunks(weights, 777), ...(options.weightsSize !== undefined ? { weightsSize: options.weightsSize } : {}) },
    { write: async (c) => void parts.push(c.slice()) },
    options.zip64 === undefined ? {} : { zip64: options.zip64 },
  );
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) (out.set(p, at), (at += p.length));
  return out;
}

const hasSignature = (bytes: Uint8Array, signature: number) => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 70000); i--) if (view.getUint32(i, true) === signature) return true;
  return false;
};

describe('.keras zip container', () => {
  const weights = Uint8Array.from({ length: 10_000 }, (_, i) => (i * 31 + 7) & 0xff);

  for (const zip64 of [false, true]) {
    it(`writeKerasZip -> readKerasZip${zip64 ? ' (ZIP64)' : ''}: entries, JSON and the weights' byte range`, async () => {
      const bytes = await zipBytes(weights, zip64 ? { zip64: true } : { weightsSize: weights.length });
      assert.equal(hasSignature(bytes, 0x06064b50), zip64, 'a ZIP64 end of central directory exactly when asked');
      const zip = await readKerasZip(memorySource(bytes));
      assert.deepEqual(zip.names, ['metadata.json', 'config.json', 'model.weights.h5']);
      assert.equal(new TextDecoder().decode(await zip.readConfig()), '{"class_name": "Sequential"}');
      const metadata = JSON.parse(new TextDecoder().decode(await zip.readMetadata()));
      assert.equal(metadata.extra, 1);
      assert.match(metadata.keras_version, /^3\./);
      assert.match(metadata.date_saved, /^\d{4}-\d\d-\d\d@\d\d:\d\d:\d\d$/);
      assert.deepEqual(bytes.subarray(zip.weights.offset, zip.weights.offset + zip.weights.length), weights);
    });

    it(`Python's zipfile reads it${zip64 ? ' (ZIP64)' : ''}`, { skip: HAS_PYTHON ? false : NO_PYTHON }, async () => {
      const dir = await tempDir();
      await writeFile(join(dir, 'a.keras'), await zipBytes(weights, zip64 ? { zip64: true } : { weightsSize: weights.length }));
      const out = JSON.parse(python(`
import json, sys, zipfile, hashlib
with zipfile.ZipFile(sys.argv[1]) as z:
    assert z.testzip() is None
    json.dump({"names": z.namelist(), "weights": hashlib.sha256(z.read("model.weights.h5")).hexdigest(), "meta": json.loads(z.read("metadata.json")),
               "methods": [i.compress_type for i in z.infolist()]}, sys.stdout)`, [join(dir, 'a.keras')]));
      assert.deepEqual(out.names, ['metadata.json', 'config.json', 'model.weights.h5']);
      assert.deepEqual(out.methods, [0, 0, 0]);
      const digest = Buffer.from(await crypto.subtle.digest('SHA-256', weights)).toString('hex');
      assert.equal(out.weights, digest);
      assert.equal(out.meta.extra, 1);
    });
  }

  it('a damaged or non-zip file is CORRUPT_CHECKPOINT', async () => {
    await assert.rejects(readKerasZip(memorySource(new TextEncoder().encode('not a zip at all, just text'))), isCode('CORRUPT_CHECKPOINT'));
    const bytes = await zipBytes(weights, { weightsSize: weights.length });
    await assert.rejects(readKerasZip(memorySource(bytes.subarray(0, bytes.length - 30))), isCode('CORRUPT_CHECKPOINT'));
  });

  it('a failing weights stream fails the archive instead of truncating it', async () => {
    async function* failing(): AsyncIterable<Uint8Array> {
      yield new Uint8Array(100);
      throw new Error('disk gone');
    }
    await assert.rejects(writeKerasZip({ config: new Uint8Array(2), weights: failing() }, { write: async () => undefined }), /disk gone/);
  });
});
