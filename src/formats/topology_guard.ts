/**
 * TF.js builds a model's layers (allocating their variables) from model.json before it compares them
 * with the stored weights, so a damaged or hostile topology (`units: 1e9`) could allocate gigabytes
 * or crash the process. The sizes a layer config names can never exceed what the manifest's weights
 * hold, so anything larger is rejected up front.
 */
import { CorruptCheckpointError } from '../errors.js';
import type { ManifestGroup } from './schema.js';

/** Config keys that size a layer's weights or activations. */
const SIZE_KEYS = new Set([
  'units', 'filters', 'input_dim', 'output_dim', 'inputDim', 'outputDim', 'kernel_size', 'kernelSize', 'pool_size', 'poolSize',
  'batch_input_shape', 'batchInputShape', 'input_shape', 'inputShape', 'target_shape', 'targetShape', 'depth_multiplier', 'depthMultiplier', 'n',
]);

/** The smallest limit we apply: real models have layer sizes far below it even with tiny weights. */
const FLOOR = 1 << 24;

function* sizeValues(node: unknown, underSizeKey = false, depth = 0): Generator<number> {
  if (depth > 200) throw new CorruptCheckpointError('model.json nests deeper than any real model topology.');
  if (typeof node === 'number') {
    if (underSizeKey) yield node;
    return;
  }
  if (Array.isArray(node)) {
    for (const item of node) yield* sizeValues(item, underSizeKey, depth + 1);
    return;
  }
  if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) yield* sizeValues(value, SIZE_KEYS.has(key), depth + 1);
  }
}

export function assertPlausibleTopology(topology: unknown, manifest: readonly ManifestGroup[], where: string): void {
  const elements = manifest.reduce((n, g) => n + g.weights.reduce((m, w) => m + w.shape.reduce((a, d) => a * d, 1), 0), 0);
  const limit = Math.max(FLOOR, elements);
  for (const value of sizeValues(topology)) {
    if (!Number.isFinite(value) || value > limit || value < -1) {
      throw new CorruptCheckpointError(
        `${where}: model.json names a layer size of ${value}, more than its ${elements} stored weight values could fill; the topology is damaged.`,
      );
    }
  }
}
