/**
 * The page of bench/browser_large.ts: saves `?gib=` GiB of float32 weights (as 256 MiB tensors) with
 * CheckpointManager to `?store=`, restores them into fresh tensors and compares, timing both. Stock
 * TF.js keeps a model as one IndexedDB record and fails near 2 GB (tensorflow/tfjs#7702).
 */
import * as tf from '@tensorflow/tfjs';
import { CheckpointManager, verify } from '../src/universal.js';

declare global {
  interface Window {
    __large?: Record<string, unknown>;
  }
}

const params = new URLSearchParams(location.search);
const store = params.get('store')!;
const gib = Number(params.get('gib') ?? 2.25);
const PART = 64 * 2 ** 20; // elements per tensor: 256 MiB

try {
  await tf.setBackend('cpu');
  const parts = Math.ceil((gib * 2 ** 30) / 4 / PART);
  const tensors: Record<string, tf.Tensor> = {};
  for (let i = 0; i < parts; i++) tensors[`w${i}`] = tf.fill([PART], i + 0.5);
  const manager = new CheckpointManager({ directory: `${store}://large`, name: 'ckpt-{step}', asyncSave: false });
  let t = performance.now();
  await manager.save(1, tensors);
  const saveMs = performance.now() - t;
  const bytes = parts * PART * 4;
  for (const tensor of Object.values(tensors)) tensor.dispose();
  t = performance.now();
  const restored = (await manager.restore('latest')) as Record<string, tf.Tensor>;
  const loadMs = performance.now() - t;
  let exact = Object.keys(restored).length === parts;
  for (let i = 0; i < parts && exact; i++) {
    const values = await restored[`w${i}`]!.data();
    exact = values.length === PART && values[0] === i + 0.5 && values[PART - 1] === i + 0.5;
  }
  t = performance.now();
  const checked = (await verify(`${store}://large/ckpt-1`)).checksums;
  const verifyMs = performance.now() - t;
  window.__large = { store, bytes, saveMs, loadMs, verifyMs, exact, checked };
} catch (e) {
  window.__large = { error: String((e as Error)?.stack ?? e) };
}
