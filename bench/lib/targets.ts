/**
 * The performance targets, checked on the medians of one run. Each applies from a model size up;
 * below it the ratio is still shown, marked "(info)".
 */
import { longestFit } from './fit_report.js';
import type { CaseOutcome } from './result.js';
import { LOAD_ROWS, metric, table, values, type Outcomes } from './report.js';
import { bytesOf, paramsOf, type SizeSpec } from './sizes.js';
import { fmtNum } from './stats.js';

const MiB = 2 ** 20;

interface Check {
  /** e.g. "0.8× (12 ms vs 15 ms)" */
  text: string;
  met: boolean;
}

interface Target {
  name: string;
  /** Where the target applies; elsewhere the ratio is shown for information. */
  applies: (size: SizeSpec) => boolean;
  check: (get: (c: string) => CaseOutcome | undefined, size: SizeSpec) => Check | string;
}

const at100M = (s: SizeSpec) => paramsOf(s) >= 100e6;
const at100MB = (s: SizeSpec) => bytesOf(s) >= 100e6;

function med(o: CaseOutcome | undefined, name: string): number | undefined {
  return metric(o, name)?.median;
}

/** a / b compared with a limit; `string` when an input is missing. */
function ratio(a: number | undefined, b: number | undefined, names: [string, string], ok: (r: number) => boolean, unit = 'ms'): Check | string {
  if (a === undefined || b === undefined) return `n/a (no result for ${a === undefined ? names[0] : names[1]})`;
  const r = a / b;
  return { text: `${r >= 100 ? r.toFixed(0) : r.toFixed(2)}× (${fmtNum(a)} vs ${fmtNum(b)} ${unit})`, met: ok(r) };
}

function fasterThan(peer: string, peerLabel: string, ours: string): Target {
  return {
    name: `blocked ≥ 20× less than ${peerLabel} (${ours === 'ours-full' ? 'full' : 'weights only'})`,
    applies: at100M,
    check: (get) => ratio(med(get(peer), 'blocked_ms'), med(get(ours), 'blocked_ms'), [peerLabel, ours], (r) => r >= 20),
  };
}

function rssNearZero(c: string, label: string): Target {
  return {
    name: `extra peak RSS during a save ≈ 0: ≤ 5% of weights (${label}, worst rep)`,
    applies: at100MB,
    check: (get, size) => {
      const extra = metric(get(c), 'extra_peak_mib');
      if (!extra) return 'n/a';
      const weights = bytesOf(size) / MiB;
      return { text: `${fmtNum(extra.max)} MiB = ${(extra.max / weights).toFixed(3)}× weights`, met: extra.max <= 0.05 * weights };
    },
  };
}

function mainThreadAtMost(c: string, label: string, limitMs: number): Target {
  return {
    name: `main-thread time per checkpoint ≤ ${limitMs} ms (${label})`,
    applies: at100M,
    check: (get) => {
      const ms = med(get(c), 'main_ms');
      return ms === undefined ? `n/a (no result for ${c})` : { text: `${fmtNum(ms)} ms`, met: ms <= limitMs };
    },
  };
}

function mainThreadBelow(peer: string, peerLabel: string, ours: string, where: string): Target {
  return {
    name: `main-thread time ≥ 30× below ${peerLabel} (weights only, ${where})`,
    applies: at100M,
    check: (get) => ratio(med(get(peer), 'main_ms'), med(get(ours), 'main_ms'), [peerLabel, ours], (r) => r >= 30),
  };
}

/**
 * Our time to durable against the raw write made beside each save in the same process (see
 * ours_callback.ts). The verdict compares the best of each: this VM's disk adds delays of several
 * hundred ms to random writes, ours and raw alike (bench/RESULTS.md's method), which say nothing about
 * what the save itself adds; both sides get the same treatment. The median of the per-save ratios and
 * the ratio to the separate raw case are shown beside it.
 */
function pairedToRaw(ours: CaseOutcome | undefined, rawCase: CaseOutcome | undefined): Check | string {
  const paired = metric(ours, 'durable_vs_raw');
  const durable = metric(ours, 'durable_ms');
  const raw = metric(ours, 'paired_raw_ms');
  if (!paired || !durable || !raw) return 'n/a (no paired raw write)';
  const best = durable.min / raw.min;
  const separate = med(rawCase, 'durable_ms');
  const apart = separate === undefined ? '' : `; medians against the separate raw case ${(durable.median / separate).toFixed(2)}×`;
  return {
    text: `best ${best.toFixed(2)}× (${fmtNum(durable.min)} vs ${fmtNum(raw.min)} ms); per-save ratios ${paired.median.toFixed(2)}× (${paired.min.toFixed(2)}–${paired.max.toFixed(2)})${apart}`,
    met: best <= 1.25,
  };
}

function fitOverhead(variant: 'weights' | 'full'): Target {
  return {
    name: `\`fit\` overhead ≤ 2% at an epoch ≥ 10× time to durable (${variant === 'full' ? 'full' : 'weights only'}, whole fit)`,
    applies: at100MB,
    check: (get) => {
      const p = longestFit(get('fit'), variant);
      if (!p) return 'n/a (no fit result)';
      const multiple = p.multiple?.median ?? NaN;
      const text = `${fmtNum(p.overheadPct.median)}% at an epoch of ${fmtNum(multiple)}× durable`;
      if (!(multiple >= 10)) return `${text}: the epoch was shorter than 10× (no verdict)`;
      return { text, met: p.overheadPct.median <= 2 };
    },
  };
}

const TARGETS: Target[] = [
  mainThreadAtMost('ours-full', 'full, disk', 5),
  mainThreadAtMost('ours-weights', 'weights only, disk', 5),
  mainThreadAtMost('s3-ours', 'weights only, S3 until committed', 5),
  mainThreadBelow('keras', 'Keras 3', 'ours-weights', 'disk'),
  mainThreadBelow('lightning', 'Lightning', 'ours-weights', 'disk'),
  mainThreadBelow('keras', 'Keras 3', 's3-ours', 'S3'),
  mainThreadBelow('lightning', 'Lightning', 's3-ours', 'S3'),
  fitOverhead('weights'),
  fitOverhead('full'),
  ...(['ours-full', 'ours-weights'] as const).map(
    (c): Target => ({
      name: `blocked ≤ 1.5× bare snapshot, pool copy (${c === 'ours-full' ? 'full' : 'weights only'})`,
      applies: at100M,
      check: (get) => ratio(med(get(c), 'blocked_ms'), med(get('snapshot'), 'pool_ms'), [c, 'snapshot'], (r) => r <= 1.5),
    }),
  ),
  fasterThan('naive', 'naive TF.js save', 'ours-full'),
  fasterThan('keras', 'Keras 3', 'ours-weights'),
  fasterThan('lightning', 'Lightning', 'ours-weights'),
  ...(['ours-full', 'ours-weights'] as const).map(
    (c): Target => ({
      name: `time to durable ≤ 1.25× raw disk (${c === 'ours-full' ? 'full' : 'weights only'}; best save against the best raw write beside it)`,
      applies: at100MB,
      check: (get) => pairedToRaw(get(c), get('raw')),
    }),
  ),
  rssNearZero('ours-full', 'full'),
  rssNearZero('ours-weights', 'weights only'),
  {
    name: 'load ≥ 2× faster than stock (`loadModel` vs `fromMemory`)',
    applies: at100MB,
    check: (get) => ratio(med(get('load-stock'), 'load_ms'), med(get('load-ours'), 'load_ms'), ['stock load', 'our load'], (r) => r >= 2),
  },
  {
    name: 'load ≤ 1.2× the ceiling (`loadModel` vs the shard bytes read into fresh memory)',
    applies: at100M,
    check: (get) => ratio(med(get('load-ours'), 'load_ms'), med(get('load-ceiling'), 'load_ms'), ['our load', 'load ceiling'], (r) => r <= 1.2),
  },
  {
    // Issue 13 lowered this from 1.2×: the ceiling itself needs 1.0× (the fresh memory the weights end up in).
    name: 'load extra peak RSS ≤ 1.0× weights (`loadModel`, worst rep)',
    applies: at100MB,
    check: (get, size) => {
      const extra = metric(get('load-ours'), 'extra_peak_mib');
      if (!extra) return 'n/a';
      const r = extra.max / (bytesOf(size) / MiB);
      return { text: `${r.toFixed(2)}× (${fmtNum(extra.max)} MiB)`, met: r <= 1.0 };
    },
  },
  {
    name: 'every load returned the saved values',
    applies: () => true,
    check: (get) => {
      const flags = LOAD_ROWS.filter(([c]) => c !== 'load-ceiling').flatMap(([c]) => values(get(c), 'verified'));
      if (flags.length === 0) return 'n/a';
      const ok = flags.filter((v) => v === 1).length;
      return { text: `${ok}/${flags.length}`, met: ok === flags.length };
    },
  },
];

export interface TargetSummary {
  markdown: string;
  met: number;
  applicable: number;
}

export function targetsTable(outcomes: Outcomes, sizes: SizeSpec[]): TargetSummary {
  let met = 0;
  let applicable = 0;
  const rows = TARGETS.map((t) => [
    t.name,
    ...sizes.map((size) => {
      const got = t.check((c) => outcomes.get(size.key)?.get(c), size);
      if (typeof got === 'string') return got;
      if (!t.applies(size)) return `${got.text} (info)`;
      applicable += 1;
      if (got.met) met += 1;
      return `**${got.met ? 'met' : 'not met'}**: ${got.text}`;
    }),
  ]);
  return { markdown: table(['target', ...sizes.map((s) => s.label)], rows), met, applicable };
}
