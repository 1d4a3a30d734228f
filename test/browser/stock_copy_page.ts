/**
 * The page of stock_copy.test.ts (window.stockCopy): full-model checkpoints on `indexeddb://` that
 * stock TF.js loads by name, `tf.loadLayersModel('indexeddb://…')`, and what does not get a copy.
 */
import * as tf from '@tensorflow/tfjs';
import { IndexedDbStore, loadModel, modelCheckpoint, registerStore, saveModel, saveWeights } from '../../src/universal.js';

declare global {
  interface Window {
    stockCopy?: typeof api;
  }
}

function model(seed: number, units = 4): tf.LayersModel {
  const m = tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units, kernelInitializer: tf.initializers.glorotUniform({ seed }) }), tf.layers.dense({ units: 1, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) })] });
  m.compile({ optimizer: 'adam', loss: 'meanSquaredError' });
  return m;
}

const probe = tf.tensor2d([[0.1, -0.2, 0.3], [1, 2, 3]]);
const predict = async (m: tf.LayersModel) => Array.from(await (m.predict(probe) as tf.Tensor).data());

/** What stock TF.js lists under `prefix`, sorted. */
async function stockNames(prefix: string): Promise<string[]> {
  return Object.keys(await tf.io.listModels())
    .filter((url) => url.startsWith(`indexeddb://${prefix}`))
    .sort();
}

const api = {
  /** Trains 3 epochs, a full-model checkpoint each, keeping the last 2: the copies follow retention. */
  async retention() {
    const m = model(1);
    const x = tf.tensor2d([[1, 2, 3], [3, 2, 1], [0, 1, 0], [1, 1, 1]]);
    const y = tf.tensor2d([[1], [0], [0.5], [0.2]]);
    await m.fit(x, y, { epochs: 3, batchSize: 2, shuffle: false, verbose: 0, callbacks: [modelCheckpoint({ filepath: 'indexeddb://stock/m{epoch:02d}', keepLast: 2 })] });
    const ours = await predict(await loadModel('indexeddb://stock/m03'));
    const stock = await predict(await tf.loadLayersModel('indexeddb://stock/m03'));
    return { listed: await stockNames('stock/'), ours, stock, trained: await predict(m) };
  },
  /** The same name saved twice: the copy is the second model. */
  async overwrite() {
    await saveModel(model(10), 'indexeddb://same/model');
    const second = model(20);
    await saveModel(second, 'indexeddb://same/model');
    return { expected: await predict(second), stock: await predict(await tf.loadLayersModel('indexeddb://same/model')) };
  },
  /** Weights only, and a model over a store's limit: no copy (and the checkpoint is saved all the same). */
  async noCopy() {
    await saveWeights(model(30), 'indexeddb://nocopy/weights');
    registerStore('idb-limited', new IndexedDbStore({ stockCopyMaxBytes: 100 }));
    await saveModel(model(40), 'idb-limited://nocopy/big');
    const loaded = await predict(await loadModel('idb-limited://nocopy/big'));
    return { listed: await stockNames('nocopy/'), loaded: loaded.length };
  },
};

window.stockCopy = api;
