/**
 * bench/RESULTS.md: `npm run bench` regenerates its own sections (up to and including "## Notes"); the
 * sections after them are other benches' results copied in by hand, and are kept as they are.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const LAST_GENERATED = '\n## Notes\n';

/** The hand-kept sections of the current file: from the first "## " heading after Notes to the end. */
export function handKeptSections(path: string): string {
  if (!existsSync(path)) return '';
  const text = readFileSync(path, 'utf8');
  const notes = text.indexOf(LAST_GENERATED);
  if (notes < 0) return '';
  const next = text.indexOf('\n## ', notes + LAST_GENERATED.length);
  return next < 0 ? '' : text.slice(next + 1);
}

export function writeResults(path: string, generated: string): void {
  const kept = handKeptSections(path);
  writeFileSync(path, kept ? `${generated.trimEnd()}\n\n${kept}` : generated);
}
