/**
 * The Keras HDF5 codecs, on any platform with an HDF5 host (hdf5/hdf5_host.ts: h5wasm opens files by
 * path). Three layouts, chosen by extension and kind: `.weights.h5` (Keras 3 `save_weights`),
 * `.h5`/`.hdf5` weights-only (tf.keras 2 `save_weights`), and `.h5`/`.hdf5` full models (tf.keras 2
 * `model.save`: `model_config`, `training_config`, `model_weights`). The file is written to a scratch
 * file of the host (HDF5 writes by path, in slices: see hdf5/h5_file.ts), our trailer is appended
 * (see formats/h5_trailer.ts), then it is streamed into the store's staged file. Reading works on any
 * store: the trailer is read in place; the HDF5 data from the file itself on a local disk, or from a
 * scratch copy.
 */
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { CorruptCheckpointError, WeightMismatchError } from '../errors.js';
import { crc32 } from '../formats/crc32.js';
import { readDatasets, readH5Tree, writeH5, type H5DatasetWrite } from '../hdf5/h5_file.js';
import { localCopy, type Hdf5Host } from '../hdf5/hdf5_host.js';
import type { H5AttributeWrite, H5Tree } from '../formats/h5/h5_types.js';
import { keras3Layout, legacyLayout, planKerasLoad, readKerasContents, type KerasH5Contents, type KerasH5Layout, type LayerDescription } from '../formats/h5/keras_layout.js';
import { encodeTrailer, readTrailer } from '../formats/h5_trailer.js';
import { hdf5Complete } from '../formats/hdf5_probe.js';
import { fromLegacyModelConfig } from '../formats/keras/from_keras.js';
import type { JsonObject, TfjsTopology } from '../formats/keras/json.js';
import { toLegacyModelConfig, toLegacyTrainingConfig } from '../formats/keras/to_keras.js';
import { metadataSchema, modelJsonSchema, type CheckpointMetadata, type ModelJson } from '../formats/schema.js';
import type { WeightEntry, WeightSpec } from '../formats/weight_entry.js';
import type { OpenedFile, StagedFile } from '../stores/store.js';
import type { FileCodec, FileContents } from './file_codec.js';
import type { StoredWeight } from './read.js';
import { structureOf, type ModelStructure } from './snapshot.js';
import type { CheckpointContents } from './write.js';
import { VERSION } from '../version.js';

type ModelJsonPart = Omit<ModelJson, 'weightsManifest'>;

/** What our trailer (and .keras's metadata.json) carries: our metadata, and for full models the exact TF.js model JSON. */
export interface OurRecord {
  metadata?: CheckpointMetadata;
  modelJson?: ModelJsonPart;
}

export function parseOurRecord(value: unknown): OurRecord {
  const record = (value ?? {}) as { tfjs_checkpoint?: unknown; tfjs_model?: unknown };
  const metadata = metadataSchema.safeParse(record.tfjs_checkpoint);
  let modelJson: ModelJsonPart | undefined;
  if (record.tfjs_model !== undefined) {
    const parsed = modelJsonSchema.safeParse({ weightsManifest: [], ...(record.tfjs_model as object) });
    if (parsed.success) {
      const { weightsManifest: _none, ...rest } = parsed.data;
      modelJson = rest;
    }
  }
  return { ...(metadata.success ? { metadata: metadata.data } : {}), ...(modelJson ? { modelJson } : {}) };
}

export function ourRecord(metadata: CheckpointMetadata, modelJson: ModelJsonPart | undefined): Record<string, unknown> {
  return { tfjs_checkpoint: metadata, ...(modelJson ? { tfjs_model: modelJson } : {}) };
}

/** Without a model (named tensors), layers are the weights' name prefixes. */
function structureFromNames(entries: readonly WeightEntry[]): ModelStructure {
  const layers = new Map<string, string[]>();
  for (const e of entries) {
    const at = e.name.lastIndexOf('/');
    const layer = at > 0 ? e.name.slice(0, at) : e.name;
    layers.set(layer, [...(layers.get(layer) ?? []), e.name]);
  }
  return { name: 'model', className: 'Functional', layers: [...layers].map(([name, weights]) => ({ name: name.replace(/\//g, '_'), className: 'Layer', weights })) };
}

/** The model's layers with their weights' shapes and dtypes, from the checkpoint's entries. */
export function layerDescriptions(contents: CheckpointContents): { layers: LayerDescription[]; structure: ModelStructure; byName: Map<string, WeightEntry> } {
  const modelEntries = contents.entries.filter((e) => e.group !== 'optimizer');
  const byName = new Map(modelEntries.map((e) => [e.name, e]));
  const structure = contents.structure ?? structureFromNames(modelEntries);
  const layers = structure.layers.map((l) => ({
    name: l.name,
    className: l.className,
    weights: l.weights.map((name) => {
      const entry = byName.get(name);
      if (!entry) throw new Error(`The snapshot has no weight '${name}' of layer '${l.name}'`);
      if (entry.dtype === 'bool') throw new WeightMismatchError(`Weight '${name}' is bool; Keras HDF5 files hold float32 and int32 weights. Save as safetensors or in the TF.js layout instead.`);
      return { name, shape: entry.shape, dtype: entry.dtype };
    }),
  }));
  return { layers, structure, byName };
}

/** The layers of a model, as the HDF5 layouts describe them. */
export function modelLayers(model: LayersModel): LayerDescription[] {
  const weights = new Map(model.weights.map((w) => [w.originalName, w]));
  return structureOf(model).layers.map((l) => ({
    name: l.name,
    className: l.className,
    weights: l.weights.map((name) => ({ name, shape: weights.get(name)!.shape as number[], dtype: weights.get(name)!.dtype as 'float32' | 'int32' })),
  }));
}

/** The datasets of a layout, each reading its weight and recording its CRC-32 as it goes. */
function datasetsOf(layout: KerasH5Layout, byName: Map<string, WeightEntry>, crcs: Map<string, number>): H5DatasetWrite[] {
  return layout.datasets.map((d) => ({
    path: d.path,
    shape: d.shape,
    dtype: d.dtype,
    read: async () => {
      const bytes = await byName.get(d.weight)!.read();
      crcs.set(d.path, crc32(bytes));
      return bytes;
    },
  }));
}

/**
 * Where TF.js optimizer state goes in the HDF5 files of full models: a group of our own, which Keras
 * does not read (Keras's optimizer layout differs per optimizer; it builds a fresh one and warns that
 * the file has no optimizer variables), so TF.js resumes exactly from `.h5` and `.keras` files too.
 */
const OPTIMIZER_GROUP = 'tfjs_optimizer';

/** Writes the HDF5 file of `layout` (plus root attributes, and the optimizer state of `contents`) at a scratch path; returns the path and the weights' records. */
export async function writeLayoutFile(
  host: Hdf5Host,
  layout: KerasH5Layout,
  rootAttributes: H5AttributeWrite[],
  byName: Map<string, WeightEntry>,
  contents: CheckpointContents,
  path = host.tempPath('.h5'),
): Promise<{ path: string; weights: NonNullable<CheckpointMetadata['weights']> }> {
  const crcs = new Map<string, number>();
  const optimizer = contents.entries.filter((e) => e.group === 'optimizer').map((entry, i) => ({ entry, path: `${OPTIMIZER_GROUP}/${i}` }));
  const datasets = [
    ...datasetsOf(layout, byName, crcs),
    ...optimizer.map(({ entry, path: at }) => {
      if (entry.dtype === 'bool') throw new WeightMismatchError(`Optimizer weight '${entry.name}' is bool; HDF5 checkpoints hold float32 and int32.`);
      return { path: at, shape: entry.shape, dtype: entry.dtype, read: async () => {
        const bytes = await entry.read();
        crcs.set(at, crc32(bytes));
        return bytes;
      } };
    }),
  ];
  try {
    const groups = optimizer.length > 0 ? [...layout.groups, OPTIMIZER_GROUP] : layout.groups;
    await writeH5(host, path, { groups, attributes: [...rootAttributes, ...layout.attributes], datasets });
  } catch (e) {
    await host.remove(path);
    throw e;
  }
  return {
    path,
    weights: [
      ...layout.datasets.map((d) => ({ name: d.weight, key: d.path, crc32: crcs.get(d.path)! })),
      ...optimizer.map(({ entry, path: at }) => ({ name: entry.name, key: at, group: 'optimizer' as const, crc32: crcs.get(at)! })),
    ],
  };
}

function jsonAttribute(name: string, value: unknown): H5AttributeWrite {
  return { group: '', name, value: { type: 'string', value: JSON.stringify(value) } };
}

async function write(host: Hdf5Host, staged: StagedFile, contents: CheckpointContents, base: CheckpointMetadata, format: 'h5' | 'weights.h5'): Promise<CheckpointMetadata> {
  const { layers, structure, byName } = layerDescriptions(contents);
  const full = contents.kind === 'model' && format === 'h5';
  let layout: KerasH5Layout;
  const root: H5AttributeWrite[] = [];
  if (format === 'weights.h5') {
    layout = keras3Layout(layers, { modelName: structure.name, modelClass: structure.className });
  } else if (full) {
    // Translated first: a model Keras cannot read is refused before anything is written.
    const topology = contents.modelJson!.modelTopology as unknown as TfjsTopology;
    const trainingConfig = contents.modelJson!.trainingConfig as Parameters<typeof toLegacyTrainingConfig>[0];
    root.push(jsonAttribute('model_config', toLegacyModelConfig(topology)));
    const training = toLegacyTrainingConfig(trainingConfig);
    if (training) root.push(jsonAttribute('training_config', training));
    root.push({ group: '', name: 'keras_version', value: { type: 'string', value: '2.15.0' } }, { group: '', name: 'backend', value: { type: 'string', value: 'tensorflow' } });
    layout = legacyLayout(layers, { root: 'model_weights' });
  } else {
    layout = legacyLayout(layers);
  }
  const modelJson = contents.kind === 'model' ? contents.modelJson : undefined;
  // On a local disk h5wasm opens, HDF5 writes straight into the store's temporary file; elsewhere into a scratch file, streamed over.
  if (staged.writeLocal && host.storePaths) {
    let metadata: CheckpointMetadata | undefined;
    await staged.writeLocal(async (path) => {
      const file = await writeLayoutFile(host, layout, root, byName, contents, path);
      metadata = { ...base, container: format, weights: file.weights };
      await host.append(path, encodeTrailer(ourRecord(metadata, modelJson)));
    });
    return metadata!;
  }
  const file = await writeLayoutFile(host, layout, root, byName, contents);
  try {
    const metadata: CheckpointMetadata = { ...base, container: format, weights: file.weights };
    await host.append(file.path, encodeTrailer(ourRecord(metadata, modelJson)));
    await staged.write(host.chunks(file.path));
    return metadata;
  } finally {
    await host.remove(file.path);
  }
}

/** A model JSON for a Keras full-model file: the TF.js one we recorded, else translated from `model_config`. */
function modelJsonOf(tree: H5Tree, record: OurRecord, where: string): ModelJsonPart | undefined {
  if (record.modelJson) return record.modelJson;
  const root = tree.nodes.get('');
  const config = root?.attributes['model_config'];
  if (typeof config !== 'string') return undefined;
  let parsed: JsonObject;
  try {
    parsed = JSON.parse(config) as JsonObject;
  } catch {
    throw new CorruptCheckpointError(`${where}: its model_config attribute is not JSON.`);
  }
  const kerasVersion = typeof root?.attributes['keras_version'] === 'string' ? (root.attributes['keras_version'] as string) : undefined;
  const topology = fromLegacyModelConfig(parsed, kerasVersion ? { kerasVersion } : {});
  return { modelTopology: topology as unknown as Record<string, unknown>, format: 'layers-model', generatedBy: `Keras ${kerasVersion ?? ''}`.trim(), convertedBy: `tfjs-checkpoint v${VERSION}` };
}

/**
 * The contents of a Keras HDF5 file at `local` (its datasets read from there), with our record when
 * it has one. Shared by the .keras codec (its model.weights.h5).
 */
export function h5Contents(host: Hdf5Host, local: string, where: string, tree: H5Tree, record: OurRecord, modelJson: ModelJsonPart | undefined): Omit<FileContents, 'close'> {
  const keras: KerasH5Contents = readKerasContents(tree, where);
  const stored: { path: string; name: string; shape: number[]; dtype: string; group?: 'optimizer' }[] = keras.layers.flatMap((l) => l.weights);
  // Our optimizer state (see OPTIMIZER_GROUP), as our record lists it.
  for (const w of record.metadata?.weights ?? []) {
    if (w.group !== 'optimizer') continue;
    const node = tree.nodes.get(w.key);
    if (node?.kind !== 'dataset') throw new CorruptCheckpointError(`${where}: optimizer weight '${w.name}' has no dataset at /${w.key}; the file was altered after it was written.`);
    stored.push({ path: w.key, name: w.name, shape: node.shape, dtype: node.dtype, group: 'optimizer' });
  }
  // Ours: the TF.js names we recorded (the layout's names are Keras's, derived by class).
  const recordedNames = new Map((record.metadata?.weights ?? []).map((w) => [w.key, w.name]));
  const specs: WeightSpec[] = stored.map((w) => ({
    name: recordedNames.get(w.path) ?? w.name,
    shape: w.shape,
    dtype: w.dtype === 'int32' ? 'int32' : 'float32',
    ...(w.group ? { group: w.group } : {}),
  }));
  const indexByPath = new Map(stored.map((w, i) => [w.path, i]));
  const recorded = new Map((record.metadata?.weights ?? []).map((w) => [w.key, w.crc32]));
  if (record.metadata && (recorded.size !== stored.length || stored.some((w) => !recorded.has(w.path)))) {
    throw new CorruptCheckpointError(`${where}: its recorded weights do not match its datasets; the file was altered after it was written.`);
  }
  const read = async (indices: ReadonlySet<number>): Promise<Map<number, StoredWeight>> => {
    const wanted = [...indices].sort((a, b) => a - b);
    const reads = wanted.map((i) => ({ datasetPath: stored[i]!.path, dest: new Uint8Array(specs[i]!.shape.reduce((n, d) => n * d, 1) * 4) }));
    await readDatasets(host, local, reads, { where });
    const out = new Map<number, StoredWeight>();
    wanted.forEach((index, k) => {
      const bytes = reads[k]!.dest;
      const expected = recorded.get(stored[index]!.path);
      if (expected !== undefined && crc32(bytes) !== expected) {
        throw new CorruptCheckpointError(`${where}: weight '${specs[index]!.name}' (/${stored[index]!.path}) fails its checksum: the file was damaged after it was written. Load another checkpoint.`);
      }
      out.set(index, { spec: specs[index]!, bytes });
    });
    return out;
  };
  return {
    kind: record.metadata?.kind ?? (modelJson ? 'model' : 'weights'),
    ...(record.metadata ? { metadata: record.metadata } : {}),
    ...(modelJson ? { modelJson } : {}),
    specs,
    bytes: specs.reduce((n, s) => n + s.shape.reduce((m, d) => m * d, 1) * 4, 0),
    plan(model: LayersModel, strict: boolean) {
      const indexOf = new Map(model.weights.map((w, i) => [w.originalName, i]));
      let layers = modelLayers(model);
      let file = keras;
      if (!strict) {
        // Not strict: the layers both have by name, and nothing else (as loadWeights does by weight name).
        const inFile = new Set(keras.layers.map((l) => l.name));
        layers = layers.filter((l) => inFile.has(l.name));
        const inModel = new Set(layers.map((l) => l.name));
        file = { ...keras, layers: keras.layers.filter((l) => inModel.has(l.name)) };
      }
      return planKerasLoad(layers, file, where).entries.map((e) => [indexOf.get(e.weight)!, indexByPath.get(e.path)!] as [number, number]);
    },
    read,
    async verify() {
      // One weight at a time: verifying never holds more than the largest weight.
      for (let i = 0; i < specs.length; i++) await read(new Set([i]));
      return record.metadata ? 'verified' : 'absent';
    },
  };
}

async function open(host: Hdf5Host, file: OpenedFile): Promise<FileContents> {
  const record = parseOurRecord(await readTrailer(file));
  const local = await localCopy(host, file, '.h5');
  try {
    const tree = await readH5Tree(host, local.path, { where: file.where });
    const contents = h5Contents(host, local.path, file.where, tree, record, modelJsonOf(tree, record, file.where));
    return { ...contents, close: local.cleanup };
  } catch (e) {
    await local.cleanup();
    throw e;
  }
}

/** The codec of `.h5` or `.weights.h5` files on the platform of `host`. */
export function h5Codec(host: Hdf5Host, format: 'h5' | 'weights.h5'): FileCodec {
  return {
    write: (staged, contents, base) => write(host, staged, contents, base, format),
    readMetadata: async (file) => parseOurRecord(await readTrailer(file)).metadata,
    probe: async (file) => ((await hdf5Complete(file)) ? (format === 'weights.h5' ? 'weights' : 'model') : undefined),
    open: (file) => open(host, file),
  };
}
