/**
 * Which direction a monitored metric should move, and whether a new value beats the best.
 * Pure decision code: no I/O, no TF.js.
 */

export type Mode = 'auto' | 'min' | 'max';
export type Direction = 'min' | 'max';

/**
 * Names that Keras's 'auto' rule gets wrong: TF.js metrics that are maximised but contain no
 * `acc`. Keras (up to 3.10) minimises `val_auc`, `precision`, `recall`; we do not.
 */
const MAXIMISED_METRIC = /(^|_)(precision|recall|auc|f1|f1score|fbeta|fbetascore|iou|meaniou|r2|r2score)($|_)/;

/** Resolves 'auto' the way Keras does (name contains `acc` or starts with `fmeasure`), plus TF.js's maximised metrics. */
export function resolveDirection(mode: Mode, monitor: string): Direction {
  if (mode === 'min' || mode === 'max') return mode;
  if (monitor.includes('acc') || monitor.startsWith('fmeasure')) return 'max';
  // camelCase TF.js names (`val_binaryAccuracy`, `meanIoU`) are compared in snake-ish lower case.
  const normalised = monitor.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
  if (normalised.includes('acc')) return 'max';
  return MAXIMISED_METRIC.test(normalised.replace(/_score$/, '')) || MAXIMISED_METRIC.test(normalised) ? 'max' : 'min';
}

/** The starting best: the threshold if given, else the worst possible value for the direction. */
export function initialBest(direction: Direction, threshold?: number): number {
  if (threshold !== undefined) return threshold;
  return direction === 'min' ? Infinity : -Infinity;
}

/** Strict improvement, as Keras's numpy less/greater: a tie is not an improvement and NaN never improves. */
export function isImprovement(direction: Direction, current: number, best: number): boolean {
  return direction === 'min' ? current < best : current > best;
}

/** Keras prints scores with `%0.5f`; infinities as `inf`/`-inf`, NaN as `nan`. */
export function formatScore(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (value === Infinity) return 'inf';
  if (value === -Infinity) return '-inf';
  return value.toFixed(5);
}
