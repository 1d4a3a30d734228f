/**
 * Finds the committed checkpoints a path template could have produced, on any store: literal text
 * matches literally, each field only what it could have been formatted from (`{epoch}` an integer, a
 * metric a float, within what its format spec can produce; fields may sit in directory names too),
 * and a version suffix (`-v1`, `-v2`, …, added instead of overwriting) is allowed at the end.
 * Only committed checkpoints are ever returned (the store lists nothing else). Templates reach this
 * module already normalized (absolute keys, see stores/registry.ts).
 */
import { isSingleFileName, stripVersionSuffix } from '../formats/file_names.js';
import type { CheckpointStore } from '../stores/store.js';
import { isTemporaryName, relativeKey } from '../stores/keys.js';
import { formatFilepath } from '../template/format.js';
import { checkpointValueTypes, compileTemplatePattern, splitTemplateSegments, templateHasFields } from '../template/match.js';

export { stripVersionSuffix } from '../formats/file_names.js';

/** Whether `name` is one the template's last segment could have produced (with a version suffix or not). */
export function nameMatcher(nameTemplate: string): (name: string) => boolean {
  if (!templateHasFields(nameTemplate)) {
    const literal = formatFilepath(nameTemplate, {}); // undoes {{ }} escapes
    return (name) => name === literal || stripVersionSuffix(name) === literal;
  }
  const pattern = compileTemplatePattern(nameTemplate, checkpointValueTypes);
  return (name) => pattern.test(name) || (stripVersionSuffix(name) !== name && pattern.test(stripVersionSuffix(name)));
}

export interface TemplateMatch {
  key: string;
  modifiedNs: bigint;
}

/** The template's literal leading directories (a key), and a test for each segment below it. */
export function templateScope(template: string): { prefix: string; accept: (level: number, name: string) => boolean; depth: number } {
  const segments = splitTemplateSegments(template).filter((s) => s !== '');
  let fixed = 0;
  while (fixed < segments.length - 1 && !templateHasFields(segments[fixed]!)) fixed++;
  const prefix = `/${segments.slice(0, fixed).map((s) => formatFilepath(s, {})).join('/')}`;
  const below = segments.slice(fixed);
  // Directories only narrow the search (names and checkpoint.json decide ownership): any value type.
  const tests = below.map((segment, i) => {
    if (i === below.length - 1) return nameMatcher(segment);
    if (!templateHasFields(segment)) {
      const literal = formatFilepath(segment, {});
      return (name: string) => name === literal;
    }
    const pattern = compileTemplatePattern(segment);
    return (name: string) => !isTemporaryName(name) && pattern.test(name);
  });
  return { prefix, depth: below.length, accept: (level, name) => tests[level]?.(name) ?? false };
}

/** The committed checkpoints matching `template` (an absolute, normalized key template), with their modification times. */
export async function findTemplateMatches(store: CheckpointStore, template: string): Promise<TemplateMatch[]> {
  const { prefix, depth, accept } = templateScope(template);
  const listed = await store.list(prefix, { depth, accept, files: isSingleFileName });
  return listed
    .filter(({ key }) => relativeKey(prefix, key).split('/').every((name, level) => accept(level, name)))
    .map(({ key, modifiedNs }) => ({ key, modifiedNs }));
}
