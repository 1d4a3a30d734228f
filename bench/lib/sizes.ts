/**
 * Model sizes: tf.sequential of 4 × dense(w) on input [w], i.e. 4·(w² + w) float32 parameters
 * (the perf-anchors model). The huge ones only run with --huge.
 */

export interface SizeSpec {
  key: string;
  label: string;
  width: number;
  huge: boolean;
}

export const SIZES: readonly SizeSpec[] = [
  { key: '1', label: '1M', width: 500, huge: false },
  { key: '25', label: '25M', width: 2500, huge: false },
  { key: '100', label: '100M', width: 5000, huge: false },
  { key: '1000', label: '1B (4 GB)', width: 15811, huge: true },
  { key: '5gib', label: '1.34B (5 GiB)', width: 18318, huge: true },
];

export function paramsOf(size: SizeSpec): number {
  return 4 * (size.width * size.width + size.width);
}

export function bytesOf(size: SizeSpec): number {
  return paramsOf(size) * 4;
}

export function sizeByKey(key: string): SizeSpec {
  const size = SIZES.find((s) => s.key === key.toLowerCase());
  if (!size) throw new Error(`Unknown size '${key}'; known: ${SIZES.map((s) => s.key).join(', ')}`);
  return size;
}

/**
 * Rounds of with/without fits, whatever --reps says beyond: at most three below 100M parameters, where
 * a round is short and a median of three rides out one slow phase of the machine (25M, 2026-12-03: the
 * same fit took 38.5 s in one round and 27–29 s in the next two); two at 100M (a round is minutes).
 */
export function fitRounds(size: SizeSpec, reps: number): number {
  return Math.min(reps, paramsOf(size) < 1e8 ? 3 : 2);
}
