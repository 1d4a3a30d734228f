/**
 * The page of browser_hdf5_memory.ts: `?store=indexeddb|opfs&format=weights.h5|keras|safetensors`. A
 * model with 64 MiB of float32 weights is saved to `format` and loaded back; `mark()` (exposed by the
 * bench) tells it when each step starts and ends, so it can attribute its heap samples.
 */
import * as tf from '@tensorflow/tfjs';
import { loadWeights, saveModel, saveWeights } from '../src/universal.js';

declare global {
  interface Window {
    mark(label: string): Promise<void>;
    __h5mem?: Record<string, unknown>;
  }
}

const params = new URLSearchParams(location.search);
const url = `${params.get('store')}://mem/w.${params.get('format')}`;
const build = () => tf.sequential({ layers: [tf.layers.dense({ inputShape: [4096], units: 4096, kernelInitializer: 'ones', useBias: false })] });

try {
  await tf.setBackend('cpu');
  const model = build();
  await window.mark('ready');
  if (params.get('format') === 'keras') await saveModel(model, url);
  else await saveWeights(model, url);
  await window.mark('saved');
  const back = build();
  await window.mark('load');
  await loadWeights(back, url);
  await window.mark('loaded');
  window.__h5mem = { weightMiB: model.getWeights().reduce((n, w) => n + w.size * 4, 0) / 2 ** 20 };
} catch (e) {
  window.__h5mem = { error: String((e as Error)?.stack ?? e) };
}
