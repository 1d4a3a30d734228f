/**
 * The committed checkpoints of one template, read from disk with their metadata: the single source
 * of truth for best, latest and retention, so a resumed run is never wrong about them. Only
 * directories that carry our `checkpoint.json` count: anything else is not ours and never deleted.
 * Also: pointer files (`latest`, `best`) and safe deletion.
 */
import { basename, dirname, join, relative } from 'node:path';
import { z } from 'zod';
import { CheckpointError } from '../errors.js';
import { decodeNumber, metadataSchema, type CheckpointMetadata } from '../formats/schema.js';
import type { RetentionCandidate } from '../policy/retention.js';
import { nodeFs, type FsOps } from '../storage/fs_ops.js';
import { pathKind, writeFileAtomically } from '../storage/node_fs.js';
import { readTextFile } from '../storage/read_into.js';
import { tempSiblingName } from '../storage/paths.js';
import { findTemplateMatches } from './scan.js';
import { METADATA_FILE } from './write.js';

export interface CheckpointRecord extends RetentionCandidate {
  path: string;
  metadata: CheckpointMetadata;
}

/** The checkpoint's metadata, or undefined when it has none or it does not validate (then it is not ours). */
export async function readMetadata(dir: string, fs: FsOps = nodeFs): Promise<CheckpointMetadata | undefined> {
  try {
    const parsed = metadataSchema.safeParse(JSON.parse(await readTextFile(join(dir, METADATA_FILE), 1 << 20, undefined, fs)));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** The value of `monitor` recorded in a checkpoint: its monitor entry if it watched the same metric, else its metrics. */
function recordedValue(metadata: CheckpointMetadata, monitor: string | undefined): number | null {
  if (monitor === undefined) return null;
  if (metadata.monitor?.name === monitor && metadata.monitor.value !== null) return decodeNumber(metadata.monitor.value);
  const raw = metadata.metrics[monitor];
  return raw === undefined ? null : decodeNumber(raw);
}

/** Committed checkpoints matching `template`, oldest first. */
export async function readRecords(template: string, monitor?: string, fs: FsOps = nodeFs): Promise<CheckpointRecord[]> {
  const found: { path: string; metadata: CheckpointMetadata; mtime: bigint }[] = [];
  for (const match of await findTemplateMatches(template, fs)) {
    const metadata = await readMetadata(match.path, fs);
    if (metadata) found.push({ path: match.path, metadata, mtime: match.mtimeNs });
  }
  const time = (m: CheckpointMetadata) => Date.parse(m.committedAt ?? m.createdAt);
  found.sort((a, b) => time(a.metadata) - time(b.metadata) || (a.metadata.step ?? 0) - (b.metadata.step ?? 0) || Number(a.mtime - b.mtime) || (a.path < b.path ? -1 : 1));
  return found.map(({ path, metadata }, order) => ({
    id: path,
    path,
    metadata,
    order,
    epoch: metadata.epoch,
    time: time(metadata),
    value: recordedValue(metadata, monitor),
  }));
}

/**
 * Deletes a checkpoint so that no reader ever sees it half-deleted: it is first renamed to a
 * temporary name (which every reader ignores and the next writer cleans), then removed.
 */
export async function deleteCheckpoint(path: string, fs: FsOps = nodeFs): Promise<void> {
  const doomed = join(dirname(path), tempSiblingName(basename(path), `${process.pid}-deleted${Date.now().toString(16)}`));
  try {
    await fs.rename(path, doomed);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new CheckpointError('IO_ERROR', `Could not delete the checkpoint ${path}: ${(e as Error).message}`, { cause: e });
  }
  await fs.rm(doomed, { recursive: true, force: true }).catch(() => undefined);
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

/** Points `pointerPath` at `target` (stored relative to the pointer's directory). A small file, replaced atomically. */
export async function writePointer(pointerPath: string, target: CheckpointRecord, fs: FsOps = nodeFs): Promise<void> {
  const body = {
    format: POINTER_FORMAT,
    formatVersion: 1,
    path: relative(dirname(pointerPath), target.path) || '.',
    step: target.metadata.step,
    epoch: target.metadata.epoch,
    value: target.metadata.monitor?.value ?? null,
    updatedAt: new Date().toISOString(),
  };
  await writeFileAtomically(pointerPath, new TextEncoder().encode(JSON.stringify(body, null, 1) + '\n'), fs);
}

/** The checkpoint a pointer names, if the pointer is valid and its target is a committed checkpoint. */
export async function readPointer(pointerPath: string, fs: FsOps = nodeFs): Promise<string | undefined> {
  try {
    const parsed = pointerSchema.safeParse(JSON.parse(await readTextFile(pointerPath, 1 << 16, undefined, fs)));
    if (!parsed.success) return undefined;
    const target = join(dirname(pointerPath), parsed.data.path);
    return (await pathKind(target, fs)) === 'directory' && (await readMetadata(target, fs)) ? target : undefined;
  } catch {
    return undefined;
  }
}
