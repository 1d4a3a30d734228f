/** Turns case outcomes into the markdown tables of RESULTS.md: saves, loads, first saves, targets. */
import { longestFit } from './fit_report.js';
import type { CaseOutcome } from './result.js';
import { bytesOf, paramsOf, type SizeSpec } from './sizes.js';
import { fmtNum, fmtSummary, summarize, type Summary } from './stats.js';

/** size key → case name → outcome. */
export type Outcomes = Map<string, Map<string, CaseOutcome>>;

const MiB = 2 ** 20;

export function values(o: CaseOutcome | undefined, name: string): number[] {
  return (o?.result?.reps ?? []).map((r) => r[name]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
}

export function metric(o: CaseOutcome | undefined, name: string): Summary | undefined {
  const xs = values(o, name);
  return xs.length ? summarize(xs) : undefined;
}

export function table(header: string[], rows: string[][]): string {
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
  /** Metric for the main thread's time per checkpoint (none where it is not measured). */
  main?: string;
  blocked: string;
  /** Metric for time to durable, or the text to show when the case never makes data durable. */
  durable: string | { text: string };
}

const SAVE_ROWS: SaveRow[] = [
  { case: 'ours-full', label: 'ours: callback, full model', main: 'main_ms', blocked: 'blocked_ms', durable: 'durable_ms' },
  { case: 'ours-weights', label: 'ours: callback, weights only', main: 'main_ms', blocked: 'blocked_ms', durable: 'durable_ms' },
  { case: 'ours-frozen', label: 'ours: callback, weights only, frozen base (3 of 4 layers; see the incremental table)', main: 'main_ms', blocked: 'blocked_ms', durable: 'durable_ms' },
  { case: 'snapshot', label: 'bare snapshot: `dataSync()` references', main: 'ref_ms', blocked: 'ref_ms', durable: { text: '—' } },
  { case: 'snapshot', label: 'bare snapshot: copy into a reused pool', main: 'pool_ms', blocked: 'pool_ms', durable: { text: '—' } },
  { case: 'naive', label: 'naive: `model.save(withSaveHandler)` + 2 × `writeFile`', blocked: 'blocked_ms', durable: { text: 'never (no fsync)' } },
  { case: 'raw', label: 'raw disk: 16 MiB writes + fsync + rename (ceiling)', blocked: 'blocked_ms', durable: 'durable_ms' },
  { case: 'keras', label: 'Keras 3 `ModelCheckpoint(save_weights_only=True)`, `.weights.h5`', main: 'main_ms', blocked: 'blocked_ms', durable: { text: 'never (no fsync)' } },
  { case: 'lightning', label: 'Lightning `ModelCheckpoint(save_weights_only=True)`', main: 'main_ms', blocked: 'blocked_ms', durable: { text: 'never (no fsync)' } },
];

function rssCells(o: CaseOutcome, size: SizeSpec): string[] {
  const extra = metric(o, 'extra_peak_mib');
  const ofWeights = extra ? ` (${(extra.max / (bytesOf(size) / MiB)).toFixed(2)}×)` : '';
  return [extra ? fmtSummary(extra) + ofWeights : '—', o.processMaxRssMiB ? fmtNum(o.processMaxRssMiB) : '—'];
}

/** Time to durable over the raw write made beside each save, in the same process (ours only). */
function pairedCell(o: CaseOutcome): string {
  const r = metric(o, 'durable_vs_raw');
  return r ? `${r.median.toFixed(2)}× (${r.min.toFixed(2)}–${r.max.toFixed(2)})` : '—';
}

export function savesTable(outcomes: Outcomes, sizes: SizeSpec[]): string {
  const rows: string[][] = [];
  for (const size of sizes) {
    for (const row of SAVE_ROWS) {
      const o = outcomes.get(size.key)?.get(row.case);
      if (!o) continue;
      const gone = missing(o);
      if (gone) {
        rows.push([size.label, row.label, gone, '', '', '', '', '', '']);
        continue;
      }
      const durable = typeof row.durable === 'string' ? metric(o, row.durable) : undefined;
      const mbps = typeof row.durable === 'string' ? metric(o, 'mbps') : undefined;
      rows.push([
        size.label,
        row.label,
        row.main ? fmtSummary(metric(o, row.main)) : '—',
        fmtSummary(metric(o, row.blocked)),
        typeof row.durable === 'string' ? fmtSummary(durable) : row.durable.text,
        pairedCell(o),
        mbps ? fmtSummary(mbps) : '—',
        ...rssCells(o, size),
      ]);
    }
  }
  return table(['model', 'case', 'main-thread ms per checkpoint', 'blocked ms', 'time to durable ms', '× raw disk beside it', 'MB/s to durable', 'extra peak RSS MiB (max × weights)', 'process max RSS MiB'], rows);
}

/** Incremental checkpoints with a frozen base: what a save writes against what changed. */
export function frozenTable(outcomes: Outcomes, sizes: SizeSpec[]): string {
  const rows: string[][] = [];
  for (const size of sizes) {
    const o = outcomes.get(size.key)?.get('ours-frozen');
    if (!o) continue;
    const gone = missing(o);
    if (gone) {
      rows.push([size.label, gone, '', '', '', '', '']);
      continue;
    }
    rows.push([
      size.label,
      fmtSummary(metric(o, 'written_mb')),
      fmtSummary(metric(o, 'changed_mb')),
      fmtSummary(metric(o, 'linked_mb')),
      fmtSummary(metric(o, 'durable_ms')),
      fmtSummary(metric(o, 'main_ms')),
      fmtSummary(metric(o, 'blocked_ms')),
    ]);
  }
  if (rows.length === 0) return '';
  return table(['model', 'MB written per checkpoint', 'MB changed (the head)', 'MB reused by hard link', 'time to durable ms', 'main-thread ms', 'blocked ms'], rows);
}

const S3_ROWS: [string, string][] = [
  ['s3-ceiling', 'plain `lib-storage` Upload of the same bytes, awaited (ceiling)'],
  ['s3-ours', 'ours: callback, weights only, `s3://`'],
  ['s3-tier', 'ours: callback, weights only, `s3://` with `localCache`'],
];

/** S3 against the local server: blocked, durable locally (tier), committed in the bucket, main-thread time, × the ceiling. */
export function s3Table(outcomes: Outcomes, sizes: SizeSpec[]): string {
  const rows: string[][] = [];
  for (const size of sizes) {
    const ceiling = metric(outcomes.get(size.key)?.get('s3-ceiling'), 'committed_ms');
    for (const [name, label] of S3_ROWS) {
      const o = outcomes.get(size.key)?.get(name);
      if (!o) continue;
      const gone = missing(o);
      if (gone) {
        rows.push([size.label, label, gone, '', '', '', '', '', '', '']);
        continue;
      }
      const committed = metric(o, 'committed_ms');
      rows.push([
        size.label,
        label,
        fmtSummary(metric(o, 'blocked_ms')),
        fmtSummary(metric(o, 'durable_ms')) || '—',
        fmtSummary(committed),
        fmtSummary(metric(o, 'mbps')),
        ceiling && committed ? `${(committed.median / ceiling.median).toFixed(2)}×` : '—',
        fmtSummary(metric(o, 'main_ms')),
        ...rssCells(o, size),
      ]);
    }
  }
  return table(
    ['model', 'case', 'blocked ms', 'durable on local disk ms', 'committed in bucket ms', 'MB/s to bucket', '× ceiling', 'main-thread ms', 'extra peak RSS MiB (max × weights)', 'process max RSS MiB'],
    rows,
  );
}

export const LOAD_ROWS: [string, string][] = [
  ['load-ceiling', 'ceiling: our shard files read into fresh `ArrayBuffer`s with `fs`'],
  ['load-ours', 'ours: `loadModel(dir)`'],
  ['load-stock', 'stock: `readFileSync` × 2 + `tf.loadLayersModel(tf.io.fromMemory(…))`'],
  ['load-url', "`tf.loadLayersModel('file://…/model.json')` (goes through our handler)"],
];

export function loadsTable(outcomes: Outcomes, sizes: SizeSpec[]): string {
  const rows: string[][] = [];
  for (const size of sizes) {
    const ceiling = metric(outcomes.get(size.key)?.get('load-ceiling'), 'load_ms');
    for (const [name, label] of LOAD_ROWS) {
      const o = outcomes.get(size.key)?.get(name);
      if (!o) continue;
      const gone = missing(o);
      if (gone) {
        rows.push([size.label, label, gone, '', '', '', '', '']);
        continue;
      }
      const verified = values(o, 'verified');
      const load = metric(o, 'load_ms');
      rows.push([
        size.label,
        label,
        fmtSummary(load),
        ceiling && load ? `${(load.median / ceiling.median).toFixed(2)}×` : '—',
        fmtSummary(metric(o, 'mbps')),
        ...rssCells(o, size),
        name === 'load-ceiling' ? '—' : `${verified.filter((v) => v === 1).length}/${verified.length}`,
      ]);
    }
  }
  return table(['model', 'loader', 'load ms', '× ceiling', 'MB/s', 'extra peak RSS MiB (max × weights)', 'process max RSS MiB', 'values verified'], rows);
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

/** The numbers that matter most, for the largest model of at least 100M parameters (else the largest run). */
export function headline(outcomes: Outcomes, sizes: SizeSpec[]): string[] {
  const size = [...sizes].reverse().find((s) => paramsOf(s) >= 100e6) ?? sizes[sizes.length - 1];
  if (!size) return [];
  const get = (c: string) => outcomes.get(size.key)?.get(c);
  const has = (...cases: string[]) => cases.some((c) => get(c)?.result);
  /** The median (or worst rep) with its unit, or "n/a" when the case has no result. */
  const num = (c: string, k: string, unit: string, pick: 'median' | 'max' = 'median') => {
    const s = metric(get(c), k);
    return s ? `${fmtNum(s[pick])} ${unit}` : 'n/a';
  };
  const lines = [`At ${size.label} (${fmtNum(bytesOf(size) / MiB)} MiB of weights), medians:`];
  /** The ratio of two cases' medians of `key`, e.g. how many times below a peer ours is. */
  const times = (a_: string, b_: string, key = 'main_ms') => {
    const a = metric(get(a_), key);
    const b = metric(get(b_), key);
    return a && b ? `${fmtNum(a.median / b.median)}×` : 'n/a';
  };
  if (has('ours-full', 'ours-weights', 's3-ours')) {
    lines.push(
      `**main-thread time per checkpoint** (blocked plus the background persist's time on the main thread, until durable): ours **${num('ours-full', 'main_ms', 'ms')}** full model, ` +
        `**${num('ours-weights', 'main_ms', 'ms')}** weights only, ${num('s3-ours', 'main_ms', 'ms')} to S3 (weights only, until committed in the bucket); ` +
        `Keras 3 ${num('keras', 'main_ms', 'ms')} and Lightning ${num('lightning', 'main_ms', 'ms')} (their save time), ` +
        `so ours (weights only) is ${times('keras', 'ours-weights')} / ${times('lightning', 'ours-weights')} below Keras 3 / Lightning on disk and ${times('keras', 's3-ours')} / ${times('lightning', 's3-ours')} on S3.`,
    );
  }
  const fitSize = [size, ...[...sizes].reverse()].find((s) => outcomes.get(s.key)?.get('fit')?.result);
  if (fitSize) {
    const at = (c: string, v: 'weights' | 'full') => {
      const p = longestFit(outcomes.get(fitSize.key)?.get(c), v);
      return p ? `${p.overheadPct.median >= 0 ? '+' : ''}${fmtNum(p.overheadPct.median)}% (epoch ${p.multiple ? fmtNum(p.multiple.median) : '?'}×)` : 'n/a';
    };
    lines.push(
      `**\`fit\` overhead** with a checkpoint every epoch, at ${fitSize.label}, epoch ≥ 10× the time per checkpoint: ours **${at('fit', 'weights')}** weights only, **${at('fit', 'full')}** full model; ` +
        `Keras 3 ${at('keras-fit', 'weights')}, Lightning ${at('lightning-fit', 'weights')} (see the fit table for shorter epochs).`,
    );
  }
  if (has('ours-full', 'ours-weights')) {
    lines.push(
      `ours, full model: training blocked ${num('ours-full', 'blocked_ms', 'ms')} per checkpoint, durable after ${num('ours-full', 'durable_ms', 'ms')} (${num('ours-full', 'mbps', 'MB/s')}, ${num('ours-full', 'durable_vs_raw', '× the raw write beside it')}); ` +
        `weights only: ${num('ours-weights', 'blocked_ms', 'ms')} blocked, durable after ${num('ours-weights', 'durable_ms', 'ms')} (${num('ours-weights', 'durable_vs_raw', '× the raw write beside it')}).`,
      `extra peak RSS during our saves (worst rep): ${num('ours-full', 'extra_peak_mib', 'MiB', 'max')} (full), ${num('ours-weights', 'extra_peak_mib', 'MiB', 'max')} (weights only).`,
    );
  }
  if (has('raw', 'snapshot')) {
    lines.push(`raw disk ceiling: ${num('raw', 'durable_ms', 'ms')} (${num('raw', 'mbps', 'MB/s')}); bare snapshot: ${num('snapshot', 'ref_ms', 'ms')} by reference, ${num('snapshot', 'pool_ms', 'ms')} copied into a reused pool.`);
  }
  if (has('naive', 'keras', 'lightning')) {
    lines.push(
      `training blocked per checkpoint by the others (none fsyncs): naive TF.js ${num('naive', 'blocked_ms', 'ms')} (extra peak ${num('naive', 'extra_peak_mib', 'MiB', 'max')}), ` +
        `Keras 3 ${num('keras', 'blocked_ms', 'ms')}, Lightning ${num('lightning', 'blocked_ms', 'ms')}.`,
    );
  }
  if (has('load-ours', 'load-stock')) {
    lines.push(
      `load: ours ${num('load-ours', 'load_ms', 'ms')} (extra peak ${num('load-ours', 'extra_peak_mib', 'MiB', 'max')}) vs stock ${num('load-stock', 'load_ms', 'ms')} (${num('load-stock', 'extra_peak_mib', 'MiB', 'max')}); ` +
        `ceiling (the shard bytes read into fresh memory) ${num('load-ceiling', 'load_ms', 'ms')}, so ours is ${times('load-ours', 'load-ceiling', 'load_ms')} the ceiling.`,
    );
  }
  return lines.length > 1 ? lines : [];
}
