/**
 * Read-only access to one checkpoint by path or URL, for tools (the command-line tool among them):
 * its metadata without reading any weights, and its contents without a model to load them into.
 */
import type { NamedTensorMap } from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { CheckpointMetadata } from '../formats/schema.js';
import { resolveLocation, type StoreOptions } from '../stores/registry.js';
import { requirePath } from '../validate.js';
import { readMetadata as readMetadataAt } from './registry.js';
import { loadCheckpointContents } from './save_load.js';
import { isForeignMetadata } from './single_file.js';

/**
 * What a checkpoint records about its save (`checkpoint.json`, or the metadata inside a single file),
 * read without its weights; undefined when there is no committed checkpoint of ours at the path
 * (nothing there, a stock TF.js folder, a file Keras or PyTorch wrote, or metadata that does not validate).
 */
export async function readMetadata(pathOrUrl: string, options: StoreOptions = {}): Promise<CheckpointMetadata | undefined> {
  const location = resolveLocation(requirePath(pathOrUrl, 'readMetadata'), options);
  const metadata = await readMetadataAt(location.store, location.key);
  // Listings give files other tools wrote a stand-in record; callers of this function get only what was recorded.
  return metadata && !isForeignMetadata(metadata) ? metadata : undefined;
}

/**
 * A checkpoint's contents without a model to load them into: a new model for full-model checkpoints
 * (every format, Keras's own files included), the named tensors for weights-only ones. Sizes and
 * checksums are checked as for every load.
 */
export async function loadCheckpoint(pathOrUrl: string, options: StoreOptions = {}): Promise<LayersModel | NamedTensorMap> {
  return loadCheckpointContents(resolveLocation(requirePath(pathOrUrl, 'loadCheckpoint'), options));
}
