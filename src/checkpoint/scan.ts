/**
 * Finds the committed checkpoints a path template could have produced: literal text matches
 * literally, each field only what it could have been formatted from (`{epoch}` an integer, a metric
 * a float, within what its format spec can produce; fields may sit in directory names too), and a
 * version suffix (`-v1`, `-v2`, …, added instead of overwriting) is allowed at the end.
 * Temporaries and directories that are not checkpoints are never returned; a checkpoint caught
 * between the two renames of a replacement is found under its own name (the set-aside rule).
 * Templates reach this module already normalized (absolute, see storage/paths.ts).
 */
import { join } from 'node:path';
import { nodeFs, type FsOps } from '../storage/fs_ops.js';
import { committedEntries, isCheckpointDirectory, listDirectory, pathKind, resolveCommittedPath } from '../storage/node_fs.js';
import { isTemporaryName } from '../storage/paths.js';
import { formatFilepath } from '../template/format.js';
import { checkpointValueTypes, compileTemplatePattern, splitTemplateSegments, templateHasFields } from '../template/match.js';

/** `name-v3` → `name`; other names unchanged. */
export function stripVersionSuffix(name: string): string {
  return name.replace(/-v\d+$/, '');
}

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
  /** The checkpoint's path. */
  path: string;
  /** Where its files are (the path itself, or a set-aside copy of it). */
  location: string;
  mtimeNs: bigint;
}

/** Every existing directory path matching the template's directory segments. */
async function matchingDirectories(segments: readonly string[], fs: FsOps): Promise<string[]> {
  let bases = ['/'];
  for (const segment of segments) {
    if (segment === '') continue;
    const next: string[] = [];
    for (const base of bases) {
      if (!templateHasFields(segment)) {
        next.push(join(base, formatFilepath(segment, {})));
        continue;
      }
      // Directories only narrow the search (names and checkpoint.json decide ownership): any value type.
      const pattern = compileTemplatePattern(segment);
      for (const name of await listDirectory(base, fs)) if (!isTemporaryName(name) && pattern.test(name)) next.push(join(base, name));
    }
    bases = next;
  }
  return bases;
}

/**
 * Where a listed entry's checkpoint is now, if it is one. A replacement may move it between the
 * listing and each look (set aside, then back under its name): look again where it is now.
 */
async function checkpointLocation(entry: { path: string; location: string }, fs: FsOps): Promise<string | undefined> {
  let location: string | undefined = entry.location;
  for (let attempt = 0; attempt < 3 && location !== undefined; attempt++) {
    if ((await pathKind(location, fs)) === 'directory' && (await isCheckpointDirectory(location, fs))) return location;
    location = await resolveCommittedPath(entry.path, fs);
  }
  return undefined;
}

/** The committed checkpoint directories matching `template` (absolute, normalized), with their modification times. */
export async function findTemplateMatches(template: string, fs: FsOps = nodeFs): Promise<TemplateMatch[]> {
  const segments = splitTemplateSegments(template);
  const matches = nameMatcher(segments[segments.length - 1]!);
  const out: TemplateMatch[] = [];
  for (const parent of await matchingDirectories(segments.slice(0, -1), fs)) {
    const names = (await listDirectory(parent, fs)).filter((name) => isTemporaryName(name) || matches(name));
    for (const entry of await committedEntries(parent, names, fs)) {
      const name = entry.path.slice(entry.path.lastIndexOf('/') + 1);
      if (!matches(name)) continue;
      const location = await checkpointLocation(entry, fs);
      if (location === undefined) continue;
      const { mtimeNs } = await fs.stat(location, { bigint: true }).catch(() => ({ mtimeNs: 0n }));
      out.push({ path: entry.path, location, mtimeNs });
    }
  }
  return out;
}
