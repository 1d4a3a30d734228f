/**
 * The safetensors codec. Written: the header (dtypes, shapes, offsets, 8-byte aligned as the Python
 * writer aligns it), then each weight's raw little-endian bytes in the model's order; the keys are
 * TF.js weight names (optimizer state under `optimizer/…`), and `__metadata__` holds our metadata
 * (`tfjs_checkpoint`, with each weight's CRC-32, computed before the header is written) and, for full
 * models, the TF.js model JSON (`tfjs_model`), so `loadModel` rebuilds the model from the file alone.
 * Read: any valid safetensors file; ours in model order with checksums, others by name only.
 */
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { CorruptCheckpointError } from '../errors.js';
import { crc32 } from '../formats/crc32.js';
import { encodeSafetensorsHeader, readSafetensorsHeader, readSafetensorsTensor, safetensorsSpecs, type SafetensorsHeader } from '../formats/safetensors.js';
import { metadataSchema, modelJsonSchema, type CheckpointMetadata } from '../formats/schema.js';
import type { WeightSpec } from '../formats/weight_entry.js';
import type { OpenedFile, StagedFile } from '../stores/store.js';
import type { FileCodec, FileContents } from './file_codec.js';
import { planWeightAssignment } from './model_io.js';
import type { StoredWeight } from './read.js';
import type { CheckpointContents } from './write.js';

const METADATA_KEY = 'tfjs_checkpoint';
const MODEL_KEY = 'tfjs_model';

/** Unique keys: model weights by name, optimizer state under `optimizer/` (a clash gets a `#n` suffix). */
function keysFor(contents: CheckpointContents): string[] {
  const taken = new Set<string>();
  return contents.entries.map((entry) => {
    const base = entry.group === 'optimizer' ? `optimizer/${entry.name}` : entry.name;
    let key = base;
    for (let n = 1; taken.has(key); n++) key = `${base}#${n}`;
    taken.add(key);
    return key;
  });
}

async function write(staged: StagedFile, contents: CheckpointContents, base: CheckpointMetadata): Promise<CheckpointMetadata> {
  const keys = keysFor(contents);
  const weights: NonNullable<CheckpointMetadata['weights']> = [];
  for (const [i, entry] of contents.entries.entries()) {
    weights.push({ name: entry.name, key: keys[i]!, ...(entry.group ? { group: entry.group } : {}), crc32: crc32(await entry.read()) });
  }
  const metadata: CheckpointMetadata = { ...base, container: 'safetensors', weights };
  const header = encodeSafetensorsHeader(
    contents.entries.map((e, i) => ({ key: keys[i]!, dtype: e.dtype, shape: e.shape, byteLength: e.byteLength })),
    { [METADATA_KEY]: JSON.stringify(metadata), ...(contents.modelJson ? { [MODEL_KEY]: JSON.stringify(contents.modelJson) } : {}) },
  );
  async function* chunks() {
    yield header;
    for (const entry of contents.entries) {
      const bytes = await entry.read();
      if (bytes.byteLength !== entry.byteLength) throw new Error(`Weight '${entry.name}' produced ${bytes.byteLength} bytes, expected ${entry.byteLength}`);
      yield bytes;
    }
  }
  await staged.write(chunks());
  return metadata;
}

function ourMetadata(header: SafetensorsHeader): CheckpointMetadata | undefined {
  const raw = header.metadata[METADATA_KEY];
  if (raw === undefined) return undefined;
  try {
    const parsed = metadataSchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

async function open(file: OpenedFile): Promise<FileContents> {
  const header = await readSafetensorsHeader(file, file.where);
  const metadata = ourMetadata(header);
  const byKey = new Map(header.tensors.map((t) => [t.name, t]));
  // Ours: the model's order and names, each weight's checksum. Any mismatch with the header means the file is not what its metadata says.
  const recorded = metadata?.weights;
  if (metadata && (!recorded || recorded.length !== header.tensors.length || recorded.some((w) => !byKey.has(w.key)))) {
    throw new CorruptCheckpointError(`${file.where}: its recorded weights do not match its tensors; the file was altered after it was written.`);
  }
  const tensors = recorded ? recorded.map((w) => byKey.get(w.key)!) : header.tensors;
  const specs: WeightSpec[] = recorded
    ? safetensorsSpecs({ ...header, tensors }).map((s, i) => ({ ...s, name: recorded[i]!.name, ...(recorded[i]!.group ? { group: recorded[i]!.group } : {}) }))
    : safetensorsSpecs(header);
  let modelJson: FileContents['modelJson'];
  if (header.metadata[MODEL_KEY] !== undefined) {
    try {
      const { weightsManifest: _none, ...rest } = modelJsonSchema.parse({ weightsManifest: [], ...JSON.parse(header.metadata[MODEL_KEY]!) });
      modelJson = rest;
    } catch {
      throw new CorruptCheckpointError(`${file.where}: its ${MODEL_KEY} metadata is not a valid TF.js model JSON.`);
    }
  }
  const readOne = async (index: number, reading = readSafetensorsTensor(file, tensors[index]!)): Promise<StoredWeight> => {
    const bytes = await reading;
    const expected = recorded?.[index]?.crc32;
    if (expected !== undefined && crc32(bytes) !== expected) {
      throw new CorruptCheckpointError(`${file.where}: weight '${specs[index]!.name}' fails its checksum: the file was damaged after it was written. Load another checkpoint.`);
    }
    return { spec: specs[index]!, bytes };
  };
  return {
    kind: metadata?.kind ?? (modelJson ? 'model' : 'weights'),
    ...(metadata ? { metadata } : {}),
    ...(modelJson ? { modelJson } : {}),
    specs,
    bytes: tensors.reduce((n, t) => n + t.end - t.begin, 0),
    // Our files are in the model's order, so two instances with other auto-generated names still match;
    // others' data order is not the model's (the Python writer sorts), so only names can pair them.
    plan: (model: LayersModel, strict: boolean) => planWeightAssignment(model, specs, strict, file.where, recorded !== undefined),
    async read(indices) {
      // The next tensor is read (on the thread pool) while this one is checksummed.
      const order = [...indices].sort((a, b) => a - b);
      const out = new Map<number, StoredWeight>();
      let next = order.length > 0 ? readSafetensorsTensor(file, tensors[order[0]!]!) : undefined;
      for (let k = 0; k < order.length; k++) {
        const reading = next!;
        next = k + 1 < order.length ? readSafetensorsTensor(file, tensors[order[k + 1]!]!) : undefined;
        next?.catch(() => undefined); // (a failure is reported when it is awaited)
        out.set(order[k]!, await readOne(order[k]!, reading));
      }
      return out;
    },
    async verify() {
      for (let i = 0; i < tensors.length; i++) await readOne(i);
      return recorded ? 'verified' : 'absent';
    },
  };
}

export const safetensorsCodec: FileCodec = {
  write,
  readMetadata: async (file) => ourMetadata(await readSafetensorsHeader(file, file.where)),
  // The header check covers the whole file: the tensors must tile the data up to its last byte.
  probe: async (file) => {
    const header = await readSafetensorsHeader(file, file.where).catch(() => undefined);
    return header && (header.metadata[MODEL_KEY] !== undefined ? 'model' : 'weights');
  },
  open,
};
