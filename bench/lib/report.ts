/** Turns case outcomes into the markdown tables of RESULTS.md: saves, loads, first saves, targets. */
import type { CaseOutcome } from './result.js';
import { bytesOf, paramsOf, type SizeSpec } from './sizes.js';
import { fmtNum, fmtSummary, summarize, type Summary } from './stats.js';

/** size key → case name → outcome. */
export type Outcomes = Map<string, Map<string, CaseOutcome>>;

const MiB = 2 ** 20;

function values(o: CaseOutcome | undefined, name: string): number[] {
  return (o?.result?.reps ?? []).map((r) => r[name]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
}

function metric(o: CaseOutcome | undefined, name: string): Summary | undefined {
  const xs = values(o, name);
  return xs.length ? summarize(xs) : undefined;
}

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** A cell for a case that did not produce numbers. */
function missing(o: CaseOutcome): string | undefined {
  if (o.skipped) return 'skipped (see notes)';
  if (o.error || !o.result) return 'failed (see notes)';
  return undefined;
}

interface SaveRow {
  case: string;
  label: string;
  blocked: string;
  /** Metric for time to durable, or the text to show when the case never makes data durable. */
  durable: string | { text: string };
}

const SAVE_ROWS: SaveRow[] = [
  { case: 'ours-full', label: 'ours: callback, full model', blocked: 'blocked_ms', durable: 'durable_ms' },
  { case: 'ours-weights', label: 'ours: callback, weights only', blocked: 'blocked_ms', durable: 'durable_ms' },
  { case: 'snapshot', label: 'bare snapshot: `dataSync()` references', blocked: 'ref_ms', durable: { text: '—' } },
  { case: 'snapshot', label: 'bare snapshot: copy into a reused pool', blocked: 'pool_ms', durable: { text: '—' } },
  { case: 'naive', label: 'naive: `model.save(withSaveHandler)` + 2 × `writeFile`', blocked: 'blocked_ms', durable: { text: 'never (no fsync)' } },
  { case: 'raw', label: 'raw disk: 16 MiB writes + fsync + rename (ceiling)', blocked: 'blocked_ms', durable: 'durable_ms' },
  { case: 'keras', label: 'Keras 3 `ModelCheckpoint(save_weights_only=True)`, `.weights.h5`', blocked: 'blocked_ms', durable: { text: 'never (no fsync)' } },
  { case: 'lightning', label: 'Lightning `ModelCheckpoint(save_weights_only=True)`', blocked: 'blocked_ms', durable: { text: 'never (no fsync)' } },
];

function rssCells(o: CaseOutcome, size: SizeSpec): string[] {
  const extra = metric(o, 'extra_peak_mib');
  const ofWeights = extra ? ` (${(extra.max / (bytesOf(size) / MiB)).toFixed(2)}×)` : '';
  return [extra ? fmtSummary(extra) + ofWeights : '—', o.processMaxRssMiB ? fmtNum(o.processMaxRssMiB) : '—'];
}

export function savesTable(outcomes: Outcomes, sizes: SizeSpec[]): string {
  const rows: string[][] = [];
  for (const size of sizes) {
    for (const row of SAVE_ROWS) {
      const o = outcomes.get(size.key)?.get(row.case);
      if (!o) continue;
      const gone = missing(o);
      if (gone) {
        rows.push([size.label, row.label, gone, '', '', '', '']);
        continue;
      }
      const durable = typeof row.durable === 'string' ? metric(o, row.durable) : undefined;
      const mbps = typeof row.durable === 'string' ? metric(o, 'mbps') : undefined;
      rows.push([
        size.label,
        row.label,
        fmtSummary(metric(o, row.blocked)),
        typeof row.durable === 'string' ? fmtSummary(durable) : row.durable.text,
        mbps ? fmtSummary(mbps) : '—',
        ...rssCells(o, size),
      ]);
    }
  }
  return table(['model', 'case', 'blocked ms', 'time to durable ms', 'MB/s to durable', 'extra peak RSS MiB (max × weights)', 'process max RSS MiB'], rows);
}

export const LOAD_ROWS: [string, string][] = [
  ['load-ours', 'ours: `loadModel(dir)`'],
  ['load-stock', 'stock: `readFileSync` × 2 + `tf.loadLayersModel(tf.io.fromMemory(…))`'],
  ['load-url', "`tf.loadLayersModel('file://…/model.json')` (goes through our handler)"],
];

export function loadsTable(outcomes: Outcomes, sizes: SizeSpec[]): string {
  const rows: string[][] = [];
  for (const size of sizes) {
    for (const [name, label] of LOAD_ROWS) {
      const o = outcomes.get(size.key)?.get(name);
      if (!o) continue;
      const gone = missing(o);
      if (gone) {
        rows.push([size.label, label, gone, '', '', '', '']);
        continue;
      }
      const verified = values(o, 'verified');
      rows.push([
        size.label,
        label,
        fmtSummary(metric(o, 'load_ms')),
        fmtSummary(metric(o, 'mbps')),
        ...rssCells(o, size),
        `${verified.filter((v) => v === 1).length}/${verified.length}`,
      ]);
    }
  }
  return table(['model', 'loader', 'load ms', 'MB/s', 'extra peak RSS MiB (max × weights)', 'process max RSS MiB', 'values verified'], rows);
}

const FIRST_SAVE_CASES: [string, string][] = [
  ['ours-full', 'ours full'],
  ['ours-weights', 'ours weights'],
  ['naive', 'naive'],
  ['raw', 'raw disk'],
  ['keras', 'Keras 3'],
  ['lightning', 'Lightning'],
];

/** The unreported first save of each process: what epoch 1 costs. */
export function firstSavesTable(outcomes: Outcomes, sizes: SizeSpec[]): string {
  const present = FIRST_SAVE_CASES.filter(([c]) => sizes.some((s) => outcomes.get(s.key)?.get(c)?.result?.warmup));
  if (present.length === 0) return '';
  const rows = sizes.map((size) => [
    size.label,
    ...present.map(([c]) => {
      const w = outcomes.get(size.key)?.get(c)?.result?.warmup;
      if (!w) return '—';
      const durable = w['durable_ms'] !== undefined && w['durable_ms'] !== w['blocked_ms'] ? ` / ${fmtNum(w['durable_ms'])}` : '';
      return `${fmtNum(w['blocked_ms'] ?? NaN)}${durable}`;
    }),
  ]);
  return table(['model', ...present.map(([, l]) => `${l} blocked ms`)], rows);
}

// ---- targets ----

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
function ratio(a: number | undefined, b: number | undefined, what: string, ok: (r: number) => boolean, unit = 'ms'): Check | string {
  if (a === undefined || b === undefined) return `n/a (${what} missing)`;
  const r = a / b;
  return { text: `${r >= 100 ? r.toFixed(0) : r.toFixed(2)}× (${fmtNum(a)} vs ${fmtNum(b)} ${unit})`, met: ok(r) };
}

function fasterThan(peer: string, peerLabel: string, ours: string): Target {
  return {
    name: `blocked ≥ 20× less than ${peerLabel} (${ours === 'ours-full' ? 'full' : 'weights only'})`,
    applies: at100M,
    check: (get) => ratio(med(get(peer), 'blocked_ms'), med(get(ours), 'blocked_ms'), peerLabel, (r) => r >= 20),
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
      check: (get) => ratio(med(get(c), 'blocked_ms'), med(get('snapshot'), 'pool_ms'), 'snapshot', (r) => r <= 1.5),
    }),
  ),
  fasterThan('naive', 'naive TF.js save', 'ours-full'),
  fasterThan('keras', 'Keras 3', 'ours-weights'),
  fasterThan('lightning', 'Lightning', 'ours-weights'),
  ...(['ours-full', 'ours-weights'] as const).map(
    (c): Target => ({
      name: `time to durable ≤ 1.25× raw disk (${c === 'ours-full' ? 'full' : 'weights only'})`,
      applies: at100MB,
      check: (get) => ratio(med(get(c), 'durable_ms'), med(get('raw'), 'durable_ms'), 'raw disk', (r) => r <= 1.25),
    }),
  ),
  rssNearZero('ours-full', 'full'),
  rssNearZero('ours-weights', 'weights only'),
  {
    name: 'load ≥ 2× faster than stock (`loadModel` vs `fromMemory`)',
    applies: at100MB,
    check: (get) => ratio(med(get('load-stock'), 'load_ms'), med(get('load-ours'), 'load_ms'), 'load', (r) => r >= 2),
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
