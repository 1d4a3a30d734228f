/**
 * What to keep, as small combinable policies (Orbax's preservation policies): each names the
 * checkpoints it wants kept, and `keepAny` unites them, so "the last 3 and the best 2 and one per
 * hour" is `keepAny(keepLast(3), keepBest(2), keepEveryNSeconds(3600))`, not a new flag. A checkpoint
 * no policy keeps is deleted, except the newest, the best and protected ones (the manager's rule).
 * Pure: no I/O, no clock; a policy sees only the candidates it is given.
 */
import { CheckpointError } from '../errors.js';
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

/** What a policy may know beyond the candidates. */
export interface KeepContext {
  /** Whether a lower ('min') or higher ('max') monitored value is better. */
  direction: Direction;
}

/**
 * A retention policy: given the candidates, the ids it keeps. Build one with `keepLast`, `keepBest`,
 * `keepEveryNEpochs`, `keepEveryNSeconds`, `keepAll` and combine with `keepAny`; or write your own
 * plain object with `keep` and `describe`.
 */
export interface KeepPolicy {
  /** The ids (among `candidates`) this policy keeps. Must be pure: same input, same answer. */
  keep(candidates: readonly RetentionCandidate[], context: KeepContext): ReadonlySet<string>;
  /** How it was built, e.g. `keepAny(keepLast(3), keepBest(2))` (for messages and tools). */
  describe(): string;
  /** True when it ranks by the monitored value (then the manager needs a `monitor`). Default false. */
  readonly needsMonitor?: boolean;
}

/** The message for a count that must be a positive integer (`what` names the option or factory). */
export function positiveIntegerProblem(what: string, value: unknown): string | undefined {
  return Number.isInteger(value) && (value as number) > 0 ? undefined : `\`${what}\` must be a positive integer; got ${JSON.stringify(value)}.`;
}

/** The message for a duration that must be a positive finite number. */
export function positiveNumberProblem(what: string, value: unknown): string | undefined {
  return typeof value === 'number' && value > 0 && Number.isFinite(value) ? undefined : `\`${what}\` must be a positive number; got ${JSON.stringify(value)}.`;
}

/** True for anything shaped like a KeepPolicy (duck-typed: two copies of this library defeat instanceof). */
export function isKeepPolicy(value: unknown): value is KeepPolicy {
  const p = value as KeepPolicy | null;
  return p !== null && typeof p === 'object' && typeof p.keep === 'function' && typeof p.describe === 'function';
}

function check(problem: string | undefined): void {
  if (problem) throw new CheckpointError('INVALID_ARGUMENT', problem);
}

function policy(description: string, keep: KeepPolicy['keep'], needsMonitor = false): KeepPolicy {
  return Object.freeze({ keep, describe: () => description, toString: () => description, needsMonitor });
}

/** A checkpoint's monitored value can be ranked: present and not NaN. */
function ranked(c: RetentionCandidate): boolean {
  return c.value !== null && !Number.isNaN(c.value);
}

/** Keeps every checkpoint (the same as giving no policy; useful as a default in code that builds policies). */
export function keepAll(): KeepPolicy {
  return policy('keepAll()', (candidates) => new Set(candidates.map((c) => c.id)));
}

/** Keeps the `n` newest checkpoints (by creation order). Example: `keepLast(3)`. */
export function keepLast(n: number): KeepPolicy {
  check(positiveIntegerProblem('keepLast', n));
  return policy(`keepLast(${n})`, (candidates) => {
    const byOrder = [...candidates].sort((a, b) => a.order - b.order);
    return new Set(byOrder.slice(Math.max(0, byOrder.length - n)).map((c) => c.id));
  });
}

/**
 * Keeps the `k` best checkpoints by the monitored value, in the monitor's direction (Lightning's
 * `save_top_k`). NaN and missing values are never ranked; among equal values the newest wins.
 * Needs a `monitor`. Example: `keepBest(2)`.
 */
export function keepBest(k: number): KeepPolicy {
  check(positiveIntegerProblem('keepBest', k));
  return policy(
    `keepBest(${k})`,
    (candidates, { direction }) => {
      const scored = candidates.filter(ranked);
      scored.sort((a, b) => (a.value === b.value ? b.order - a.order : isImprovement(direction, a.value!, b.value!) ? -1 : 1));
      return new Set(scored.slice(0, k).map((c) => c.id));
    },
    true,
  );
}

/** Keeps every checkpoint whose (1-based) epoch is a multiple of `n` (Orbax's `keep_period`). Example: `keepEveryNEpochs(10)`. */
export function keepEveryNEpochs(n: number): KeepPolicy {
  check(positiveIntegerProblem('keepEveryNEpochs', n));
  return policy(`keepEveryNEpochs(${n})`, (candidates) => new Set(candidates.filter((c) => c.epoch !== null && c.epoch % n === 0).map((c) => c.id)));
}

/**
 * Keeps the first checkpoint (by commit time) of every interval of `s` seconds, counted from the
 * oldest candidate (tf.train's `keep_checkpoint_every_n_hours`, in seconds). Example: one per hour,
 * `keepEveryNSeconds(3600)`.
 */
export function keepEveryNSeconds(s: number): KeepPolicy {
  check(positiveNumberProblem('keepEveryNSeconds', s));
  return policy(`keepEveryNSeconds(${s})`, (candidates) => {
    const kept = new Set<string>();
    if (candidates.length === 0) return kept;
    const origin = Math.min(...candidates.map((c) => c.time));
    const seen = new Set<number>();
    for (const c of [...candidates].sort((a, b) => a.time - b.time || a.order - b.order)) {
      const window = Math.floor((c.time - origin) / (s * 1000));
      if (!seen.has(window)) {
        seen.add(window);
        kept.add(c.id);
      }
    }
    return kept;
  });
}

/**
 * The union: a checkpoint survives if any of `policies` keeps it. Example: the last 3, the best 2
 * and one per hour, `keepAny(keepLast(3), keepBest(2), keepEveryNSeconds(3600))`.
 */
export function keepAny(...policies: KeepPolicy[]): KeepPolicy {
  if (policies.length === 0) {
    throw new CheckpointError('INVALID_ARGUMENT', '`keepAny` needs at least one policy, e.g. keepAny(keepLast(3), keepBest(2)).');
  }
  for (const [i, p] of policies.entries()) {
    if (!isKeepPolicy(p)) {
      throw new CheckpointError('INVALID_ARGUMENT', `\`keepAny\`: argument ${i + 1} is not a keep policy (such as keepLast(3)); got ${p === null ? 'null' : typeof p}.`);
    }
  }
  const parts = [...policies];
  return policy(
    `keepAny(${parts.map((p) => p.describe()).join(', ')})`,
    (candidates, context) => {
      const kept = new Set<string>();
      for (const p of parts) for (const id of p.keep(candidates, context)) kept.add(id);
      return kept;
    },
    parts.some((p) => p.needsMonitor === true),
  );
}
