/** What a case process reports (one JSON line on stdout) and what the orchestrator keeps per case. */

/** One measured repetition: metric name → value (ms, MiB, MB/s, or 0/1 flags). */
export type Rep = Record<string, number>;

export interface CaseResult {
  case: string;
  size: string;
  params: number;
  /** Weight bytes (params × 4): the numerator of every MB/s. */
  bytes: number;
  reps: Rep[];
  /** The unreported first rep (the first save in a fresh process), for the notes. */
  warmup?: Rep;
  /** Facts about how the case ran (e.g. how durability was awaited), shown in notes. */
  info?: Record<string, string | number | boolean>;
}

export interface CaseOutcome {
  result?: CaseResult;
  /** Why the case produced no result (crash, timeout, missing dependency). */
  error?: string;
  skipped?: string;
  /** Whole-process peak RSS from /usr/bin/time, when available. */
  processMaxRssMiB?: number;
  wallMs: number;
}

export const MB = 1e6;

export function mbPerSec(bytes: number, ms: number): number {
  return bytes / MB / (ms / 1000);
}

/** What a case module gets: the model size, how many reps to report, and its own empty directory. */
export interface CaseContext {
  size: import('./sizes.js').SizeSpec;
  reps: number;
  dir: string;
}

/**
 * Saves run one extra, unreported rep first (as the peers drop their first save): it pays one-off costs
 * such as lazy initialisation and the first touch of page-cache pages.
 */
export const WARMUP_REPS = 1;
