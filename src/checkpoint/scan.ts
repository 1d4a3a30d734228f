/**
 * Finds the committed checkpoints a path template could have produced: literal text matches
 * literally, each field only what its format spec can produce (fields may sit in directory names
 * too), and a version suffix (`-v1`, `-v2`, …, added instead of overwriting) is allowed at the end.
 * Temporaries and directories that are not checkpoints are never returned.
 */
import { isAbsolute, join } from 'node:path';
import { nodeFs, type FsOps } from '../storage/fs_ops.js';
import { isCheckpointDirectory, listDirectory, pathKind } from '../storage/node_fs.js';
import { isTemporaryName, toFsPath } from '../storage/paths.js';
import { formatFilepath } from '../template/format.js';
import { compileTemplatePattern, splitTemplateSegments, templateHasFields } from '../template/match.js';

/** `name-v3` → `name`; other names unchanged. */
export function stripVersionSuffix(name: string): string {
  return name.replace(/-v\d+$/, '');
}

export interface TemplateMatch {
  path: string;
  mtimeNs: bigint;
}

/** Every existing path that matches the template, segment by segment. */
async function matchingPaths(template: string, fs: FsOps): Promise<string[]> {
  const segments = splitTemplateSegments(template);
  let bases = [isAbsolute(template) ? '/' : ''];
  for (const [i, segment] of segments.entries()) {
    if (segment === '' && i === 0) continue;
    const last = i === segments.length - 1;
    const next: string[] = [];
    for (const base of bases) {
      if (!templateHasFields(segment)) {
        const literal = formatFilepath(segment, {}); // undoes {{ }} escapes
        next.push(base === '' ? literal : join(base, literal));
        if (!last) continue;
      }
      const pattern = compileTemplatePattern(segment);
      const literal = templateHasFields(segment) ? undefined : formatFilepath(segment, {});
      for (const name of await listDirectory(base === '' ? '.' : base, fs)) {
        if (isTemporaryName(name)) continue;
        const unversioned = stripVersionSuffix(name);
        const matches = literal === undefined ? pattern.test(name) || (last && unversioned !== name && pattern.test(unversioned)) : last && unversioned !== name && unversioned === literal;
        if (matches) next.push(base === '' ? name : join(base, name));
      }
    }
    bases = next;
  }
  return [...new Set(bases)];
}

/** The committed checkpoint directories matching `template`, with their modification times. */
export async function findTemplateMatches(template: string, fs: FsOps = nodeFs): Promise<TemplateMatch[]> {
  const path = toFsPath(template).replace(/\/+$/, '');
  const out: TemplateMatch[] = [];
  for (const candidate of await matchingPaths(path, fs)) {
    if ((await pathKind(candidate, fs)) !== 'directory' || !(await isCheckpointDirectory(candidate, fs))) continue;
    const { mtimeNs } = await fs.stat(candidate, { bigint: true });
    out.push({ path: candidate, mtimeNs });
  }
  return out;
}
