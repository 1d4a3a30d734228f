/**
 * Single-file checkpoint formats (`.safetensors`, `.h5`, `.weights.h5`, `.keras`) as codecs over the
 * store interface: each turns checkpoint contents into one file streamed into `store.stageFile`, and
 * an opened file back into weight specs, a plan against a model and the weights' bytes. The manager,
 * the callbacks and the load functions reach every format through this one interface; codecs load on
 * first use, so the HDF5 library (WASM) is loaded only by programs that use `.h5` files.
 */
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { CheckpointError } from '../errors.js';
import type { SingleFileFormat } from '../formats/file_names.js';
import type { CheckpointMetadata, ModelJson } from '../formats/schema.js';
import type { WeightSpec } from '../formats/weight_entry.js';
import type { OpenedFile, StagedFile } from '../stores/store.js';
import type { StoredWeight } from './read.js';
import type { CheckpointContents } from './write.js';

/** What a codec found in a file, before any weight bytes are read. */
export interface FileContents {
  kind: 'model' | 'weights';
  /** Ours only: what the file records about its save (and the weights' checksums). */
  metadata?: CheckpointMetadata;
  /** Full models: the TF.js model JSON (translated from Keras's config for Keras files). */
  modelJson?: Omit<ModelJson, 'weightsManifest'>;
  /** Every stored weight (optimizer state has group 'optimizer'), in the file's canonical order. */
  specs: WeightSpec[];
  /** Which stored weight goes into which model weight (`[model weight index, spec index]`), checked; nothing is read yet. */
  plan(model: LayersModel, strict: boolean): [number, number][];
  /** Reads the weights at these spec indices (verifying checksums where the file has them). */
  read(indices: ReadonlySet<number>): Promise<Map<number, StoredWeight>>;
  /** Reads everything and checks it against the recorded checksums: 'absent' when the file records none. */
  verify(): Promise<'verified' | 'absent'>;
  /** Bytes of weights. */
  bytes: number;
  close?(): Promise<void>;
}

export interface FileCodec {
  /** Streams `contents` into `staged`; returns the metadata it recorded in the file (with the weights' checksums). */
  write(staged: StagedFile, contents: CheckpointContents, metadata: CheckpointMetadata): Promise<CheckpointMetadata>;
  /** Our metadata, when the file carries it (cheap: a header or a trailer); undefined for files others wrote. */
  readMetadata(file: OpenedFile): Promise<CheckpointMetadata | undefined>;
  /**
   * For files without our metadata (written by Keras, PyTorch, …): whether the file is complete and
   * valid as far as a cheap look tells (a header, a superblock, a zip directory), and what it holds.
   */
  probe(file: OpenedFile): Promise<'model' | 'weights' | undefined>;
  open(file: OpenedFile): Promise<FileContents>;
}

const loaders = new Map<SingleFileFormat, () => Promise<FileCodec>>();
const loaded = new Map<SingleFileFormat, Promise<FileCodec>>();

/** Makes a format available (the entry points register the codecs their platform can run). */
export function registerFileCodec(format: SingleFileFormat, load: () => Promise<FileCodec>): void {
  loaders.set(format, load);
  loaded.delete(format);
}

/** Whether a codec for `format` is registered (an entry point keeps a platform's own codec). */
export function hasFileCodec(format: SingleFileFormat): boolean {
  return loaders.has(format);
}

/** Throws the clear error for a format no codec is registered for here. */
export function assertFileCodec(format: SingleFileFormat, path: string): void {
  if (!loaders.has(format)) {
    throw new CheckpointError(
      'UNSUPPORTED_FORMAT',
      `${path} names a .${format} file, which tfjs-checkpoint cannot read or write here (no ${format === 'safetensors' ? 'safetensors' : 'HDF5'} codec is registered: HDF5 needs WebAssembly). ` +
        'Use a path without that extension (a TF.js checkpoint folder), or .safetensors.',
    );
  }
}

export async function fileCodec(format: SingleFileFormat, path: string): Promise<FileCodec> {
  assertFileCodec(format, path);
  const load = loaders.get(format)!;
  let codec = loaded.get(format);
  if (!codec) {
    codec = load();
    loaded.set(format, codec);
    codec.catch(() => loaded.delete(format));
  }
  return codec;
}
