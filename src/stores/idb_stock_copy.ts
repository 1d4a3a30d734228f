/**
 * A copy of a small full-model checkpoint where stock TF.js looks for `indexeddb://…` models, so
 * `tf.loadLayersModel('indexeddb://name')` and `tf.io.listModels()` see it as if `model.save()` had
 * written it: TF.js's database `tensorflowjs` (version 1), one record per model in `models_store`
 * (topology, weight specs, and every weight in one ArrayBuffer) and one in `model_info_store`.
 *
 * Why only small models: that layout is one record holding all the weights, so saving and loading it
 * needs the whole model in memory at once, twice during the structured clone, and TF.js fails near
 * 2 GB (tensorflow/tfjs#7702). The checkpoint itself is always in our own records; the copy is an
 * extra, bounded by `maxBytes` (default 64 MiB), written after the checkpoint commits and removed
 * before it is replaced or deleted, so a copy never holds anything but that checkpoint's contents.
 */
import { modelJsonSchema } from '../formats/schema.js';
import { committed, openDatabase, request } from './idb_requests.js';
import type { StoredFile } from './store.js';

const DATABASE = 'tensorflowjs';
const VERSION = 1;
const MODELS = 'models_store';
const INFO = 'model_info_store';

/** The default size limit of a stock copy: small enough that a second copy of the weights in memory is no burden. */
export const STOCK_COPY_MAX_BYTES = 64 * 2 ** 20;

async function withStockDatabase<T>(factory: IDBFactory, body: (db: IDBDatabase) => Promise<T>): Promise<T> {
  // The same schema TF.js creates, so whichever of us opens the database first, both can use it.
  const db = await openDatabase(factory, DATABASE, VERSION, (created) => {
    created.createObjectStore(MODELS, { keyPath: 'modelPath' });
    created.createObjectStore(INFO, { keyPath: 'modelPath' });
  });
  try {
    return await body(db);
  } finally {
    db.close();
  }
}

function utf8Length(value: unknown): number {
  return new TextEncoder().encode(JSON.stringify(value)).byteLength;
}

/**
 * Writes the stock copy of the TF.js-layout checkpoint whose files `open` reads, at `modelPath`.
 * Returns false (and writes nothing) when it is not a full model in the TF.js layout or its files
 * exceed `maxBytes` in total.
 */
export async function writeStockCopy(
  factory: IDBFactory,
  modelPath: string,
  files: ReadonlyArray<{ name: string; size: number }>,
  open: (name: string) => Promise<StoredFile | undefined>,
  maxBytes: number,
): Promise<boolean> {
  const total = files.reduce((sum, f) => sum + f.size, 0);
  if (total > maxBytes || !files.some((f) => f.name === 'model.json')) return false;
  const modelFile = await open('model.json');
  if (!modelFile) return false;
  const modelBytes = new Uint8Array(modelFile.size);
  await modelFile.read(modelBytes, 0, modelBytes.byteLength, 0);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(modelBytes));
  } catch {
    return false;
  }
  const parsed = modelJsonSchema.safeParse(json);
  if (!parsed.success) return false;
  const model = parsed.data;
  const weightSpecs = model.weightsManifest.flatMap((group) => group.weights);
  const paths = model.weightsManifest.flatMap((group) => group.paths);
  const sizes = new Map(files.map((f) => [f.name, f.size]));
  const weightData = new Uint8Array(paths.reduce((sum, p) => sum + (sizes.get(p) ?? 0), 0));
  let at = 0;
  for (const path of paths) {
    const shard = await open(path);
    if (!shard) return false;
    await shard.read(weightData, at, shard.size, 0);
    at += shard.size;
  }
  const { weightsManifest: _manifest, ...rest } = model;
  const modelArtifacts = { ...rest, weightSpecs, weightData: weightData.buffer };
  const modelArtifactsInfo = {
    dateSaved: new Date(),
    modelTopologyType: 'JSON',
    modelTopologyBytes: utf8Length(model.modelTopology),
    weightSpecsBytes: utf8Length(weightSpecs),
    weightDataBytes: weightData.byteLength,
  };
  await withStockDatabase(factory, async (db) => {
    // Both records in one transaction (TF.js itself uses two): listModels never shows a model load cannot find.
    const tx = db.transaction([MODELS, INFO], 'readwrite', { durability: 'strict' });
    const done = committed(tx);
    tx.objectStore(INFO).put({ modelPath, modelArtifactsInfo });
    tx.objectStore(MODELS).put({ modelPath, modelArtifacts, modelArtifactsInfo });
    await done;
  });
  return true;
}

/** Removes the stock copy at `modelPath`, if there is one. */
export async function removeStockCopy(factory: IDBFactory, modelPath: string): Promise<void> {
  await withStockDatabase(factory, async (db) => {
    const tx = db.transaction([MODELS, INFO], 'readwrite', { durability: 'strict' });
    const done = committed(tx);
    await request(tx.objectStore(MODELS).delete(modelPath));
    tx.objectStore(INFO).delete(modelPath);
    await done;
  });
}
