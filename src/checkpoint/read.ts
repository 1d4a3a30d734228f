/**
 * Opens a checkpoint directory and reads its weights back, trusting nothing: every JSON file is
 * schema-checked, every file's size (and, when `checkpoint.json` is present, its CRC-32) is
 * verified, and every weight must fit exactly in the bytes the manifest names.
 */
import { basename, dirname, join } from 'node:path';
import { CheckpointError, CorruptCheckpointError } from '../errors.js';
import {
  describeIssues,
  metadataSchema,
  modelJsonSchema,
  weightsJsonSchema,
  type CheckpointMetadata,
  type ManifestGroup,
  type ModelJson,
} from '../formats/schema.js';
import { bytesPerElement, elementCount, type WeightSpec } from '../formats/weight_entry.js';
import { nodeFs, type FsOps } from '../storage/fs_ops.js';
import { pathKind, resolveCommittedPath } from '../storage/node_fs.js';
import { checksumFile, fileSize, readFileInto, readTextFile } from '../storage/read_into.js';
import { toFsPath } from '../storage/paths.js';
import { METADATA_FILE, MODEL_JSON_FILE, WEIGHTS_JSON_FILE } from './write.js';

/** JSON files describe weights; anything larger than this is not a checkpoint's JSON. */
const MAX_JSON_BYTES = 256 * 1024 * 1024;

export interface OpenedCheckpoint {
  dir: string;
  fs: FsOps;
  kind: 'model' | 'weights';
  /** Absent for directories written by stock tfjs (tfjs-node's `file://`). */
  metadata?: CheckpointMetadata;
  modelJson?: ModelJson;
  groups: ManifestGroup[];
}

export interface StoredWeight {
  spec: WeightSpec;
  bytes: Uint8Array;
}

/** Reads and parses a JSON file; undefined if it does not exist. Checked against `recorded` when given. */
async function readJsonFile(path: string, fs: FsOps, recorded?: { size: number; crc32: number }): Promise<unknown | undefined> {
  let text: string;
  try {
    text = await readTextFile(path, MAX_JSON_BYTES, recorded, fs);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CorruptCheckpointError(`${path} is not valid JSON (${(e as Error).message}). The checkpoint is damaged; load another one.`, {
      cause: e,
    });
  }
}

function parseWith<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: import('zod').ZodError } }, value: unknown, path: string): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new CorruptCheckpointError(`${path} is not a valid checkpoint file: ${describeIssues(result.error)}.`);
  }
  return result.data;
}

/** Accepts the checkpoint directory or its `model.json` / `weights.json`. */
async function locateDirectory(pathOrUrl: string, fs: FsOps): Promise<string> {
  const path = toFsPath(pathOrUrl).replace(/[/\\]+$/, '');
  const name = basename(path);
  if ((name === MODEL_JSON_FILE || name === WEIGHTS_JSON_FILE) && (await pathKind(path, fs)) === 'file') return dirname(path);
  const resolved = await resolveCommittedPath(path, fs);
  if (resolved === undefined) {
    const kind = await pathKind(path, fs);
    if (kind === 'file') {
      throw new CheckpointError('PATH_CONFLICT', `${path} is a file; a checkpoint is a directory holding model.json or weights.json.`);
    }
    throw new CheckpointError('NOT_FOUND', `No checkpoint at ${path}: the directory does not exist.`);
  }
  return resolved;
}

export async function openCheckpoint(pathOrUrl: string, fs: FsOps = nodeFs): Promise<OpenedCheckpoint> {
  const dir = await locateDirectory(pathOrUrl, fs);
  const metadataRaw = await readJsonFile(join(dir, METADATA_FILE), fs);
  const metadata = metadataRaw === undefined ? undefined : parseWith(metadataSchema, metadataRaw, join(dir, METADATA_FILE));
  const recorded = (name: string) => metadata?.files.find((f) => f.name === name);
  const modelRaw = await readJsonFile(join(dir, MODEL_JSON_FILE), fs, recorded(MODEL_JSON_FILE));
  if (modelRaw !== undefined) {
    const modelJson = parseWith(modelJsonSchema, modelRaw, join(dir, MODEL_JSON_FILE));
    return { dir, fs, kind: 'model', metadata, modelJson, groups: modelJson.weightsManifest };
  }
  const weightsRaw = await readJsonFile(join(dir, WEIGHTS_JSON_FILE), fs, recorded(WEIGHTS_JSON_FILE));
  if (weightsRaw !== undefined) {
    const weightsJson = parseWith(weightsJsonSchema, weightsRaw, join(dir, WEIGHTS_JSON_FILE));
    return { dir, fs, kind: 'weights', metadata, groups: weightsJson.weightsManifest };
  }
  throw new CheckpointError(
    metadata ? 'CORRUPT_CHECKPOINT' : 'NOT_FOUND',
    `${dir} holds neither ${MODEL_JSON_FILE} nor ${WEIGHTS_JSON_FILE}, so it is not a checkpoint${metadata ? ' (its manifest is missing)' : ''}.`,
  );
}

function specByteLength(spec: WeightSpec, where: string): number {
  const count = elementCount(spec.shape);
  const bytes = count * bytesPerElement(spec.dtype);
  if (!Number.isSafeInteger(bytes)) throw new CorruptCheckpointError(`${where}: weight '${spec.name}' has an absurd shape [${spec.shape}].`);
  return bytes;
}

/** Bytes a group's weights need; with metadata, also checks that its files' recorded sizes add up to it. */
function checkGroupSizes(checkpoint: OpenedCheckpoint, group: ManifestGroup): number {
  const where = checkpoint.dir;
  const expected = group.weights.reduce((n, spec) => n + specByteLength(spec as WeightSpec, where), 0);
  if (checkpoint.metadata) {
    const recorded = new Map(checkpoint.metadata.files.map((f) => [f.name, f]));
    const total = group.paths.reduce((n, p) => n + (recorded.get(p)?.size ?? NaN), 0);
    if (total !== expected) {
      throw new CorruptCheckpointError(
        `${where}: the manifest's weights need ${expected} bytes but its files hold ${Number.isNaN(total) ? 'an unrecorded amount' : total}: the checkpoint is inconsistent.`,
      );
    }
  }
  return expected;
}

/**
 * Reads one manifest group into memory as a list of buffers whose concatenation is the group's
 * bytes, verified (sizes before anything large is allocated, then checksums). Shards are read into
 * one buffer each, except that a weight stored across shards of its own is read straight into one
 * buffer of its own, so every weight is a view of a single buffer and nothing is copied twice.
 */
export async function readGroupShards(checkpoint: OpenedCheckpoint, group: ManifestGroup): Promise<Uint8Array[]> {
  const where = checkpoint.dir;
  const expected = checkGroupSizes(checkpoint, group);
  const recorded = new Map(checkpoint.metadata?.files.map((f) => [f.name, f]) ?? []);
  const sizes: number[] = [];
  for (const name of group.paths) {
    const file = recorded.get(name);
    if (checkpoint.metadata && !file) throw new CorruptCheckpointError(`${where}: ${name} is not listed in ${METADATA_FILE}.`);
    const size = await fileSize(join(where, name), checkpoint.fs);
    if (file && size !== file.size) {
      throw new CorruptCheckpointError(
        `${join(where, name)} is ${size} bytes but the checkpoint says it should be ${file.size}: the file is truncated or was changed. Load an earlier checkpoint.`,
      );
    }
    sizes.push(size);
  }
  const total = sizes.reduce((n, s) => n + s, 0);
  if (total !== expected) {
    throw new CorruptCheckpointError(`${where}: the weights need ${expected} bytes but the weight files hold ${total}: a file is truncated or extra.`);
  }
  const buffers: Uint8Array[] = [];
  for (const run of planReads(group.weights as WeightSpec[], sizes)) {
    const buffer = new Uint8Array(run.bytes);
    let offset = 0;
    for (const index of run.shards) {
      const name = group.paths[index]!;
      const checksum = await readFileInto(join(where, name), buffer, offset, sizes[index]!, checkpoint.fs);
      const file = recorded.get(name);
      if (file && checksum !== file.crc32) {
        throw new CorruptCheckpointError(`${join(where, name)} fails its checksum: the file was damaged after it was written. Load another checkpoint.`);
      }
      offset += sizes[index]!;
    }
    buffers.push(buffer);
  }
  return buffers;
}

/** Groups consecutive shards that together hold exactly one weight (and nothing else) into one read. */
function planReads(specs: readonly WeightSpec[], sizes: readonly number[]): { shards: number[]; bytes: number }[] {
  const weightEnds: number[] = [];
  let at = 0;
  for (const spec of specs) weightEnds.push((at += elementCount(spec.shape) * bytesPerElement(spec.dtype)));
  const weightStarts = weightEnds.map((end, i) => (i === 0 ? 0 : weightEnds[i - 1]!));
  const runs: { shards: number[]; bytes: number }[] = [];
  let shardStart = 0;
  let i = 0;
  while (i < sizes.length) {
    // A weight that starts exactly here and ends exactly at a later shard boundary owns those shards.
    const w = weightStarts.findIndex((start, k) => start === shardStart && weightEnds[k]! > shardStart + sizes[i]!);
    if (w >= 0) {
      const run = { shards: [] as number[], bytes: 0 };
      let end = shardStart;
      let j = i;
      while (j < sizes.length && end < weightEnds[w]!) end += sizes[j++]!;
      if (end === weightEnds[w]) {
        for (let k = i; k < j; k++) run.shards.push(k);
        run.bytes = end - shardStart;
        runs.push(run);
        shardStart = end;
        i = j;
        continue;
      }
    }
    runs.push({ shards: [i], bytes: sizes[i]! });
    shardStart += sizes[i]!;
    i += 1;
  }
  return runs;
}

/** Cuts each weight out of the shard sequence; copies only the rare weight that spans two shards. */
export function sliceWeights(specs: readonly WeightSpec[], shards: readonly Uint8Array[]): StoredWeight[] {
  const out: StoredWeight[] = [];
  let shard = 0;
  let offset = 0;
  for (const spec of specs) {
    const length = elementCount(spec.shape) * bytesPerElement(spec.dtype);
    while (shard < shards.length && offset === shards[shard]!.byteLength && length > 0) {
      shard += 1;
      offset = 0;
    }
    const current = shards[shard] ?? new Uint8Array(0);
    if (offset + length <= current.byteLength) {
      out.push({ spec, bytes: current.subarray(offset, offset + length) });
      offset += length;
      continue;
    }
    const joined = new Uint8Array(length);
    let filled = 0;
    while (filled < length) {
      const source = shards[shard]!;
      const take = Math.min(length - filled, source.byteLength - offset);
      joined.set(source.subarray(offset, offset + take), filled);
      filled += take;
      offset += take;
      if (offset === source.byteLength) {
        shard += 1;
        offset = 0;
      }
    }
    out.push({ spec, bytes: joined });
  }
  return out;
}

export async function readAllWeights(checkpoint: OpenedCheckpoint): Promise<StoredWeight[]> {
  const all: StoredWeight[] = [];
  for (const group of checkpoint.groups) {
    all.push(...sliceWeights(group.weights as WeightSpec[], await readGroupShards(checkpoint, group)));
  }
  return all;
}

/** Verifies the files of a checkpoint that carries `checkpoint.json`: every file present, sizes and checksums. */
export async function verifyFiles(checkpoint: OpenedCheckpoint): Promise<void> {
  if (!checkpoint.metadata) return;
  for (const file of checkpoint.metadata.files) {
    const path = join(checkpoint.dir, file.name);
    const size = await fileSize(path, checkpoint.fs);
    if (size !== file.size) {
      throw new CorruptCheckpointError(`${path} is ${size} bytes but the checkpoint says it should be ${file.size}: the file is truncated or was changed.`);
    }
    if ((await checksumFile(path, size, checkpoint.fs)) !== file.crc32) {
      throw new CorruptCheckpointError(`${path} fails its checksum: the file was damaged after it was written.`);
    }
  }
}

export interface VerifiedCheckpoint {
  path: string;
  kind: 'model' | 'weights';
  metadata?: CheckpointMetadata;
  files: number;
  bytes: number;
}

/**
 * Checks a checkpoint without loading it into a model: its JSON files validate, every file it lists
 * is present with the recorded size and checksum, and the weights fit the weight files exactly.
 * Throws a CheckpointError saying what is wrong.
 */
export async function verifyCheckpoint(pathOrUrl: string, fs: FsOps = nodeFs): Promise<VerifiedCheckpoint> {
  const checkpoint = await openCheckpoint(pathOrUrl, fs);
  let bytes = 0;
  let files = 0;
  if (checkpoint.metadata) {
    await verifyFiles(checkpoint);
    for (const group of checkpoint.groups) {
      bytes += checkGroupSizes(checkpoint, group);
      files += group.paths.length;
    }
  } else {
    for (const group of checkpoint.groups) {
      const shards = await readGroupShards(checkpoint, group);
      files += shards.length;
      bytes += shards.reduce((n, s) => n + s.byteLength, 0);
    }
  }
  return { path: checkpoint.dir, kind: checkpoint.kind, ...(checkpoint.metadata ? { metadata: checkpoint.metadata } : {}), files, bytes };
}
