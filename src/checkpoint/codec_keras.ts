/**
 * The `.keras` codec (Keras 3's whole-model archive): `config.json` translated from the TF.js
 * topology (a layer that cannot be translated is a clear error before anything is written),
 * `model.weights.h5` in Keras 3's layout, and `metadata.json` with Keras's keys plus ours. Written as
 * a ZIP64-capable stream into the store; read with ranged reads (the weights entry is stored
 * uncompressed, so it is copied out as it is for HDF5 to open).
 */
import { CheckpointError, CorruptCheckpointError } from '../errors.js';
import { readH5Tree } from '../hdf5/h5_file.js';
import { localCopy, type Hdf5Host } from '../hdf5/hdf5_host.js';
import { keras3Layout } from '../formats/h5/keras_layout.js';
import { fromKeras3Config } from '../formats/keras/from_keras.js';
import type { JsonObject, TfjsTopology } from '../formats/keras/json.js';
import { kerasZipStream, readKerasZip, type KerasZipContents } from '../formats/keras/keras_zip.js';
import { toKeras3Config, type TfjsTrainingConfig } from '../formats/keras/to_keras.js';
import type { CheckpointMetadata } from '../formats/schema.js';
import type { OpenedFile, StagedFile } from '../stores/store.js';
import type { FileCodec, FileContents } from './file_codec.js';
import type { CheckpointContents } from './write.js';
import { VERSION } from '../version.js';
import { h5Contents, layerDescriptions, ourRecord, parseOurRecord, writeLayoutFile } from './codec_h5.js';

function parseJson(bytes: Uint8Array, what: string, where: string): JsonObject {
  try {
    const value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as unknown;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('not an object');
    return value as JsonObject;
  } catch {
    throw new CorruptCheckpointError(`${where}: its ${what} is not a JSON object. The archive is damaged or was not written by Keras.`);
  }
}

async function write(host: Hdf5Host, staged: StagedFile, contents: CheckpointContents, base: CheckpointMetadata): Promise<CheckpointMetadata> {
  const modelJson = contents.modelJson;
  if (!modelJson) throw new CheckpointError('INVALID_ARGUMENT', 'A .keras file holds a whole model; this checkpoint has no model topology.');
  const trainingConfig = (modelJson.trainingConfig ?? null) as TfjsTrainingConfig | null;
  const config = toKeras3Config(modelJson.modelTopology as unknown as TfjsTopology, { trainingConfig });
  const { layers, structure, byName } = layerDescriptions(contents);
  const file = await writeLayoutFile(host, keras3Layout(layers, { modelName: structure.name, modelClass: structure.className }), [], byName, contents);
  try {
    const metadata: CheckpointMetadata = { ...base, container: 'keras', weights: file.weights };
    await staged.write(
      kerasZipStream({
        config: new TextEncoder().encode(JSON.stringify(config)),
        metadata: ourRecord(metadata, modelJson),
        weights: host.chunks(file.path),
        weightsSize: await host.size(file.path),
      }),
    );
    return metadata;
  } finally {
    await host.remove(file.path);
  }
}

/** One parse of an archive's directory per opened file: reading its record, then probing it, reuse it. */
const parsedZips = new WeakMap<OpenedFile, Promise<KerasZipContents>>();
function zipOf(file: OpenedFile): Promise<KerasZipContents> {
  let zip = parsedZips.get(file);
  if (!zip) parsedZips.set(file, (zip = readKerasZip(file, file.where)));
  return zip;
}

async function readRecord(file: OpenedFile) {
  const zip = await zipOf(file);
  const metadataJson = parseJson(await zip.readMetadata(), 'metadata.json', file.where);
  return { zip, metadataJson, record: parseOurRecord(metadataJson) };
}

async function open(host: Hdf5Host, file: OpenedFile): Promise<FileContents> {
  const { zip, metadataJson, record } = await readRecord(file);
  let modelJson = record.modelJson;
  if (!modelJson) {
    const kerasVersion = typeof metadataJson['keras_version'] === 'string' ? metadataJson['keras_version'] : undefined;
    const topology = fromKeras3Config(parseJson(await zip.readConfig(), 'config.json', file.where), kerasVersion ? { kerasVersion } : {});
    modelJson = { modelTopology: topology as unknown as Record<string, unknown>, format: 'layers-model', generatedBy: `Keras ${kerasVersion ?? ''}`.trim(), convertedBy: `tfjs-checkpoint v${VERSION}` };
  }
  const local = await localCopy(host, file, '.h5', zip.weights);
  try {
    const where = `${file.where} (model.weights.h5)`;
    const tree = await readH5Tree(host, local.path, { where });
    return { ...h5Contents(host, local.path, where, tree, record, modelJson), close: local.cleanup };
  } catch (e) {
    await local.cleanup();
    throw e;
  }
}

/** The codec of `.keras` files on the platform of `host`. */
export function kerasCodec(host: Hdf5Host): FileCodec {
  return {
    write: (staged, contents, base) => write(host, staged, contents, base),
    readMetadata: async (file) => (await readRecord(file)).record.metadata,
    // The zip's central directory is written last: readable means complete.
    probe: async (file) => ((await zipOf(file).then(() => true, () => false)) ? 'model' : undefined),
    open: (file) => open(host, file),
  };
}
