/**
 * The committed checkpoints of one template, read from disk with their metadata: the single source
 * of truth for best, latest and retention, so a resumed run is never wrong about them. Only
 * directories that carry our `checkpoint.json` count; only those whose `checkpoint.json` says they
 * were written under this template are ever deleted. Also: pointer files (`latest`, `best`).
 */
import { basename, dirname, isAbsolute, join, relative } from 'node:path';
import { z } from 'zod';
import { decodeNumber, metadataSchema, type CheckpointMetadata } from '../formats/schema.js';
import type { RetentionCandidate } from '../policy/retention.js';
import { nodeFs, type FsOps } from '../storage/fs_ops.js';
import { resolveCommittedPath, writeFileAtomically } from '../storage/node_fs.js';
import { readTextFile } from '../storage/read_into.js';
import { splitTemplateSegments } from '../template/match.js';
import { findTemplateMatches } from './scan.js';
import { METADATA_FILE } from './write.js';

export interface CheckpointRecord extends RetentionCandidate {
  path: string;
  metadata: CheckpointMetadata;
  /** True when its `checkpoint.json` says it was written under this template (only those are ever deleted). */
  owned: boolean;
}

/** The checkpoint's metadata, or undefined when it has none or it does not validate (then it is not ours). */
export async function readMetadata(dir: string, fs: FsOps = nodeFs): Promise<CheckpointMetadata | undefined> {
  // A replacement may move the checkpoint while we read (even to a new directory of the same name):
  // a file that vanished is looked for again where the checkpoint is now. A damaged file is not ours.
  for (let attempt = 0; attempt < 3; attempt++) {
    const location = (await resolveCommittedPath(dir, fs)) ?? dir;
    try {
      const parsed = metadataSchema.safeParse(JSON.parse(await readTextFile(join(location, METADATA_FILE), 1 << 20, undefined, fs)));
      return parsed.success ? parsed.data : undefined;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return undefined;
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
export async function readRecords(template: string, monitor?: string, fs: FsOps = nodeFs): Promise<CheckpointRecord[]> {
  const ours = templateName(template);
  const found: { path: string; metadata: CheckpointMetadata; mtime: bigint }[] = [];
  for (const match of await findTemplateMatches(template, fs)) {
    const metadata = await readMetadata(match.location, fs);
    if (!metadata) continue;
    if (metadata.template !== undefined && templateName(metadata.template) !== ours) continue;
    found.push({ path: match.path, metadata, mtime: match.mtimeNs });
  }
  const time = (m: CheckpointMetadata) => Date.parse(m.committedAt ?? m.createdAt);
  found.sort((a, b) => time(a.metadata) - time(b.metadata) || (a.metadata.step ?? 0) - (b.metadata.step ?? 0) || Number(a.mtime - b.mtime) || (a.path < b.path ? -1 : 1));
  return found.map(({ path, metadata }, order) => ({
    id: path,
    path,
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

/** Why a pointer at `pointerPath` could not name checkpoints of `template` without leaving its directory; undefined when it can. */
export function pointerPlacementProblem(pointerPath: string, template: string): string | undefined {
  const dir = dirname(pointerPath);
  return template.startsWith(dir === '/' ? '/' : `${dir}/`)
    ? undefined
    : `the pointer ${pointerPath} must be in the directory of the checkpoints it points to (${dirname(template)}) or in a directory above it`;
}

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

/**
 * The checkpoint a pointer names, if the pointer is valid, names a place inside its own directory
 * (never `..` or an absolute path: a pointer cannot send a reader elsewhere) and that place holds a
 * committed checkpoint.
 */
export async function readPointer(pointerPath: string, fs: FsOps = nodeFs): Promise<string | undefined> {
  try {
    const parsed = pointerSchema.safeParse(JSON.parse(await readTextFile(pointerPath, 1 << 16, undefined, fs)));
    if (!parsed.success) return undefined;
    const named = parsed.data.path;
    if (isAbsolute(named) || named.split(/[/\\]/).some((s) => s === '..' || s === '' || s === '.')) return undefined;
    const target = join(dirname(pointerPath), named);
    return basename(target) !== '' && (await readMetadata(target, fs)) ? target : undefined;
  } catch {
    return undefined;
  }
}
