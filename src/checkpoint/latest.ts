/**
 * `latestCheckpoint(template)`: the newest committed checkpoint whose path the template could have
 * produced. Keras's most-recently-modified-file helper, done right: literal text matches literally,
 * fields match only what their format spec can produce, fields may appear in directory names too,
 * temporaries are never returned, and ties on modification time go to the largest path.
 */
import { readdir, stat } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { compileTemplatePattern, splitTemplateSegments, templateHasFields } from '../template/match.js';
import { formatFilepath } from '../template/format.js';
import { CHECKPOINT_MARKERS, pathKind } from '../storage/node_fs.js';
import { isTemporaryName, toFsPath } from '../storage/paths.js';

async function isCheckpointDirectory(path: string): Promise<boolean> {
  try {
    const entries = await readdir(path);
    return entries.some((e) => CHECKPOINT_MARKERS.includes(e));
  } catch {
    return false;
  }
}

/** Every existing path that matches the template, segment by segment. */
async function matchingPaths(template: string): Promise<string[]> {
  const segments = splitTemplateSegments(template);
  let bases = [isAbsolute(template) ? '/' : ''];
  for (const [i, segment] of segments.entries()) {
    if (segment === '' && i === 0) continue;
    const next: string[] = [];
    for (const base of bases) {
      if (!templateHasFields(segment)) {
        const literal = formatFilepath(segment, {}); // undoes {{ }} escapes
        next.push(base === '' ? literal : join(base, literal));
        continue;
      }
      const pattern = compileTemplatePattern(segment);
      let names: string[];
      try {
        names = await readdir(base === '' ? '.' : base);
      } catch {
        continue;
      }
      for (const name of names) if (!isTemporaryName(name) && pattern.test(name)) next.push(base === '' ? name : join(base, name));
    }
    bases = next;
  }
  return bases;
}

/** The newest checkpoint matching `template`, or null when there is none. */
export async function latestCheckpoint(template: string): Promise<string | null> {
  const path = toFsPath(template).replace(/\/+$/, '');
  let best: { path: string; mtime: bigint } | null = null;
  for (const candidate of await matchingPaths(path)) {
    if ((await pathKind(candidate)) !== 'directory' || !(await isCheckpointDirectory(candidate))) continue;
    const { mtimeNs } = await stat(candidate, { bigint: true });
    if (!best || mtimeNs > best.mtime || (mtimeNs === best.mtime && candidate > best.path)) best = { path: candidate, mtime: mtimeNs };
  }
  return best?.path ?? null;
}
