/**
 * safetensors, read side (the Hugging Face format): an 8-byte little-endian header length, a JSON
 * header `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}}`, then
 * the raw little-endian data, offsets relative to its start. Checked as strictly as the Python
 * library checks it: the header's size, every tensor's byte count against its dtype and shape, and
 * that the tensors tile the data exactly, without gaps or overlaps.
 *
 * float32 and int32 are read as they are; float16 and bfloat16 are widened to float32 (TF.js weights
 * are float32), which is exact.
 */
import { CorruptCheckpointError, WeightMismatchError } from '../errors.js';
import type { StoredFile } from '../stores/store.js';
import { elementCount, type StoredDtype, type WeightSpec } from './weight_entry.js';

/** The Python library refuses headers over 100 MB. */
const MAX_HEADER_BYTES = 100_000_000;

const FILE_DTYPES = { F32: 4, I32: 4, F16: 2, BF16: 2, BOOL: 1 } as const;
type FileDtype = keyof typeof FILE_DTYPES;
const OTHER_DTYPES = new Set(['F64', 'I64', 'I16', 'I8', 'U8', 'U16', 'U32', 'U64', 'F8_E4M3', 'F8_E5M2', 'C64']);

export interface SafetensorsTensor {
  name: string;
  shape: number[];
  fileDtype: FileDtype;
  /** Where its bytes are, from the start of the file. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  /** In data order. */
  tensors: SafetensorsTensor[];
  metadata: Record<string, string>;
  /** Where the data starts in the file. */
  dataStart: number;
}

function corrupt(where: string, problem: string): CorruptCheckpointError {
  return new CorruptCheckpointError(`${where} is not a valid safetensors file: ${problem}.`);
}

/** The TF.js dtype a stored dtype loads as. */
export function loadedDtype(fileDtype: FileDtype): StoredDtype {
  return fileDtype === 'I32' ? 'int32' : fileDtype === 'BOOL' ? 'bool' : 'float32';
}

/** Reads and checks the header of the safetensors file `file`. */
export async function readSafetensorsHeader(file: StoredFile, where: string): Promise<SafetensorsHeader> {
  if (file.size < 8) throw corrupt(where, `it is ${file.size} bytes, shorter than the 8-byte header length`);
  const lengthBytes = new Uint8Array(8);
  await file.read(lengthBytes, 0, 8, 0);
  const length = Number(new DataView(lengthBytes.buffer).getBigUint64(0, true));
  if (length > MAX_HEADER_BYTES || 8 + length > file.size) throw corrupt(where, `its header length (${length} bytes) does not fit the file`);
  const headerBytes = new Uint8Array(length);
  await file.read(headerBytes, 0, length, 8);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch {
    throw corrupt(where, 'its header is not UTF-8 JSON');
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw corrupt(where, 'its header is not a JSON object');
  const dataStart = 8 + length;
  const tensors: SafetensorsTensor[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (value === null || typeof value !== 'object' || Object.values(value).some((v) => typeof v !== 'string')) throw corrupt(where, '__metadata__ must map strings to strings');
      metadata = value as Record<string, string>;
      continue;
    }
    const entry = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const shape = entry?.shape;
    const offsets = entry?.data_offsets;
    if (typeof entry?.dtype !== 'string' || !Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw corrupt(where, `tensor "${name}" needs a dtype and a shape of non-negative integers`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) || offsets[0] > offsets[1]) {
      throw corrupt(where, `tensor "${name}" needs data_offsets [begin, end]`);
    }
    if (!(entry.dtype in FILE_DTYPES)) {
      const known = OTHER_DTYPES.has(entry.dtype);
      throw new WeightMismatchError(
        `${where}: tensor "${name}" is ${entry.dtype}${known ? '' : ' (not a safetensors dtype)'}; TF.js weights load from F32, I32, BOOL, F16 and BF16 only. Convert the file to float32.`,
      );
    }
    const fileDtype = entry.dtype as FileDtype;
    const bytes = elementCount(shape as number[]) * FILE_DTYPES[fileDtype];
    if (offsets[1] - offsets[0] !== bytes) throw corrupt(where, `tensor "${name}" (${fileDtype}[${shape.join(', ')}]) needs ${bytes} bytes, its offsets give ${offsets[1] - offsets[0]}`);
    tensors.push({ name, shape: shape as number[], fileDtype, begin: dataStart + offsets[0], end: dataStart + offsets[1] });
  }
  tensors.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = dataStart;
  for (const t of tensors) {
    if (t.begin !== at) throw corrupt(where, `the tensors do not tile the data (a ${t.begin < at ? 'overlap' : 'gap'} before "${t.name}")`);
    at = t.end;
  }
  if (at !== file.size) throw corrupt(where, `the data is ${file.size - dataStart} bytes, the tensors cover ${at - dataStart}`);
  return { tensors, metadata, dataStart };
}

/** The tensors as weight specs (dtypes as they load), in data order. */
export function safetensorsSpecs(header: SafetensorsHeader): WeightSpec[] {
  return header.tensors.map((t) => ({ name: t.name, shape: t.shape, dtype: loadedDtype(t.fileDtype) }));
}

/** float16 bits → float32 value. */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** Reads one tensor's values as the little-endian bytes of its loaded dtype (float16/bfloat16 widened to float32). */
export async function readSafetensorsTensor(file: StoredFile, tensor: SafetensorsTensor): Promise<Uint8Array> {
  const raw = new Uint8Array(tensor.end - tensor.begin);
  if (raw.byteLength > 0) await file.read(raw, 0, raw.byteLength, tensor.begin);
  if (tensor.fileDtype === 'F32' || tensor.fileDtype === 'I32' || tensor.fileDtype === 'BOOL') return raw;
  const count = raw.byteLength / 2;
  const halves = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out = new Float32Array(count);
  if (tensor.fileDtype === 'BF16') {
    // bfloat16 is the top half of a float32.
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < count; i++) bits[i] = halves.getUint16(i * 2, true) << 16;
  } else {
    for (let i = 0; i < count; i++) out[i] = halfToFloat(halves.getUint16(i * 2, true));
  }
  return new Uint8Array(out.buffer);
}

/** What the writer needs of each tensor. */
export interface SafetensorsEntry {
  key: string;
  dtype: StoredDtype;
  shape: readonly number[];
  byteLength: number;
}

const WRITE_DTYPES: Record<StoredDtype, string> = { float32: 'F32', int32: 'I32', bool: 'BOOL' };

/**
 * The header of a safetensors file holding `entries` in that order: the 8-byte length, then the JSON
 * padded with spaces so that the data starts 8-byte aligned, as the Python writer does.
 */
export function encodeSafetensorsHeader(entries: readonly SafetensorsEntry[], metadata: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const e of entries) {
    header[e.key] = { dtype: WRITE_DTYPES[e.dtype], shape: e.shape, data_offsets: [offset, offset + e.byteLength] };
    offset += e.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.byteLength / 8) * 8;
  const out = new Uint8Array(8 + padded).fill(0x20);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  return out;
}
