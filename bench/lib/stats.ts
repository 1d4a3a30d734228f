/** Timing and summary statistics: medians with their range. */

export interface Summary {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return NaN;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

export function summarize(xs: readonly number[]): Summary {
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs), n: xs.length };
}

/** Rounds for display: more digits for small numbers, so 0.2 ms does not print as 0. */
export function fmtNum(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  const digits = a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3;
  return x.toFixed(digits);
}

/** "median (min–max)", or just the value when all reps agree or there is one rep. */
export function fmtSummary(s: Summary | undefined): string {
  if (!s || s.n === 0) return '—';
  if (s.n === 1 || fmtNum(s.min) === fmtNum(s.max)) return fmtNum(s.median);
  return `${fmtNum(s.median)} (${fmtNum(s.min)}–${fmtNum(s.max)})`;
}
