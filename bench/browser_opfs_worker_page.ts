/**
 * The worker of bench/browser_opfs_worker.ts: saves the same weights to OPFS through writable streams
 * and through synchronous access handles, alternating, and posts each round's time to durable.
 */
import * as tf from '@tensorflow/tfjs';
import { OpfsStore, registerStore, saveWeights } from '../src/universal.js';

const params = new URL(location.href).searchParams;
const mib = Number(params.get('mib') ?? 256);
const rounds = Number(params.get('rounds') ?? 3);

registerStore('opfs-stream', new OpfsStore({ writeWith: 'stream' }));
registerStore('opfs-sync', new OpfsStore({ writeWith: 'auto' }));

try {
  await tf.setBackend('cpu');
  // Layers of 16 MiB each: the model's weights, written as 16 MiB shards.
  const units = 2048;
  const layers = Math.max(1, Math.round(mib / 16));
  const model = tf.sequential({ layers: Array.from({ length: layers }, (_, i) => tf.layers.dense({ inputShape: i === 0 ? [units] : undefined, units, useBias: false, kernelInitializer: 'ones' })) });
  const bytes = layers * units * units * 4;
  const times: Record<string, number[]> = { stream: [], sync: [] };
  for (let round = 0; round < rounds; round++) {
    for (const how of ['stream', 'sync'] as const) {
      const started = performance.now();
      await saveWeights(model, `opfs-${how}://bench/w`, { maxShardBytes: 16 * 2 ** 20 });
      times[how]!.push(performance.now() - started);
    }
  }
  postMessage({ bytes, times });
} catch (e) {
  postMessage({ error: String((e as Error)?.stack ?? e) });
}
