/**
 * The performance targets, checked on the medians of one run. Each applies from a model size up;
 * below it the ratio is still shown, marked "(info)".
 */
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

const TARGETS: Target[] = [
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
      name: `time to durable ≤ 1.25× raw disk (${c === 'ours-full' ? 'full' : 'weights only'})`,
      applies: at100MB,
      check: (get) => ratio(med(get(c), 'durable_ms'), med(get('raw'), 'durable_ms'), [c, 'raw disk'], (r) => r <= 1.25),
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
    name: 'load extra peak RSS ≤ 1.2× weights (`loadModel`, worst rep)',
    applies: at100MB,
    check: (get, size) => {
      const extra = metric(get('load-ours'), 'extra_peak_mib');
      if (!extra) return 'n/a';
      const r = extra.max / (bytesOf(size) / MiB);
      return { text: `${r.toFixed(2)}× (${fmtNum(extra.max)} MiB)`, met: r <= 1.2 };
    },
  },
  {
    name: 'every load returned the saved values',
    applies: () => true,
    check: (get) => {
      const flags = LOAD_ROWS.flatMap(([c]) => values(get(c), 'verified'));
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
