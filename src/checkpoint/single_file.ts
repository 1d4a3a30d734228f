/**
 * Single-file checkpoints end to end: writing one through its codec and the store's `stageFile`
 * (complete or invisible, like a folder), and reading one with the same retry-on-replacement rule as
 * folders (see read.ts): a file replaced while it was read is read again.
 */
import { asCheckpointError, CheckpointError } from '../errors.js';
import { singleFileFormat, type SingleFileFormat } from '../formats/file_names.js';
import { METADATA_FORMAT, type CheckpointMetadata } from '../formats/schema.js';
import { describeKey, type Location } from '../stores/registry.js';
import { GenerationChanged, type CheckpointStore, type OpenedFile } from '../stores/store.js';
import type { StoreKey } from '../stores/keys.js';
import { fileCodec, type FileContents } from './file_codec.js';
import { buildMetadata, stageOptions, type CheckpointContents, type WriteOptions, type WrittenCheckpoint } from './write.js';

const MAX_READ_ATTEMPTS = 5;

/** Which formats hold which kinds of checkpoint, as Keras has them. */
export function assertFormatHolds(format: SingleFileFormat, kind: 'model' | 'weights', path: string): void {
  if (format === 'weights.h5' && kind === 'model') {
    throw new CheckpointError(
      'INVALID_ARGUMENT',
      `${path} ends in .weights.h5, the Keras weights format, which holds no model: save with saveWeightsOnly: true (or saveWeights), or use .keras or .h5 for the whole model.`,
    );
  }
  if (format === 'keras' && kind === 'weights') {
    throw new CheckpointError(
      'INVALID_ARGUMENT',
      `${path} ends in .keras, the Keras whole-model format: save the whole model (saveWeightsOnly: false, or saveModel), or use .weights.h5 for weights only.`,
    );
  }
}

export async function writeFileCheckpoint(location: Location, contents: CheckpointContents, options: WriteOptions = {}): Promise<WrittenCheckpoint> {
  const format = singleFileFormat(location.key)!;
  assertFormatHolds(format, contents.kind, location.url);
  const action = `save ${location.url}`;
  const codec = await fileCodec(format, location.url);
  const staged = await location.store.stageFile(location.key, stageOptions(options, contents)).catch((e: unknown) => {
    throw asCheckpointError(e, action);
  });
  try {
    const metadata = await codec.write(staged, contents, { ...buildMetadata(contents.kind, [], options.context), container: format });
    await options.beforeCommit?.();
    const key = await staged.commit();
    return { path: describeKey(location.scheme, key), key, metadata };
  } catch (e) {
    await staged.abort().catch(() => undefined);
    throw asCheckpointError(e, action);
  }
}

async function openFile(store: CheckpointStore, key: StoreKey, url: string): Promise<OpenedFile> {
  const file = await store.openFile(key);
  if (!file) throw new CheckpointError('NOT_FOUND', `No checkpoint at ${url}: there is no such file. Check the path, or list the directory's checkpoints with latestCheckpoint().`);
  return file;
}

/** Reads the single-file checkpoint at `location` with `read`, again if it was replaced meanwhile. */
export async function readFileCheckpoint<T>(location: Location, read: (contents: FileContents) => Promise<T>): Promise<T> {
  const format = singleFileFormat(location.key)!;
  const codec = await fileCodec(format, location.url);
  let lastError: unknown;
  for (let attempt = 1; attempt <= MAX_READ_ATTEMPTS; attempt++) {
    const file = await openFile(location.store, location.key, location.url);
    try {
      const contents = await codec.open(file);
      try {
        return await read(contents);
      } finally {
        await contents.close?.();
      }
    } catch (e) {
      if (!(e instanceof GenerationChanged)) throw e;
      lastError = e;
    } finally {
      await file.close();
    }
  }
  throw new CheckpointError('REPLACED_WHILE_READING', `${location.url} was replaced by another writer each of the ${MAX_READ_ATTEMPTS} times it was read. Load it again when the writer is idle.`, {
    cause: lastError,
  });
}

/** The writer recorded in the stand-in metadata of files other tools wrote (see foreignMetadata). */
const FOREIGN_WRITER = 'unknown';

/** True for the stand-in metadata of a file another tool wrote (it records nothing of a save). */
export function isForeignMetadata(metadata: CheckpointMetadata): boolean {
  return metadata.library.name === FOREIGN_WRITER && metadata.template === undefined && metadata.files.length === 0 && metadata.weights === undefined;
}

/**
 * What a file other tools wrote stands for in listings (latest, resume): a complete one gets metadata
 * with nothing but its kind, format and modification time; it has no template, so retention never
 * deletes it, and no metrics, so it is never "best".
 */
function foreignMetadata(kind: 'model' | 'weights', format: SingleFileFormat, modifiedNs: bigint | undefined): CheckpointMetadata {
  const at = new Date(Number((modifiedNs ?? 0n) / 1_000_000n)).toISOString();
  return {
    format: METADATA_FORMAT,
    formatVersion: 1,
    kind,
    createdAt: at,
    committedAt: at,
    library: { name: FOREIGN_WRITER, version: '' },
    tfjsVersion: null,
    epoch: null,
    batch: null,
    step: null,
    samplesSeen: null,
    metrics: {},
    monitor: null,
    container: format,
    files: [],
  };
}

/**
 * The metadata a single-file checkpoint carries; for a complete file that others wrote, the little
 * that stands for it (see foreignMetadata); undefined when it is damaged, incomplete or unreadable.
 */
export async function readFileMetadata(store: CheckpointStore, key: StoreKey, modifiedNs?: bigint): Promise<CheckpointMetadata | undefined> {
  const format = singleFileFormat(key);
  if (!format) return undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    let file: OpenedFile | undefined;
    try {
      const codec = await fileCodec(format, key);
      file = await store.openFile(key);
      if (!file) return undefined;
      const ours = await codec.readMetadata(file).catch(() => undefined);
      if (ours) return ours;
      const kind = await codec.probe(file);
      return kind && foreignMetadata(kind, format, modifiedNs);
    } catch (e) {
      if (e instanceof GenerationChanged) continue;
      return undefined;
    } finally {
      await file?.close();
    }
  }
  return undefined;
}
