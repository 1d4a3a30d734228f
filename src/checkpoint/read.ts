/**
 * The TF.js layers format, read side: opens a checkpoint (model.json or weights.json, shards, and
 * `checkpoint.json`) through a store and reads its weights back, trusting nothing: every JSON file is
 * schema-checked, every file's size (and, when `checkpoint.json` is present, its CRC-32) is
 * verified, and every weight must fit exactly in the bytes the manifest names.
 *
 * A read sees one whole generation of a checkpoint even while a writer replaces it: the store's
 * reader holds the files of one generation, and after every batch of opens it must confirm that they
 * all belong to the generation the read began with; if not, the read starts again (`readCheckpoint`).
 */
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
import { keyBasename, keyDirname } from '../stores/keys.js';
import { resolveLocation, sibling, type Location, type StoreOptions } from '../stores/registry.js';
import { GenerationChanged, type CheckpointReader, type StoredFile } from '../stores/store.js';
import { requirePath } from '../validate.js';
import { assertFileSize, readChecksummed, readPieces, readText, type FilePiece } from './read_pieces.js';
import { METADATA_FILE, MODEL_JSON_FILE, WEIGHTS_JSON_FILE } from './write.js';
import { singleFileFormat } from '../formats/file_names.js';
import { readFileCheckpoint } from './single_file.js';

type CheckpointFile = StoredFile;

/** `where/name`, as messages show a checkpoint's file. */
function join(where: string, name: string): string {
  return `${where}/${name}`;
}

/** JSON files describe weights; anything larger than this is not a checkpoint's JSON. */
const MAX_JSON_BYTES = 256 * 1024 * 1024;

export interface OpenedCheckpoint {
  /** Where the checkpoint is read from, as messages show it. */
  dir: string;
  location: Location;
  /** The files of the generation being read; every reader opens them through this. */
  files: GenerationFiles;
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

/** Where a JSON.parse failure happened, without the snippet of the file that Node's message quotes. */
function parsePosition(error: unknown): string {
  const position = /position (\d+)/.exec((error as Error)?.message ?? '')?.[1];
  return position === undefined ? '' : ` (at character ${position})`;
}

/**
 * Parses one of the checkpoint's JSON files, opened already; undefined if it does not exist. Checked
 * against `recorded` when given. Errors never quote the file: it may be a link to something secret,
 * and messages end up in logs.
 */
async function readJsonFile(file: CheckpointFile | undefined, path: string, recorded?: { size: number; crc32: number }): Promise<unknown | undefined> {
  if (file === undefined) return undefined;
  const text = await readText(file, path, MAX_JSON_BYTES, recorded);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CorruptCheckpointError(`${path} is not valid JSON${parsePosition(e)}. The checkpoint is damaged; load another one.`);
  }
}

function parseWith<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: import('zod').ZodError } }, value: unknown, path: string): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new CorruptCheckpointError(`${path} is not a valid checkpoint file: ${describeIssues(result.error)}.`);
  }
  return result.data;
}

/** A manifest file named directly (`…/model.json`) stands for its directory. */
function isManifestName(name: string): boolean {
  return name === MODEL_JSON_FILE || name === WEIGHTS_JSON_FILE;
}

/**
 * Opens the checkpoint at `location`, which may also name its `model.json` / `weights.json` (a
 * manifest named directly stands for its folder, as in tfjs).
 */
async function openReader(location: Location): Promise<{ reader: CheckpointReader; location: Location }> {
  const { store, key } = location;
  if (isManifestName(keyBasename(key))) {
    const parent = sibling(location, keyDirname(key));
    const reader = await store.open(key).catch(() => undefined);
    if (!reader) {
      const folder = await store.open(parent.key);
      if (folder) return { reader: folder, location: parent };
    } else return { reader, location };
  }
  const reader = await store.open(key);
  if (!reader) throw new CheckpointError('NOT_FOUND', `No checkpoint at ${location.url}: the directory does not exist.`);
  return { reader, location };
}

/** Reads a checkpoint's JSON files (see `readCheckpoint` for reading one consistently). */
async function openAt(files: GenerationFiles, location: Location): Promise<OpenedCheckpoint> {
  const dir = files.dir;
  // All three at once: whichever exist, from the same moment.
  const [metadataFile, modelFile, weightsFile] = await files.openIfPresent([METADATA_FILE, MODEL_JSON_FILE, WEIGHTS_JSON_FILE]);
  const metadataRaw = await readJsonFile(metadataFile, join(dir, METADATA_FILE));
  const metadata = metadataRaw === undefined ? undefined : parseWith(metadataSchema, metadataRaw, join(dir, METADATA_FILE));
  // With checksums, every file the checkpoint uses must be covered by them.
  const manifest = async (name: string, opened: CheckpointFile | undefined) => {
    const file = metadata?.files.find((f) => f.name === name);
    const raw = await readJsonFile(opened, join(dir, name), file);
    if (raw !== undefined && metadata && !file) {
      throw new CorruptCheckpointError(`${join(dir, name)} is not listed in ${METADATA_FILE}, so it cannot be verified: the checkpoint is inconsistent.`);
    }
    return raw;
  };
  const modelRaw = await manifest(MODEL_JSON_FILE, modelFile);
  if (modelRaw !== undefined) {
    const modelJson = parseWith(modelJsonSchema, modelRaw, join(dir, MODEL_JSON_FILE));
    return { dir, location, files, kind: 'model', metadata, modelJson, groups: modelJson.weightsManifest };
  }
  const weightsRaw = await manifest(WEIGHTS_JSON_FILE, weightsFile);
  if (weightsRaw !== undefined) {
    const weightsJson = parseWith(weightsJsonSchema, weightsRaw, join(dir, WEIGHTS_JSON_FILE));
    return { dir, location, files, kind: 'weights', metadata, groups: weightsJson.weightsManifest };
  }
  throw new CheckpointError(
    metadata ? 'CORRUPT_CHECKPOINT' : 'NOT_FOUND',
    `${dir} holds neither ${MODEL_JSON_FILE} nor ${WEIGHTS_JSON_FILE}, so it is not a checkpoint${metadata ? ' (its manifest is missing)' : ''}.`,
  );
}

/**
 * Attempts before a reader gives up on a checkpoint that keeps being replaced. An attempt fails only
 * when a replacement lands in its window (from resolving the path to confirming the last open, a few
 * milliseconds). Against a writer replacing the checkpoint in a tight loop (readers.test.ts), about
 * 1 load in 7 needed a second attempt, 1 in 100 a third, and the most seen in 1,400 loads was 5.
 */
const MAX_READ_ATTEMPTS = 10;

/**
 * The files of the generation being read, each opened once through the store's reader and kept
 * until the read ends. `open` confirms, after opening, that they all belong to the generation the
 * read began with; `openIfPresent` leaves that to the next `open` (or to the end of the read), which
 * keeps the window a writer could hit short.
 */
export class GenerationFiles {
  private readonly handles = new Map<string, Promise<CheckpointFile | undefined>>();
  private closed = false;
  /** Files were opened since the generation was last confirmed. */
  unconfirmed = false;

  constructor(private readonly reader: CheckpointReader) {}

  /** Where the files are read from, as messages show it. */
  get dir(): string {
    return this.reader.where;
  }

  private async settle(names: readonly string[]): Promise<PromiseSettledResult<CheckpointFile | undefined>[]> {
    if (this.closed) throw new Error(`The checkpoint ${this.dir} was read already; open it again to read more.`);
    this.unconfirmed = true;
    return Promise.allSettled(
      names.map((name) => {
        let handle = this.handles.get(name);
        if (!handle) {
          handle = this.reader.open(name);
          this.handles.set(name, handle);
        }
        return handle;
      }),
    );
  }

  async confirm(): Promise<void> {
    await this.reader.confirm();
    this.unconfirmed = false;
  }

  /**
   * Opens `names` and confirms the generation; then rejects with the first failure in order, a
   * missing file being a CORRUPT_CHECKPOINT error that names it.
   */
  async open(names: readonly string[]): Promise<CheckpointFile[]> {
    const settled = await this.settle(names);
    await this.confirm();
    return settled.map((result, i) => {
      if (result.status === 'rejected') throw result.reason;
      if (result.value === undefined) {
        throw new CorruptCheckpointError(`The checkpoint file ${join(this.dir, names[i]!)} is missing: the checkpoint is incomplete. Load another checkpoint.`);
      }
      return result.value;
    });
  }

  /** Opens files that may be absent (the JSON files); undefined for those that are. */
  async openIfPresent(names: readonly string[]): Promise<(CheckpointFile | undefined)[]> {
    return (await this.settle(names)).map((result) => {
      if (result.status === 'rejected') throw result.reason;
      return result.value;
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.handles.values()].map((h) => h.catch(() => undefined)));
    await this.reader.close();
  }
}

/**
 * Reads one whole generation of the checkpoint at `where` with `read`, which must have no effect
 * besides returning what it read, and must open files only through `checkpoint.files`. When the
 * generation changed during the read (a writer replaced the checkpoint), what was read is discarded
 * and the read starts again, up to MAX_READ_ATTEMPTS times.
 */
export async function readCheckpoint<T>(where: Location, read: (checkpoint: OpenedCheckpoint) => Promise<T>): Promise<T> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= MAX_READ_ATTEMPTS; attempt++) {
    let opened: { reader: CheckpointReader; location: Location };
    try {
      opened = await openReader(where);
    } catch (e) {
      if (!(e instanceof GenerationChanged)) throw e;
      lastError = e;
      continue;
    }
    const files = new GenerationFiles(opened.reader);
    try {
      const result = await read(await openAt(files, opened.location));
      if (files.unconfirmed) await files.confirm();
      return result;
    } catch (e) {
      if (!(e instanceof CheckpointError)) throw e;
      lastError = e;
      if (e instanceof GenerationChanged) continue;
      // An error about files from another generation (opened but not yet confirmed) is no error of this one.
      if (!(await files.confirm().then(() => true, () => false))) continue;
      throw e;
    } finally {
      await files.close();
    }
  }
  throw new CheckpointError(
    'REPLACED_WHILE_READING',
    `${where.url} was replaced by another writer each of the ${MAX_READ_ATTEMPTS} times it was read, so no complete copy could be read. ` +
      'Load it again when the writer is idle, or load a checkpoint that is not being rewritten.',
    lastError === undefined ? undefined : { cause: lastError },
  );
}

/** A checkpoint's JSON files, schema-checked, all from one generation of it (to read weights too, use `readCheckpoint`). */
export async function openCheckpoint(where: Location): Promise<OpenedCheckpoint> {
  return readCheckpoint(where, async (checkpoint) => checkpoint);
}

function specByteLength(spec: WeightSpec, where: string): number {
  const count = elementCount(spec.shape);
  const bytes = count * bytesPerElement(spec.dtype);
  if (!Number.isSafeInteger(bytes)) throw new CorruptCheckpointError(`${where}: weight '${spec.name}' has an absurd shape [${spec.shape}].`);
  return bytes;
}

/** Every weight spec of the checkpoint, in manifest order (the order of the indices readers use). */
export function checkpointSpecs(checkpoint: OpenedCheckpoint): WeightSpec[] {
  return checkpoint.groups.flatMap((g) => g.weights as WeightSpec[]);
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

/** Files read at the same time: small shards are many, and each read waits on the thread pool. */
const PARALLEL_FILES = 8;

/**
 * `work` for every item, at most `PARALLEL_FILES` at a time; if any fail, the first failure in item
 * order is thrown (after the others settle), so errors do not depend on timing.
 */
async function forEachFile<T, R>(items: readonly T[], work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!, index).then(
        (value) => ({ status: 'fulfilled' as const, value }),
        (reason: unknown) => ({ status: 'rejected' as const, reason }),
      );
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_FILES, items.length) }, worker));
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<R>).value);
}

/** The largest buffer we ask for (Node says; elsewhere allocation failures are caught below). */
const MAX_BUFFER_BYTES: number =
  (globalThis as { Buffer?: { constants?: { MAX_LENGTH?: number } } }).Buffer?.constants?.MAX_LENGTH ?? Number.MAX_SAFE_INTEGER;

/** A zeroed buffer for `what`, or a TOO_LARGE CheckpointError where the runtime cannot provide one. */
function allocate(bytes: number, what: string): Uint8Array {
  const tooLarge = (reason: string, cause?: unknown) =>
    new CheckpointError(
      'TOO_LARGE',
      `${what} needs one buffer of ${bytes} bytes, ${reason}. A checkpoint this runtime can load keeps every weight file and every weight below that size (save with a smaller maxShardBytes).`,
      cause === undefined ? undefined : { cause },
    );
  if (bytes > MAX_BUFFER_BYTES) throw tooLarge(`more than the ${MAX_BUFFER_BYTES} bytes this JavaScript runtime can hold in one buffer`);
  try {
    return new Uint8Array(bytes);
  } catch (e) {
    if (e instanceof RangeError) throw tooLarge('and this process could not allocate that much memory', e);
    throw e;
  }
}

interface GroupFiles {
  opened: CheckpointFile[];
  sizes: number[];
  recorded: Map<string, { size: number; crc32: number }>;
}

/**
 * The sizes of a group's files, checked before anything large is allocated: each file is a regular
 * file of its recorded size (when `checkpoint.json` is present), and together they hold exactly the
 * bytes the manifest's weights need.
 */
async function checkGroupFiles(checkpoint: OpenedCheckpoint, group: ManifestGroup): Promise<GroupFiles> {
  const where = checkpoint.dir;
  const expected = checkGroupSizes(checkpoint, group);
  const recorded = new Map(checkpoint.metadata?.files.map((f) => [f.name, f]) ?? []);
  const unlisted = checkpoint.metadata ? group.paths.find((name) => !recorded.has(name)) : undefined;
  if (unlisted !== undefined) throw new CorruptCheckpointError(`${where}: ${unlisted} is not listed in ${METADATA_FILE}.`);
  const opened = await checkpoint.files.open(group.paths);
  const sizes = opened.map((file) => file.size);
  group.paths.forEach((name, i) => {
    const file = recorded.get(name);
    if (file && sizes[i] !== file.size) {
      throw new CorruptCheckpointError(
        `${join(where, name)} is ${sizes[i]} bytes but the checkpoint says it should be ${file.size}: the file is truncated or was changed. Load an earlier checkpoint.`,
      );
    }
  });
  const total = sizes.reduce((n, s) => n + s, 0);
  if (total !== expected) {
    throw new CorruptCheckpointError(`${where}: the weights need ${expected} bytes but the weight files hold ${total}: a file is truncated or extra.`);
  }
  return { opened, sizes, recorded };
}

/** Reads the group's `index`-th file as `pieces`, checking its recorded checksum when there is one. */
async function readGroupFile(checkpoint: OpenedCheckpoint, group: ManifestGroup, files: GroupFiles, index: number, pieces: readonly FilePiece[]): Promise<void> {
  const name = group.paths[index]!;
  const path = join(checkpoint.dir, name);
  const recorded = files.recorded.get(name);
  const file = files.opened[index]!;
  const checksum = recorded ? await readChecksummed(file, path, pieces) : await readPieces(file, path, pieces, false);
  if (recorded && checksum !== recorded.crc32) {
    throw new CorruptCheckpointError(`${path} fails its checksum: the file was damaged after it was written. Load another checkpoint.`);
  }
}

/**
 * Reads one manifest group into memory as a list of buffers whose concatenation is the group's
 * bytes, verified (sizes before anything large is allocated, then checksums). Shards are read into
 * one buffer each, except that a weight stored across shards of its own is read straight into one
 * buffer of its own, so every weight is a view of a single buffer and nothing is copied twice.
 */
export async function readGroupShards(checkpoint: OpenedCheckpoint, group: ManifestGroup): Promise<Uint8Array[]> {
  const files = await checkGroupFiles(checkpoint, group);
  const runs = planReads(group.weights as WeightSpec[], files.sizes);
  const buffers = runs.map((run) => allocate(run.bytes, join(checkpoint.dir, group.paths[run.shards[0]!]!)));
  // Where each file goes: its run's buffer, after the files before it in that run.
  const targets = runs.flatMap((run, r) => {
    let offset = 0;
    return run.shards.map((index) => {
      const target = { index, dest: buffers[r]!, offset };
      offset += files.sizes[index]!;
      return target;
    });
  });
  await forEachFile(targets, ({ index, dest, offset }) => readGroupFile(checkpoint, group, files, index, [{ length: files.sizes[index]!, dest, offset }]));
  return buffers;
}

/** Groups consecutive shards that together hold exactly one weight (and nothing else) into one read. */
function planReads(specs: readonly WeightSpec[], sizes: readonly number[]): { shards: number[]; bytes: number }[] {
  const weightEnds: number[] = [];
  let at = 0;
  for (const spec of specs) weightEnds.push((at += elementCount(spec.shape) * bytesPerElement(spec.dtype)));
  const weightStarts = weightEnds.map((_end, i) => (i === 0 ? 0 : weightEnds[i - 1]!));
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

/**
 * How each file of a group divides among the weights, in file order: the stretch of a wanted weight
 * is read into that weight's own buffer; stretches of other weights are merged into pieces with no
 * destination (checksummed, or skipped when there is no checksum).
 */
function piecesPerFile(lengths: readonly number[], sizes: readonly number[], buffers: readonly (Uint8Array | undefined)[]): FilePiece[][] {
  let weight = 0;
  let within = 0;
  return sizes.map((size) => {
    const pieces: FilePiece[] = [];
    for (let left = size; left > 0; ) {
      while (within === lengths[weight]) {
        weight += 1;
        within = 0;
      }
      const length = Math.min(left, lengths[weight]! - within);
      const dest = buffers[weight];
      const last = pieces[pieces.length - 1];
      if (!dest && last && !last.dest) last.length += length;
      else pieces.push(dest ? { length, dest, offset: within } : { length });
      within += length;
      left -= length;
    }
    return pieces;
  });
}

/**
 * Reads only the weights whose indices (into `checkpointSpecs`) are `wanted`, each into a buffer of
 * its own, so nothing else is allocated: files holding none of them are not read, and the bytes of
 * other weights in a shared file are only checksummed. Sizes are checked before anything is allocated.
 */
export async function readSelectedWeights(checkpoint: OpenedCheckpoint, wanted: ReadonlySet<number>): Promise<Map<number, StoredWeight>> {
  const out = new Map<number, StoredWeight>();
  let base = 0;
  for (const group of checkpoint.groups) {
    const specs = group.weights as WeightSpec[];
    const first = base;
    base += specs.length;
    if (!specs.some((_, i) => wanted.has(first + i))) continue;
    const files = await checkGroupFiles(checkpoint, group);
    const lengths = specs.map((spec) => specByteLength(spec, checkpoint.dir));
    const buffers = specs.map((spec, i) => (wanted.has(first + i) ? allocate(lengths[i]!, `${checkpoint.dir}: weight '${spec.name}'`) : undefined));
    const pieces = piecesPerFile(lengths, files.sizes, buffers);
    const needed = group.paths.flatMap((_, index) => (pieces[index]!.some((p) => p.dest) ? [index] : []));
    await forEachFile(needed, (index) => readGroupFile(checkpoint, group, files, index, pieces[index]!));
    buffers.forEach((bytes, i) => {
      if (bytes) out.set(first + i, { spec: specs[i]!, bytes });
    });
  }
  return out;
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
  const listed = checkpoint.metadata.files;
  const opened = await checkpoint.files.open(listed.map((f) => f.name));
  listed.forEach((file, i) => assertFileSize(opened[i]!, join(checkpoint.dir, file.name), file.size));
  await forEachFile(listed, async (file, i) => {
    const path = join(checkpoint.dir, file.name);
    if ((await readChecksummed(opened[i]!, path, [{ length: file.size }])) !== file.crc32) {
      throw new CorruptCheckpointError(`${path} fails its checksum: the file was damaged after it was written.`);
    }
  });
}

export interface VerifiedCheckpoint {
  /** The directory that was verified (the set-aside copy while a replacement is between its two renames). */
  path: string;
  kind: 'model' | 'weights';
  metadata?: CheckpointMetadata;
  /**
   * `'verified'`: the checkpoint carries `checkpoint.json`, and every file it lists has the recorded
   * size and CRC-32. `'absent'`: there is no `checkpoint.json` (a folder written by stock tfjs), so only
   * the JSON files' validity, the files' presence and their sizes could be checked: damaged weight
   * bytes would go unnoticed.
   */
  checksums: 'verified' | 'absent';
  /** Weight files. */
  files: number;
  /** Bytes of weights. */
  bytes: number;
}

/** Verifies what `openAt` read: with checksums every listed file is read and checked, without them every weight file's size. */
async function verifyOpened(checkpoint: OpenedCheckpoint): Promise<VerifiedCheckpoint> {
  let bytes = 0;
  let files = 0;
  if (checkpoint.metadata) await verifyFiles(checkpoint);
  for (const group of checkpoint.groups) {
    const { sizes } = await checkGroupFiles(checkpoint, group);
    files += sizes.length;
    bytes += sizes.reduce((n, s) => n + s, 0);
  }
  return {
    path: checkpoint.dir,
    kind: checkpoint.kind,
    ...(checkpoint.metadata ? { metadata: checkpoint.metadata } : {}),
    checksums: checkpoint.metadata ? 'verified' : 'absent',
    files,
    bytes,
  };
}

/**
 * Checks a checkpoint without loading it into a model: its JSON files validate, every file it lists
 * is present with the recorded size and checksum, and the weights fit the weight files exactly.
 * `checksums` in the result says whether there were checksums to check. Throws a CheckpointError
 * saying what is wrong.
 */
export async function verifyCheckpoint(pathOrUrl: string, options: StoreOptions = {}): Promise<VerifiedCheckpoint> {
  return verifyAt(resolveLocation(requirePath(pathOrUrl, 'verify'), options));
}

/** verifyCheckpoint for a location resolved already. */
export function verifyAt(location: Location): Promise<VerifiedCheckpoint> {
  if (singleFileFormat(location.key)) {
    return readFileCheckpoint(location, async (contents) => ({
      path: location.url,
      kind: contents.kind,
      ...(contents.metadata ? { metadata: contents.metadata } : {}),
      checksums: await contents.verify(),
      files: 1,
      bytes: contents.bytes,
    }));
  }
  return readCheckpoint(location, verifyOpened);
}
