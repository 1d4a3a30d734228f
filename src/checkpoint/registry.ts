/**
 * The committed checkpoints of one template, read from their store with their metadata: the single
 * source of truth for best, latest and retention, so a resumed run is never wrong about them. Only
 * checkpoints that carry a valid `checkpoint.json` count; only those whose `checkpoint.json` says they
 * were written under this template are ever deleted. Also: pointers (`latest`, `best`).
 */
import { z } from 'zod';
import { decodeNumber, metadataSchema, type CheckpointMetadata } from '../formats/schema.js';
import type { RetentionCandidate } from '../policy/retention.js';
import { isInside, joinKey, keyBasename, keyDirname, relativeKey, type StoreKey } from '../stores/keys.js';
import { GenerationChanged, type CheckpointStore } from '../stores/store.js';
import { splitTemplateSegments } from '../template/match.js';
import { readText } from './read_pieces.js';
import { singleFileFormat } from '../formats/file_names.js';
import { readFileMetadata } from './single_file.js';
import { findTemplateMatches } from './scan.js';
import { METADATA_FILE } from './write.js';

export interface CheckpointRecord extends RetentionCandidate {
  /** As people see it: a path for the fs store, a URL for the others. */
  path: string;
  /** The store's key (the retention id). */
  key: StoreKey;
  metadata: CheckpointMetadata;
  /** True when its `checkpoint.json` says it was written under this template (only those are ever deleted). */
  owned: boolean;
}

/** The checkpoint's metadata, or undefined when it has none or it does not validate (then it is not ours). */
export async function readMetadata(store: CheckpointStore, key: StoreKey, modifiedNs?: bigint): Promise<CheckpointMetadata | undefined> {
  if (singleFileFormat(key)) return readFileMetadata(store, key, modifiedNs);
  // A replacement may move the checkpoint while we look: a file that seems to be missing is looked
  // for again if the checkpoint changed meanwhile. A damaged file is not ours.
  for (let attempt = 0; attempt < 3; attempt++) {
    let reader;
    try {
      reader = await store.open(key);
    } catch (e) {
      if (e instanceof GenerationChanged) continue;
      return undefined;
    }
    if (!reader) return undefined;
    try {
      const file = await reader.open(METADATA_FILE);
      if (!file) {
        await reader.confirm();
        return undefined;
      }
      const parsed = metadataSchema.safeParse(JSON.parse(await readText(file, `${reader.where}/${METADATA_FILE}`, 1 << 20, undefined)));
      return parsed.success ? parsed.data : undefined;
    } catch (e) {
      if (e instanceof GenerationChanged) continue;
      return undefined;
    } finally {
      await reader.close();
    }
  }
  return undefined;
}

/** A template's identity as recorded in its checkpoints: its last segment (so a moved run directory stays one run). */
export function templateName(template: string): string {
  const segments = splitTemplateSegments(template);
  return segments[segments.length - 1]!;
}

/** The value of `monitor` recorded in a checkpoint: its monitor entry if it watched the same metric, else its metrics. */
function recordedValue(metadata: CheckpointMetadata, monitor: string | undefined): number | null {
  if (monitor === undefined) return null;
  if (metadata.monitor?.name === monitor && metadata.monitor.value !== null) return decodeNumber(metadata.monitor.value);
  const raw = metadata.metrics[monitor];
  return raw === undefined ? null : decodeNumber(raw);
}

/**
 * Committed checkpoints matching `template` (absolute, normalized), oldest first. Checkpoints that
 * another template wrote (their `checkpoint.json` names it) are left out.
 */
export async function readRecords(store: CheckpointStore, template: string, monitor: string | undefined, describe: (key: StoreKey) => string): Promise<CheckpointRecord[]> {
  const ours = templateName(template);
  const found: { key: StoreKey; metadata: CheckpointMetadata; mtime: bigint }[] = [];
  for (const match of await findTemplateMatches(store, template)) {
    const metadata = await readMetadata(store, match.key, match.modifiedNs);
    if (!metadata) continue;
    if (metadata.template !== undefined && templateName(metadata.template) !== ours) continue;
    found.push({ key: match.key, metadata, mtime: match.modifiedNs });
  }
  const time = (m: CheckpointMetadata) => Date.parse(m.committedAt ?? m.createdAt);
  found.sort((a, b) => time(a.metadata) - time(b.metadata) || (a.metadata.step ?? 0) - (b.metadata.step ?? 0) || Number(a.mtime - b.mtime) || (a.key < b.key ? -1 : 1));
  return found.map(({ key, metadata }, order) => ({
    id: key,
    key,
    path: describe(key),
    metadata,
    owned: metadata.template !== undefined,
    order,
    epoch: metadata.epoch,
    time: time(metadata),
    value: recordedValue(metadata, monitor),
  }));
}

const POINTER_FORMAT = 'tfjs-checkpoint-pointer';

const pointerSchema = z.looseObject({
  format: z.literal(POINTER_FORMAT),
  formatVersion: z.literal(1),
  path: z.string().min(1),
  step: z.number().nullable(),
  epoch: z.number().nullable(),
  value: z.union([z.number(), z.string()]).nullable(),
});

/** Why a pointer at `pointerKey` could not name checkpoints of `template` without leaving its directory; undefined when it can. */
export function pointerPlacementProblem(pointerKey: StoreKey, template: string, shown = pointerKey): string | undefined {
  const dir = keyDirname(pointerKey);
  return template.startsWith(dir === '/' ? '/' : `${dir}/`)
    ? undefined
    : `the pointer ${shown} must be in the directory of the checkpoints it points to (${keyDirname(template)}) or in a directory above it`;
}

/** Points `pointerKey` at `target` (stored relative to the pointer's directory). A small object, replaced atomically. */
export async function writePointer(store: CheckpointStore, pointerKey: StoreKey, target: CheckpointRecord): Promise<void> {
  const dir = keyDirname(pointerKey);
  const body = {
    format: POINTER_FORMAT,
    formatVersion: 1,
    path: isInside(target.key, dir) ? relativeKey(dir, target.key) : '.',
    step: target.metadata.step,
    epoch: target.metadata.epoch,
    value: target.metadata.monitor?.value ?? null,
    updatedAt: new Date().toISOString(),
  };
  await store.writeSmall(pointerKey, new TextEncoder().encode(JSON.stringify(body, null, 1) + '\n'));
}

/**
 * The checkpoint a pointer names, if the pointer is valid, names a place inside its own directory
 * (never `..` or an absolute path: a pointer cannot send a reader elsewhere) and that place holds a
 * committed checkpoint.
 */
export async function readPointer(store: CheckpointStore, pointerKey: StoreKey): Promise<StoreKey | undefined> {
  try {
    const bytes = await store.readSmall(pointerKey, 1 << 16);
    if (bytes === undefined) return undefined;
    const parsed = pointerSchema.safeParse(JSON.parse(new TextDecoder().decode(bytes)));
    if (!parsed.success) return undefined;
    const named = parsed.data.path;
    if (/^[/\\]/.test(named) || named.split(/[/\\]/).some((s) => s === '..' || s === '' || s === '.')) return undefined;
    const target = joinKey(keyDirname(pointerKey), named);
    return keyBasename(target) !== '' && (await readMetadata(store, target)) ? target : undefined;
  } catch {
    return undefined;
  }
}
