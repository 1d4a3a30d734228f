/**
 * Reads TF.js callback logs. A `tf.Callback` subclass receives scalar tensors (a `CustomCallback`
 * earlier in the list may already have turned them into numbers, in place). We only read: the
 * tensors belong to the training loop, which disposes them, and callbacks after us (History) still
 * need them.
 */
import type { Tensor } from '@tensorflow/tfjs-core';

type LogValue = number | Tensor | undefined;

function isTensor(value: unknown): value is Tensor {
  return typeof value === 'object' && value !== null && typeof (value as Tensor).data === 'function';
}

export async function readLogValue(value: unknown): Promise<number | undefined> {
  if (typeof value === 'number') return value;
  if (isTensor(value)) {
    if (value.isDisposed) return undefined;
    const data = await value.data();
    return Number(data[0]);
  }
  return undefined;
}

/** All readable numeric log entries, as plain numbers. */
export async function resolveLogs(logs: Record<string, LogValue | unknown> | undefined): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  if (!logs) return out;
  for (const [key, value] of Object.entries(logs)) {
    const number = await readLogValue(value);
    if (number !== undefined) out[key] = number;
  }
  return out;
}
