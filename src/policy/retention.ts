/**
 * Retention options, compiled into one KeepPolicy (see keep_policy.ts) in one place, and the
 * selection of what to delete. Pure: no I/O, no clocks.
 */
import { CheckpointError } from '../errors.js';
import {
  isKeepPolicy,
  keepAny,
  keepBest,
  keepEveryNEpochs,
  keepEveryNSeconds,
  keepLast,
  positiveIntegerProblem,
  positiveNumberProblem,
  type KeepPolicy,
  type RetentionCandidate,
} from './keep_policy.js';
import { isImprovement, type Direction } from './monitor.js';

export type { RetentionCandidate } from './keep_policy.js';

/**
 * What to keep when a new checkpoint is committed. Everything given is combined as a union (a
 * checkpoint stays if any policy keeps it); with nothing given every checkpoint is kept (as in
 * Keras). The newest checkpoint, the best one and protected ones are never deleted.
 */
export interface RetentionOptions {
  /**
   * A retention policy built from `keepLast`, `keepBest`, `keepEveryNEpochs`, `keepEveryNSeconds` and
   * combined with `keepAny`. Given together with the flags below, it is combined with them
   * (`keepAny(<flags>, keep)`). Default: none (keep every checkpoint).
   * Example: `keep: keepAny(keepLast(3), keepBest(2), keepEveryNSeconds(3600))`.
   */
  keep?: KeepPolicy;
  /**
   * Keep the `k` best checkpoints by `monitor` (Lightning's `save_top_k`; the same as `keepBest(k)`).
   * A positive integer. Default: none. Example: `saveTopK: 3`.
   */
  saveTopK?: number;
  /** Keep the `n` newest checkpoints (the same as `keepLast(n)`). A positive integer. Default: none. Example: `keepLast: 2`. */
  keepLast?: number;
  /**
   * Keep every checkpoint whose epoch is a multiple of `n` (Orbax's `keep_period`; the same as
   * `keepEveryNEpochs(n)`). A positive integer. Default: none. Example: `keepEveryNEpochs: 10`.
   */
  keepEveryNEpochs?: number;
  /**
   * Keep the first checkpoint of every interval of this many seconds (tf.train's
   * `keep_checkpoint_every_n_hours`; the same as `keepEveryNSeconds(s)`). A positive number of
   * seconds. Default: none. Example: `keepEveryNSeconds: 3600` (one per hour).
   */
  keepEveryNSeconds?: number;
}

/** The retention options' names, once (for option checks and forwarding). */
export const RETENTION_OPTIONS = ['keep', 'saveTopK', 'keepLast', 'keepEveryNEpochs', 'keepEveryNSeconds'] as const satisfies readonly (keyof RetentionOptions)[];
// Every option is listed: one added to RetentionOptions but not here fails to compile.
type Unlisted = Exclude<keyof RetentionOptions, (typeof RETENTION_OPTIONS)[number]>;
const everyOptionListed: [Unlisted] extends [never] ? true : Unlisted = true;
void everyOptionListed;

/** The best candidate by value in `direction` (NaN and missing values never win); ties go to the newest. */
export function bestCandidate<T extends RetentionCandidate>(candidates: readonly T[], direction: Direction): T | undefined {
  let best: T | undefined;
  for (const c of candidates) {
    if (c.value === null || Number.isNaN(c.value)) continue;
    if (!best || isImprovement(direction, c.value, best.value!) || (c.value === best.value && c.order > best.order)) best = c;
  }
  return best;
}

/** Validates retention options; returns a message for the first bad one. */
export function retentionProblem(options: RetentionOptions): string | undefined {
  for (const key of ['saveTopK', 'keepLast', 'keepEveryNEpochs'] as const) {
    if (options[key] !== undefined) {
      const problem = positiveIntegerProblem(key, options[key]);
      if (problem) return problem;
    }
  }
  if (options.keepEveryNSeconds !== undefined) {
    const problem = positiveNumberProblem('keepEveryNSeconds', options.keepEveryNSeconds);
    if (problem) return problem;
  }
  if (options.keep !== undefined && !isKeepPolicy(options.keep)) {
    const got = options.keep === null ? 'null' : typeof options.keep === 'number' || typeof options.keep === 'string' ? JSON.stringify(options.keep) : `a ${typeof options.keep}`;
    return `\`keep\` must be a keep policy such as keepAny(keepLast(3), keepBest(2)) (import them from tfjs-checkpoint); got ${got}.`;
  }
  return undefined;
}

/**
 * The one place where the retention options become a policy: the flags in a fixed order (saveTopK,
 * keepLast, keepEveryNEpochs, keepEveryNSeconds), then `keep`, united with `keepAny`. Undefined when
 * nothing is given (keep everything). Throws INVALID_ARGUMENT for a bad value, and for a policy that
 * ranks by value when there is no `monitor`.
 */
export function compileRetention(options: RetentionOptions, monitor: string | undefined): KeepPolicy | undefined {
  const problem = retentionProblem(options);
  if (problem) throw new CheckpointError('INVALID_ARGUMENT', problem);
  const parts: KeepPolicy[] = [];
  if (options.saveTopK !== undefined) parts.push(keepBest(options.saveTopK));
  if (options.keepLast !== undefined) parts.push(keepLast(options.keepLast));
  if (options.keepEveryNEpochs !== undefined) parts.push(keepEveryNEpochs(options.keepEveryNEpochs));
  if (options.keepEveryNSeconds !== undefined) parts.push(keepEveryNSeconds(options.keepEveryNSeconds));
  if (options.keep !== undefined) parts.push(options.keep);
  if (parts.length === 0) return undefined;
  const policy = parts.length === 1 ? parts[0]! : keepAny(...parts);
  if (monitor === undefined) {
    if (options.saveTopK !== undefined) {
      throw new CheckpointError('INVALID_ARGUMENT', '`saveTopK` ranks checkpoints by `monitor`: give a monitor (e.g. "val_loss").');
    }
    if (options.keep?.needsMonitor === true) {
      throw new CheckpointError('INVALID_ARGUMENT', `\`keep: ${options.keep.describe()}\` ranks checkpoints by \`monitor\`: give a monitor (e.g. "val_loss").`);
    }
  }
  return policy;
}

/**
 * The ids to delete: everything `policy` does not keep, minus the protected ids. With no policy,
 * nothing is deleted (Keras keeps every checkpoint).
 */
export function selectForDeletion(
  candidates: readonly RetentionCandidate[],
  policy: KeepPolicy | undefined,
  direction: Direction,
  protectedIds: ReadonlySet<string>,
): string[] {
  if (policy === undefined || candidates.length === 0) return [];
  const keep = new Set<string>(protectedIds);
  for (const id of policy.keep(candidates, { direction })) keep.add(id);
  return candidates.filter((c) => !keep.has(c.id)).map((c) => c.id);
}
