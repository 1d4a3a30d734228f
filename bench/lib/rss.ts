/**
 * Resident memory from /proc/self/status. Writing 5 to clear_refs resets VmHWM (Linux >= 4.0), so the
 * peak read after an operation is the peak *during* it; subtracting the RSS from just before gives the
 * extra memory the operation needed.
 */
import { readFileSync, writeFileSync } from 'node:fs';

const MiB = 1024 * 1024;

function statusKiB(field: 'VmRSS' | 'VmHWM'): number {
  const m = readFileSync('/proc/self/status', 'utf8').match(new RegExp(`${field}:\\s+(\\d+)`));
  return m ? Number(m[1]) : NaN;
}

export function rssMiB(): number {
  return (statusKiB('VmRSS') * 1024) / MiB;
}

export function peakMiB(): number {
  return (statusKiB('VmHWM') * 1024) / MiB;
}

/** Resets the peak; false where the kernel does not allow it (the extra peak is then an upper bound). */
export function resetPeak(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

/** Collects garbage when node runs with --expose-gc, so freed snapshots do not inflate the next rep. */
export function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) gc();
}

/** Starts a measurement window; `extra()` is the peak rise since the start, in MiB. */
export function memoryWindow(): { extra: () => number } {
  collectGarbage();
  resetPeak();
  const before = rssMiB();
  return { extra: () => Math.max(0, peakMiB() - before) };
}
