/**
 * `latestCheckpoint(template)`: the newest committed checkpoint whose path the template could have
 * produced. Keras's most-recently-modified-file helper, done right: see scan.ts for what matches;
 * ties on modification time go to the largest key. Only committed checkpoints (a valid
 * `checkpoint.json`, or for single files our metadata inside them, or a complete file that Keras or
 * PyTorch wrote) count; stock TF.js folders load, but are not ours to find.
 */
import { describeKey, resolveTemplate, type StoreOptions } from '../stores/registry.js';
import { requirePath } from '../validate.js';
import { readMetadata } from './registry.js';
import { findTemplateMatches } from './scan.js';

/** The newest checkpoint matching `template` (as a normalized path or URL), or null when there is none. */
export async function latestCheckpoint(template: string, options: StoreOptions = {}): Promise<string | null> {
  const { store, scheme, template: normalized } = resolveTemplate(requirePath(template, 'latestCheckpoint', 'template'), options);
  const newestFirst = (await findTemplateMatches(store, normalized)).sort((a, b) =>
    a.modifiedNs !== b.modifiedNs ? (a.modifiedNs > b.modifiedNs ? -1 : 1) : a.key > b.key ? -1 : a.key < b.key ? 1 : 0,
  );
  // Committed means a valid checkpoint.json: a damaged one is skipped, as every reader skips it.
  for (const match of newestFirst) if (await readMetadata(store, match.key)) return describeKey(scheme, match.key);
  return null;
}
