/**
 * The page of hdf5.test.ts: `?store=indexeddb|opfs`. A seeded model trains 2 epochs (`shuffle:
 * false`) with `modelCheckpoint` to `.keras`, full-model `.h5` and `.weights.h5` filepaths; each file
 * is loaded back (loadModel / loadWeights) and must predict exactly what the model predicts after
 * training; `verify` checks each; copies with one flipped weight byte and with a damaged HDF5
 * signature must fail with CORRUPT_CHECKPOINT. The stored bytes and the weights go back to the test,
 * which reads the files with Node's codec (and Keras, where Python is set up).
 */
import * as tf from '@tensorflow/tfjs';
import { latestCheckpoint, loadModel, loadWeights, modelCheckpoint, resolveLocation, verify } from '../../src/universal.js';
import { lcgNumbers } from '../model_helpers.js';

declare global {
  interface Window {
    __h5?: Record<string, unknown>;
  }
}

const store = new URLSearchParams(location.search).get('store')!;
const dir = `${store}://h5run`;

const numbers = lcgNumbers;

function build(): tf.LayersModel {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [5], units: 8, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
      tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
    ],
  });
  model.compile({ optimizer: tf.train.adam(0.02), loss: 'meanSquaredError' });
  return model;
}

const predict = async (model: tf.LayersModel) => Array.from(await (tf.tidy(() => model.predict(tf.tensor2d(numbers(4 * 5, 15), [4, 5]))) as tf.Tensor).data());

async function storedBytes(url: string): Promise<Uint8Array> {
  const { store: s, key } = resolveLocation(url);
  const file = await s.openFile(key);
  if (!file) throw new Error(`no file at ${url}`);
  try {
    const bytes = new Uint8Array(file.size);
    await file.read(bytes, 0, file.size, 0);
    return bytes;
  } finally {
    await file.close();
  }
}

async function putBytes(url: string, bytes: Uint8Array): Promise<void> {
  const { store: s, key } = resolveLocation(url);
  const staged = await s.stageFile(key);
  await staged.write([bytes]);
  await staged.commit();
}

function base64(bytes: Uint8Array): string {
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

/** Where `needle` starts in `haystack` (-1 if nowhere). */
function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

async function errorOf(action: () => Promise<unknown>): Promise<{ code?: string; message: string }> {
  try {
    await action();
    return { message: 'no error' };
  } catch (e) {
    return { code: (e as { code?: string }).code, message: String((e as Error).message) };
  }
}

async function run(): Promise<Record<string, unknown>> {
  await tf.setBackend('cpu');
  const model = build();
  const x = tf.tensor2d(numbers(32 * 5, 11), [32, 5]);
  const y = tf.tensor2d(numbers(32 * 3, 12), [32, 3]);
  await model.fit(x, y, {
    epochs: 2,
    batchSize: 8,
    shuffle: false,
    verbose: 0,
    callbacks: [
      modelCheckpoint({ filepath: `${dir}/m{epoch:02d}.keras` }),
      modelCheckpoint({ filepath: `${dir}/full{epoch:02d}.h5` }),
      modelCheckpoint({ filepath: `${dir}/w{epoch:02d}.weights.h5`, saveWeightsOnly: true }),
    ],
  });
  const expected = await predict(model);
  const weights = await Promise.all(model.getWeights().map(async (w) => Array.from(await w.data())));
  const files = { keras: `${dir}/m02.keras`, h5: `${dir}/full02.h5`, weightsH5: `${dir}/w02.weights.h5` };

  const fromKeras = await loadModel(files.keras);
  const fromH5 = await loadModel(files.h5);
  const fromWeights = build();
  await loadWeights(fromWeights, files.weightsH5);
  const predictions = { keras: await predict(fromKeras), h5: await predict(fromH5), weightsH5: await predict(fromWeights) };
  const verified = {
    keras: (await verify(files.keras)).checksums,
    h5: (await verify(files.h5)).checksums,
    weightsH5: (await verify(files.weightsH5)).checksums,
  };
  const latest = {
    keras: await latestCheckpoint(`${dir}/m{epoch:02d}.keras`),
    h5: await latestCheckpoint(`${dir}/full{epoch:02d}.h5`),
    weightsH5: await latestCheckpoint(`${dir}/w{epoch:02d}.weights.h5`),
  };

  const bytes = { keras: await storedBytes(files.keras), h5: await storedBytes(files.h5), weightsH5: await storedBytes(files.weightsH5) };
  // One flipped bit inside the first kernel's values (found by its bytes), in each format.
  const kernel = new Uint8Array((await model.getWeights()[0]!.data()).buffer.slice(0, 16));
  const corrupt: Record<string, { code?: string; message: string }> = {};
  for (const [name, url] of Object.entries(files)) {
    const damaged = bytes[name as keyof typeof bytes].slice();
    const at = indexOf(damaged, kernel);
    if (at < 0) throw new Error(`the kernel's bytes are not in the ${name} file`);
    damaged[at + 5]! ^= 0x10;
    const badUrl = url.replace(/(\d\d)\./, 'bad$1.');
    await putBytes(badUrl, damaged);
    corrupt[`${name}Load`] = await errorOf(() => (name === 'weightsH5' ? loadWeights(build(), badUrl) : loadModel(badUrl)));
    corrupt[`${name}Verify`] = await errorOf(() => verify(badUrl));
  }
  // An HDF5 file whose signature is gone (our trailer intact): HDF5 itself refuses it.
  const unsigned = bytes.h5.slice();
  unsigned.fill(0, 0, 8);
  await putBytes(`${dir}/nosig.h5`, unsigned);
  corrupt['signature'] = await errorOf(() => loadModel(`${dir}/nosig.h5`));

  return {
    expected,
    predictions,
    weights,
    verified,
    latest,
    corrupt,
    files: Object.fromEntries(Object.entries(bytes).map(([k, v]) => [k, base64(v)])),
  };
}

try {
  window.__h5 = await run();
} catch (e) {
  window.__h5 = { error: String((e as Error)?.stack ?? e) };
}
