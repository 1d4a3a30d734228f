/**
 * What to keep. Each policy names the checkpoints it wants kept; a checkpoint survives if any
 * policy (or a protection) keeps it, so "the 3 best and the last 2 and one per hour" is a list of
 * three policies, not a new flag. Pure: no I/O, no clocks.
 */
import { isImprovement, type Direction } from './monitor.js';

export interface RetentionCandidate {
  /** A unique key (the checkpoint's path). */
  id: string;
  /** Order of creation: larger is newer (global step, or commit time). */
  order: number;
  /** 1-based epoch, when known. */
  epoch: number | null;
  /** Wall-clock commit time in ms. */
  time: number;
  /** The monitored value, when the checkpoint has one. */
  value: number | null;
}

export interface RetentionOptions {
  /** Keep the `k` best checkpoints by the monitored value (Lightning's `save_top_k`). */
  saveTopK?: number;
  /** Keep the `n` newest checkpoints. */
  keepLast?: number;
  /** Keep every checkpoint whose epoch is a multiple of `n` (Orbax's `keep_period`). */
  keepEveryNEpochs?: number;
  /** Keep the first checkpoint of every interval of this many seconds (tf.train's `keep_checkpoint_every_n_hours`). */
  keepEveryNSeconds?: number;
}

export function hasRetention(options: RetentionOptions): boolean {
  return options.saveTopK !== undefined || options.keepLast !== undefined || options.keepEveryNEpochs !== undefined || options.keepEveryNSeconds !== undefined;
}

/** The best candidate by value in `direction` (NaN and missing values never win); ties go to the newest. */
export function bestCandidate<T extends RetentionCandidate>(candidates: readonly T[], direction: Direction): T | undefined {
  let best: T | undefined;
  for (const c of candidates) {
    if (c.value === null || Number.isNaN(c.value)) continue;
    if (!best || isImprovement(direction, c.value, best.value!) || (c.value === best.value && c.order > best.order)) best = c;
  }
  return best;
}

function topK(candidates: readonly RetentionCandidate[], k: number, direction: Direction): RetentionCandidate[] {
  const scored = candidates.filter((c) => c.value !== null && !Number.isNaN(c.value));
  scored.sort((a, b) => (a.value === b.value ? b.order - a.order : isImprovement(direction, a.value!, b.value!) ? -1 : 1));
  return scored.slice(0, k);
}

/**
 * The ids to delete: everything no policy keeps, minus the protected ids. With no policy at all,
 * nothing is deleted (Keras keeps every checkpoint).
 */
export function selectForDeletion(
  candidates: readonly RetentionCandidate[],
  options: RetentionOptions,
  direction: Direction,
  protectedIds: ReadonlySet<string>,
): string[] {
  if (!hasRetention(options) || candidates.length === 0) return [];
  const keep = new Set<string>(protectedIds);
  const byOrder = [...candidates].sort((a, b) => a.order - b.order);
  if (options.saveTopK !== undefined) for (const c of topK(candidates, options.saveTopK, direction)) keep.add(c.id);
  if (options.keepLast !== undefined) for (const c of byOrder.slice(Math.max(0, byOrder.length - options.keepLast))) keep.add(c.id);
  if (options.keepEveryNEpochs !== undefined) {
    for (const c of candidates) if (c.epoch !== null && c.epoch % options.keepEveryNEpochs === 0) keep.add(c.id);
  }
  if (options.keepEveryNSeconds !== undefined) {
    const origin = Math.min(...candidates.map((c) => c.time));
    const seen = new Set<number>();
    for (const c of [...candidates].sort((a, b) => a.time - b.time || a.order - b.order)) {
      const window = Math.floor((c.time - origin) / (options.keepEveryNSeconds * 1000));
      if (!seen.has(window)) {
        seen.add(window);
        keep.add(c.id);
      }
    }
  }
  return candidates.filter((c) => !keep.has(c.id)).map((c) => c.id);
}

/** Validates retention options; returns a message for the first bad one. */
export function retentionProblem(options: RetentionOptions): string | undefined {
  for (const key of ['saveTopK', 'keepLast', 'keepEveryNEpochs'] as const) {
    const v = options[key];
    if (v !== undefined && !(Number.isInteger(v) && v > 0)) return `\`${key}\` must be a positive integer; got ${JSON.stringify(v)}.`;
  }
  const s = options.keepEveryNSeconds;
  if (s !== undefined && !(typeof s === 'number' && s > 0 && Number.isFinite(s))) return `\`keepEveryNSeconds\` must be a positive number; got ${JSON.stringify(s)}.`;
  return undefined;
}
