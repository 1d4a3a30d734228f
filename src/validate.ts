/**
 * Checks at the public boundary: a wrong argument is a CheckpointError saying which argument of
 * which function was wrong and what it should be, never a TypeError from deep inside.
 */
import { CheckpointError } from './errors.js';

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  return `a ${Array.isArray(value) ? 'array' : typeof value}`;
}

export function invalidArgument(where: string, what: string, value: unknown): CheckpointError {
  return new CheckpointError('INVALID_ARGUMENT', `${where}: ${what}; got ${describeValue(value)}.`);
}

/** A path, template or URL: a non-empty string. */
export function requirePath(value: unknown, where: string, name = 'path'): string {
  if (typeof value !== 'string' || value.length === 0) throw invalidArgument(where, `\`${name}\` must be a non-empty path or file:// URL`, value);
  if (value.includes('\0')) throw invalidArgument(where, `\`${name}\` must not contain a NUL character`, value.replace(/\0/g, '\\0'));
  return value;
}

interface ModelLike {
  weights: unknown[];
  getWeights(): unknown;
}

/** A tf.LayersModel (duck-typed: two copies of tfjs defeat instanceof). */
export function requireModel<T>(value: T, where: string): T {
  const model = value as unknown as ModelLike | null | undefined;
  if (model == null || typeof model !== 'object' || !Array.isArray(model.weights) || typeof model.getWeights !== 'function') {
    throw invalidArgument(where, '`model` must be a tf.LayersModel (from tf.sequential, tf.model or tf.loadLayersModel)', value);
  }
  return value;
}

/** A step number: a non-negative safe integer (it orders checkpoints and names them). */
export function requireStep(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalidArgument(where, '`step` must be a non-negative integer (the training step the checkpoint belongs to)', value);
  }
  return value;
}

interface ScalarLike {
  size: number;
  data(): Promise<ArrayLike<number>>;
}

/**
 * Metrics as plain numbers. TF.js logs may hold scalar tensors: those are read (a scalar's one value,
 * asynchronously: a synchronous read stalls a GPU backend); anything else is refused, so every
 * checkpoint's `checkpoint.json` stays readable.
 */
export async function requireMetrics(value: unknown, where: string): Promise<Record<string, number>> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalidArgument(where, '`metrics` must be an object of metric names to numbers', value);
  const out: Record<string, number> = {};
  for (const [name, metric] of Object.entries(value)) {
    if (typeof metric === 'number') out[name] = metric;
    else if (metric && typeof (metric as ScalarLike).data === 'function' && (metric as ScalarLike).size === 1) out[name] = (await (metric as ScalarLike).data())[0]!;
    else throw invalidArgument(where, `metric \`${name}\` must be a number or a scalar tensor`, metric);
  }
  return out;
}
