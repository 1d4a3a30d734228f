/**
 * `latestCheckpoint(template)`: the newest committed checkpoint whose path the template could have
 * produced. Keras's most-recently-modified-file helper, done right: see scan.ts for what matches;
 * ties on modification time go to the largest path.
 */
import { nodeFs, type FsOps } from '../storage/fs_ops.js';
import { toTemplatePath } from '../storage/paths.js';
import { requirePath } from '../validate.js';
import { findTemplateMatches } from './scan.js';

/** The newest checkpoint matching `template` (as an absolute path), or null when there is none. */
export async function latestCheckpoint(template: string, fs: FsOps = nodeFs): Promise<string | null> {
  const normalized = toTemplatePath(requirePath(template, 'latestCheckpoint', 'template'));
  let best: { path: string; mtimeNs: bigint } | null = null;
  for (const match of await findTemplateMatches(normalized, fs)) {
    if (!best || match.mtimeNs > best.mtimeNs || (match.mtimeNs === best.mtimeNs && match.path > best.path)) best = match;
  }
  return best?.path ?? null;
}
