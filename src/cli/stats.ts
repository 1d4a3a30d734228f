/** Per-weight statistics and differences, computed on the CPU from the weights' values. */
import type { Tensor } from '@tensorflow/tfjs-core';

export interface WeightStats {
  min: number | null;
  max: number | null;
  mean: number | null;
  std: number | null;
  nan: number;
  inf: number;
}

/** Statistics over the finite values; NaN and ±Infinity are counted, not averaged. */
export async function weightStats(tensor: Tensor): Promise<WeightStats> {
  const values = await tensor.data();
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let count = 0;
  let nan = 0;
  let inf = 0;
  for (let i = 0; i < values.length; i++) {
    const v = Number(values[i]);
    if (Number.isNaN(v)) nan++;
    else if (!Number.isFinite(v)) inf++;
    else {
      if (v < min) min = v;
      if (v > max) max = v;
      sum += v;
      count++;
    }
  }
  if (count === 0) return { min: null, max: null, mean: null, std: null, nan, inf };
  const mean = sum / count;
  let squares = 0;
  for (let i = 0; i < values.length; i++) {
    const v = Number(values[i]);
    if (Number.isFinite(v)) squares += (v - mean) ** 2;
  }
  return { min, max, mean, std: Math.sqrt(squares / count), nan, inf };
}

export interface Difference {
  maxAbs: number;
  meanAbs: number;
}

/** Max and mean absolute difference of two tensors of one shape (NaN where exactly one side is NaN). */
export async function difference(a: Tensor, b: Tensor): Promise<Difference> {
  const [x, y] = await Promise.all([a.data(), b.data()]);
  let maxAbs = 0;
  let sum = 0;
  for (let i = 0; i < x.length; i++) {
    const u = Number(x[i]);
    const v = Number(y[i]);
    const d = u === v || (Number.isNaN(u) && Number.isNaN(v)) ? 0 : Math.abs(u - v);
    if (Number.isNaN(d)) return { maxAbs: NaN, meanAbs: NaN };
    if (d > maxAbs) maxAbs = d;
    sum += d;
  }
  return { maxAbs, meanAbs: x.length === 0 ? 0 : sum / x.length };
}
