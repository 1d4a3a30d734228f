/**
 * Seeded initial weights on every tfjs version CI tests. `glorotUniform({ seed })` ignores its seed
 * before tfjs 4.2 (two models built alike start apart, and every bit-identical comparison with a
 * reference run fails there); this draws the very values it draws from 4.2 on.
 */
import * as tf from '@tensorflow/tfjs';

/** Sets a dense layer's kernel to what `glorotUniform({ seed })` draws in tfjs >= 4.2. */
export function seedGlorotUniformKernel(layer: tf.layers.Layer, seed: number): void {
  const [kernel, ...rest] = layer.getWeights();
  const [fanIn, fanOut] = kernel!.shape as [number, number];
  // VarianceScaling's arithmetic, step for step (scale 1, fanAvg, uniform), so the values are equal.
  let scale = 1.0;
  scale /= Math.max(1, (fanIn + fanOut) / 2);
  const limit = Math.sqrt(3 * scale);
  const drawn = tf.randomUniform(kernel!.shape, -limit, limit, 'float32', seed);
  layer.setWeights([drawn, ...rest]);
  drawn.dispose();
}

