/** The `fit` overhead table (bench/cases/fit.ts and the peers' fit scripts) and the lookups targets use. */
import { metric, table, type Outcomes } from './report.js';
import type { CaseOutcome } from './result.js';
import type { SizeSpec } from './sizes.js';
import { fmtNum, fmtSummary, type Summary } from './stats.js';

export const FIT_INTRO =
  'Real `model.fit` (batch size 1, SGD), 6 epochs with a checkpoint every epoch (all kept until the fit ends, then deleted untimed) and without, the same data, ' +
  'alternated round by round with the order rotated, after one untimed epoch; epoch lengths are the fewest batches that make an epoch last at least ' +
  '1.2 × (1×, 3× and 10×) the library\'s own time per checkpoint (ours: time to durable of a full-model save; Keras and Lightning: their save call), ' +
  'measured first in the same process; lengths that need the same batch count are merged under the larger multiple, and the measured ' +
  'multiple (median epoch without checkpoints / that time) is shown. **overhead**: the whole `fit`\'s wall time with checkpoints over ' +
  'without, per round (3 rounds below 100M, 2 at 100M, with the default reps), median (min–max); ours includes `onTrainEnd` waiting until the last checkpoint is durable (1/6 of a durable ' +
  'time per epoch). In parentheses: steady state, median epoch 2..6 against the same without checkpoints. For ours, where the time went ' +
  '(medians over rounds): **held**, the median time a save held `onEpochEnd`; **turns**, the time per epoch `onBatchEnd` spent giving the ' +
  'event loop turns while a save worked in the background (`fit` on a synchronous backend gives none of its own); **last wait**, `onTrainEnd` ' +
  'waiting until the last checkpoint is durable. The rest of the overhead is training running slower beside the background persist.';

export const FIT_CASES: [string, string, 'weights' | 'full'][] = [
  ['fit', 'ours, weights only', 'weights'],
  ['fit', 'ours, full model', 'full'],
  ['keras-fit', 'Keras 3 (weights only)', 'weights'],
  ['lightning-fit', 'Lightning (weights only)', 'weights'],
];

/** The epoch lengths a fit case ran, by the multiple aimed at. */
export function fitPlans(o: CaseOutcome | undefined): number[] {
  const plans = o?.result?.info?.['plans'];
  return typeof plans === 'string' && plans ? plans.split(',').map(Number) : [];
}

export interface FitPoint {
  overheadPct: Summary;
  epochPct?: Summary;
  multiple?: Summary;
  epochMs?: Summary;
  batches?: number;
  /** Ours only: where the time went (see FIT_INTRO). */
  heldMs?: Summary;
  turnsMs?: Summary;
  endMs?: Summary;
}

export function fitPoint(o: CaseOutcome | undefined, m: number, variant: 'weights' | 'full'): FitPoint | undefined {
  const overheadPct = metric(o, `x${m}_${variant}_pct`);
  if (!overheadPct) return undefined;
  const batches = o?.result?.info?.[`x${m}_batches`];
  return {
    overheadPct,
    epochPct: metric(o, `x${m}_${variant}_epoch_pct`),
    multiple: metric(o, `x${m}_multiple`),
    epochMs: metric(o, `x${m}_epoch_ms`),
    batches: typeof batches === 'number' ? batches : undefined,
    heldMs: metric(o, `x${m}_${variant}_held_ms`),
    turnsMs: metric(o, `x${m}_${variant}_turns_ms`),
    endMs: metric(o, `x${m}_${variant}_end_ms`),
  };
}

/** The longest epoch a case ran (the one aimed at ≥ 10× its time per checkpoint). */
export function longestFit(o: CaseOutcome | undefined, variant: 'weights' | 'full'): FitPoint | undefined {
  const m = Math.max(...fitPlans(o));
  return Number.isFinite(m) ? fitPoint(o, m, variant) : undefined;
}

const signed = (x: number) => `${x >= 0 ? '+' : ''}${fmtNum(x)}`;

function pctSummary(s: Summary): string {
  if (s.n === 1 || fmtNum(s.min) === fmtNum(s.max)) return `${signed(s.median)}%`;
  return `${signed(s.median)}% (${signed(s.min)}…${signed(s.max)})`;
}

function cell(o: CaseOutcome | undefined, m: number, variant: 'weights' | 'full'): string {
  if (!o) return 'not run';
  if (o.skipped) return 'not run (see notes)';
  if (o.error || !o.result) return 'failed (see notes)';
  const p = fitPoint(o, m, variant);
  if (!p) return '—';
  const epoch = p.epochPct ? ` (epoch ${signed(p.epochPct.median)}%)` : '';
  const where = `${p.multiple ? fmtNum(p.multiple.median) : '?'}×, ${p.batches ?? '?'} batch${p.batches === 1 ? '' : 'es'}, ${p.epochMs ? fmtNum(p.epochMs.median) : '?'} ms`;
  const costs =
    p.heldMs && p.turnsMs && p.endMs
      ? `; held ${fmtNum(p.heldMs.median)} ms, turns ${fmtNum(p.turnsMs.median)} ms an epoch, last wait ${fmtNum(p.endMs.median)} ms`
      : '';
  return `${pctSummary(p.overheadPct)}${epoch}; epoch ${where}${costs}`;
}

export function fitTable(outcomes: Outcomes, sizes: SizeSpec[]): string {
  const rows: string[][] = [];
  for (const size of sizes) {
    const got = outcomes.get(size.key);
    if (!got || !FIT_CASES.some(([c]) => got.has(c))) continue;
    const plans = [...new Set(FIT_CASES.flatMap(([c]) => fitPlans(got.get(c))))].sort((a, b) => a - b);
    if (plans.length === 0) {
      rows.push([size.label, '—', ...FIT_CASES.map(([c, , v]) => cell(got.get(c), 0, v))]);
      continue;
    }
    for (const m of plans) rows.push([size.label, `≥ ${m}×`, ...FIT_CASES.map(([c, , v]) => cell(got.get(c), m, v))]);
  }
  if (rows.length === 0) return '';
  return table(['model', 'epoch aimed at (× time per checkpoint)', ...FIT_CASES.map(([, label]) => `${label}: overhead; epoch measured`)], rows);
}
