/**
 * HDF5 files at a path of the platform's HDF5 host (a real file in Node, an in-memory one in the
 * browser: see hdf5_host.ts), through h5wasm: writing a planned tree (groups, attributes, datasets)
 * and reading a file's tree and datasets.
 *
 * Memory: h5wasm's WASM heap is capped at 2 GiB and never shrinks, so no tensor crosses it whole.
 * Large datasets are chunked and written, or read, in boxes of at most `sliceBytes` (16 MiB): the
 * heap holds one box at a time, beyond the caller's own bytes.
 */
import { CheckpointError, CorruptCheckpointError, WeightMismatchError } from '../errors.js';
import { elementCount, type H5AttributeRead, type H5AttributeWrite, type H5DatasetNode, type H5Dtype, type H5GroupNode, type H5Tree } from '../formats/h5/h5_types.js';
import type { Hdf5Host } from './hdf5_host.js';
import { hdf5Reason, type H5Module, type H5Wasm } from './h5wasm_module.js';

export interface H5DatasetWrite {
  path: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  /** The tensor's little-endian bytes; called once, when the dataset is written. */
  read(): Promise<Uint8Array>;
}

export interface H5WritePlan {
  /** Parents before children; '' (the root) need not be listed. */
  groups: string[];
  attributes: H5AttributeWrite[];
  datasets: H5DatasetWrite[];
}

export interface H5IoOptions {
  /** The largest block moved through the WASM heap at once. */
  sliceBytes?: number;
  /** The file as messages name it (a scratch copy's path means nothing to the user); default: the path. */
  where?: string;
}

/** 16 MiB: a box holds the main thread for a few milliseconds (copy into the heap, write to the page cache). */
const DEFAULT_SLICE_BYTES = 16 * 1024 * 1024;
/** Chunk size of large datasets: big enough for few chunk-index entries, small for HDF5's 1 MiB chunk cache. */
const CHUNK_BYTES = 1024 * 1024;

type H5File = InstanceType<H5Wasm['File']>;
type H5Dataset = InstanceType<H5Wasm['Dataset']>;

/** Boxes of a C-order array of `shape` covering it in order, each contiguous in memory and at most `maxBytes` (or one innermost row). */
function* boxes(shape: number[], itemSize: number, maxBytes: number, rowMultiple = 1): Generator<{ start: number[]; count: number[]; flatStart: number; flatCount: number }> {
  const rank = shape.length;
  const inner: number[] = new Array(rank);
  let product = 1;
  for (let axis = rank - 1; axis >= 0; axis--) {
    inner[axis] = product;
    product *= shape[axis]!;
  }
  // The outermost axis whose sub-arrays fit: boxes span a range of it, all of the axes after it.
  let axis = 0;
  while (axis < rank - 1 && inner[axis]! * itemSize > maxBytes) axis++;
  let rows = Math.max(1, Math.floor(maxBytes / (inner[axis]! * itemSize)));
  if (rows >= rowMultiple) rows -= rows % rowMultiple;
  const outer = shape.slice(0, axis);
  const index = new Array<number>(axis).fill(0);
  const outerCount = elementCount(outer);
  for (let o = 0; o < outerCount; o++) {
    for (let a = 0; a < shape[axis]!; a += rows) {
      const n = Math.min(rows, shape[axis]! - a);
      const start = [...index, a, ...new Array<number>(rank - axis - 1).fill(0)];
      const count = [...new Array<number>(axis).fill(1), n, ...shape.slice(axis + 1)];
      const flatStart = index.reduce((sum, i, k) => sum + i * inner[k]!, 0) + a * inner[axis]!;
      yield { start, count, flatStart, flatCount: n * inner[axis]! };
    }
    for (let k = axis - 1; k >= 0; k--) {
      if (++index[k]! < shape[k]!) break;
      index[k] = 0;
    }
  }
}

/** Chunk dims of about CHUNK_BYTES: whole inner rows, a run of the first axis that does not fit whole. */
function chunkShape(shape: number[], itemSize: number): number[] {
  const chunks = shape.map(() => 1);
  let inner = itemSize;
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    const dim = Math.max(1, shape[axis]!);
    if (inner * dim <= CHUNK_BYTES) {
      chunks[axis] = dim;
      inner *= dim;
    } else {
      chunks[axis] = Math.max(1, Math.floor(CHUNK_BYTES / inner));
      break;
    }
  }
  return chunks;
}

function typedView(bytes: Uint8Array, dtype: 'float32' | 'int32', start: number, count: number): Float32Array | Int32Array {
  const Type = dtype === 'int32' ? Int32Array : Float32Array;
  const offset = bytes.byteOffset + start * 4;
  if (offset % 4 === 0) return new Type(bytes.buffer as ArrayBuffer, offset, count);
  // An unaligned source: copy this box only.
  return new Type(bytes.slice(start * 4, (start + count) * 4).buffer);
}

function ioError(host: Hdf5Host, action: string, path: string, error: unknown): CheckpointError {
  if (error instanceof CheckpointError) return error;
  return new CheckpointError('IO_ERROR', `Could not ${action} HDF5 file ${path}: ${hdf5Reason(error)}. ${host.writeAdvice}`, { cause: error });
}

function writeAttribute(file: H5File, attr: H5AttributeWrite): void {
  const target = attr.group ? file.get(attr.group) : file;
  if (!target || !('create_attribute' in target)) throw new CheckpointError('INVALID_ARGUMENT', `Attribute "${attr.name}" is planned on "/${attr.group}", which is not a group of the plan.`);
  const { value } = attr;
  if (value.type === 'string') {
    // A JS string becomes a scalar variable-length UTF-8 string: h5py reads `str`.
    target.create_attribute(attr.name, value.value);
  } else if (value.value.length === 0) {
    target.create_attribute(attr.name, new Float64Array(0), [0]);
  } else {
    const width = Math.max(1, ...value.value.map((s) => new TextEncoder().encode(s).length));
    // 'A<n>': fixed-length, null-terminated byte strings, read by h5py as numpy `|S<n>` like tf.keras 2's.
    target.create_attribute(attr.name, value.value, [value.value.length], `A${width}`);
  }
}

async function writeDataset(host: Hdf5Host, file: H5File, d: H5DatasetWrite, sliceBytes: number): Promise<void> {
  const count = elementCount(d.shape);
  const bytes = await d.read();
  if (bytes.byteLength !== count * 4) {
    throw new CheckpointError('INVALID_ARGUMENT', `Dataset "/${d.path}" of shape [${d.shape}] needs ${count * 4} bytes of ${d.dtype}, got ${bytes.byteLength}.`);
  }
  const slash = d.path.lastIndexOf('/');
  const parent = slash < 0 ? file : file.get(d.path.slice(0, slash));
  const name = d.path.slice(slash + 1);
  if (!parent || !('create_dataset' in parent)) throw new CheckpointError('INVALID_ARGUMENT', `Dataset "/${d.path}" is planned in a group the plan does not create.`);
  const dtype = d.dtype === 'int32' ? '<i' : '<f';
  if (bytes.byteLength <= sliceBytes || count === 0) {
    // Small: one contiguous dataset, as h5py writes them.
    parent.create_dataset({ name, data: typedView(bytes, d.dtype, 0, count), shape: d.shape, dtype });
    return;
  }
  // Large: chunked, created empty (first axis 0), grown to size, filled box by box.
  const chunks = chunkShape(d.shape, 4);
  const dataset = parent.create_dataset({
    name,
    data: d.dtype === 'int32' ? new Int32Array(0) : new Float32Array(0),
    shape: [0, ...d.shape.slice(1)],
    maxshape: d.shape,
    chunks,
    dtype,
  }) as H5Dataset;
  dataset.resize(d.shape);
  const chunkAxis = chunks.findIndex((c, i) => c !== d.shape[i]);
  for (const box of boxes(d.shape, 4, sliceBytes, chunkAxis >= 0 ? chunks[chunkAxis]! : 1)) {
    const ranges = box.start.map((s, i) => [s, s + box.count[i]!] as [number, number]);
    dataset.write_slice(ranges, typedView(bytes, d.dtype, box.flatStart, box.flatCount));
    // Each box is a synchronous WASM call (and file write): let training run between them.
    await host.pause();
  }
}

/**
 * Writes `plan` as a new HDF5 file at `path` (replacing any file there). On failure the partial file
 * is removed and the error is a CheckpointError.
 */
export async function writeH5(host: Hdf5Host, path: string, plan: H5WritePlan, options: H5IoOptions = {}): Promise<void> {
  const { h5 } = await host.h5wasm();
  const absolute = host.absolute(path);
  const sliceBytes = options.sliceBytes ?? DEFAULT_SLICE_BYTES;
  let file: H5File | undefined;
  try {
    file = new h5.File(absolute, 'w');
    for (const g of plan.groups) if (g) file.create_group(g);
    for (const attr of plan.attributes) writeAttribute(file, attr);
    for (const d of plan.datasets) await writeDataset(host, file, d, sliceBytes);
    file.flush();
  } catch (error) {
    try {
      file?.close();
    } catch {
      // The write failed already; closing is best effort.
    }
    file = undefined;
    await host.remove(absolute).catch(() => {});
    throw ioError(host, 'write', path, error);
  } finally {
    file?.close();
  }
}

function corrupt(path: string, error: unknown): CorruptCheckpointError {
  if (error instanceof CorruptCheckpointError) return error;
  return new CorruptCheckpointError(`${path} could not be read as HDF5: ${hdf5Reason(error)}. The file is damaged, truncated or not an HDF5 file; use an intact copy.`, { cause: error });
}

async function openForReading(host: Hdf5Host, path: string, where: string): Promise<{ file: H5File; module: H5Module; h5: H5Wasm }> {
  const { h5, module } = await host.h5wasm();
  const absolute = host.absolute(path);
  let file: H5File;
  try {
    file = new h5.File(absolute, 'r');
  } catch (error) {
    const reason = hdf5Reason(error);
    if (/No such file or directory/.test((error as Error)?.message ?? '')) throw new CheckpointError('NOT_FOUND', `No HDF5 file at ${where}.`, { cause: error });
    throw new CorruptCheckpointError(`${where} is not a readable HDF5 file (${reason}). Check the path points to an intact .h5 file.`, { cause: error });
  }
  if (file.file_id < 0n) throw new CorruptCheckpointError(`${where} is not a readable HDF5 file. Check the path points to an intact .h5 file.`);
  return { file, module, h5 };
}

const H5T_INTEGER = 0;
const H5T_FLOAT = 1;
const H5T_STRING = 3;
const H5T_OPAQUE = 5;

interface RawMetadata {
  type: number;
  size: number;
  signed: boolean;
  shape: number[] | null;
}

function dtypeOf(meta: RawMetadata, attributes: Record<string, H5AttributeRead>): { dtype: H5Dtype; description: string } {
  const description = `${['integer', 'float', 'time', 'string', 'bitfield', 'opaque', 'compound', 'reference', 'enum', 'vlen', 'array'][meta.type] ?? `class ${meta.type}`} of ${meta.size} bytes`;
  if (meta.type === H5T_FLOAT && meta.size === 4) return { dtype: 'float32', description };
  if (meta.type === H5T_FLOAT && meta.size === 2) return { dtype: 'float16', description };
  if (meta.type === H5T_FLOAT && meta.size === 8) return { dtype: 'float64', description };
  if (meta.type === H5T_INTEGER && meta.size === 4 && meta.signed) return { dtype: 'int32', description };
  if (meta.type === H5T_INTEGER && meta.size === 8 && meta.signed) return { dtype: 'int64', description };
  // Keras 3 stores bfloat16 as 2-byte opaque data with attribute dtype="bfloat16" (h5py has no bfloat16).
  if (meta.type === H5T_OPAQUE && meta.size === 2 && attributes['dtype'] === 'bfloat16') return { dtype: 'bfloat16', description };
  return { dtype: 'other', description };
}

function readAttributes(h5: H5Wasm, module: H5Module, file: H5File, path: string): Record<string, H5AttributeRead> {
  const out: Record<string, H5AttributeRead> = {};
  const names = module.get_attribute_names(file.file_id, path || '/') as string[];
  for (const name of names) {
    const attribute = new h5.Attribute(file.file_id, path || '/', name);
    const meta = attribute.metadata;
    if (meta.type === H5T_STRING) {
      const value = attribute.value;
      out[name] = Array.isArray(value) ? (value as string[]) : (value as string | null);
    } else if (meta.type === H5T_INTEGER || meta.type === H5T_FLOAT) {
      if (meta.type === H5T_FLOAT && meta.size === 2) {
        out[name] = null;
        continue;
      }
      const value = attribute.json_value;
      out[name] = meta.shape && meta.shape.length > 0 && !Array.isArray(value) ? [value as H5AttributeRead] : (value as H5AttributeRead);
    } else {
      out[name] = null;
    }
  }
  return out;
}

/** Every group and dataset of the HDF5 file at `path`: attributes, dataset shapes and dtypes. */
export async function readH5Tree(host: Hdf5Host, path: string, options: H5IoOptions = {}): Promise<H5Tree> {
  const where = options.where ?? path;
  const { file, module, h5 } = await openForReading(host, path, where);
  try {
    const nodes: H5Tree['nodes'] = new Map();
    nodes.set('', { kind: 'group', path: '', attributes: readAttributes(h5, module, file, '') });
    for (const p of file.paths() as string[]) {
      const rel = p.replace(/^\/+/, '');
      const type = module.get_type(file.file_id, `/${rel}`);
      const attributes = readAttributes(h5, module, file, `/${rel}`);
      if (type === module.H5G_GROUP) {
        nodes.set(rel, { kind: 'group', path: rel, attributes } satisfies H5GroupNode);
      } else if (type === module.H5G_DATASET) {
        const meta = module.get_dataset_metadata(file.file_id, `/${rel}`) as RawMetadata;
        const { dtype, description } = dtypeOf(meta, attributes);
        nodes.set(rel, { kind: 'dataset', path: rel, shape: meta.shape ?? [], dtype, dtypeDescription: description, attributes } satisfies H5DatasetNode);
      }
    }
    return { nodes };
  } catch (error) {
    throw corrupt(where, error);
  } finally {
    file.close();
  }
}

/** float16 bits → float32 bits; exact (every float16 is a float32). */
function halfToSingleBits(h: number): number {
  const sign = (h & 0x8000) << 16;
  let exponent = (h >> 10) & 0x1f;
  let fraction = h & 0x3ff;
  if (exponent === 0x1f) return (sign | 0x7f800000 | (fraction << 13)) >>> 0;
  if (exponent === 0) {
    if (fraction === 0) return sign >>> 0;
    // Subnormal: normalise it.
    exponent = 1;
    while ((fraction & 0x400) === 0) {
      fraction <<= 1;
      exponent--;
    }
    fraction &= 0x3ff;
  }
  return (sign | ((exponent + 112) << 23) | (fraction << 13)) >>> 0;
}

export interface DatasetRead {
  datasetPath: string;
  /**
   * Filled with little-endian float32 values (float32, float16 and bfloat16 datasets) or int32 values
   * (int32 datasets); its length must be 4 bytes per element.
   */
  dest: Uint8Array;
}

function readOne(h5: H5Wasm, module: H5Module, file: H5File, path: string, read: DatasetRead, sliceBytes: number): void {
  const dsPath = `/${read.datasetPath.replace(/^\/+/, '')}`;
  if (module.get_type(file.file_id, dsPath) !== module.H5G_DATASET) throw new CorruptCheckpointError(`${path} has no dataset "${dsPath}".`);
  const meta = module.get_dataset_metadata(file.file_id, dsPath) as RawMetadata;
  const { dtype, description } = dtypeOf(meta, readAttributes(h5, module, file, dsPath));
  if (!['float32', 'int32', 'float16', 'bfloat16'].includes(dtype)) {
    throw new WeightMismatchError(`Dataset "${dsPath}" of ${path} is ${dtype === 'other' ? description : dtype}; float32, int32, float16 and bfloat16 load. Convert the weights to float32 before loading.`);
  }
  const shape = meta.shape ?? [];
  const count = elementCount(shape);
  if (read.dest.byteLength !== count * 4) {
    throw new CheckpointError('INVALID_ARGUMENT', `Dataset "${dsPath}" of ${path} has ${count} elements (${count * 4} bytes as 32-bit values); the destination has ${read.dest.byteLength} bytes.`);
  }
  if (count === 0) return;
  const itemSize = meta.size;
  const out = new DataView(read.dest.buffer, read.dest.byteOffset, read.dest.byteLength);
  const maxBytes = Math.min(sliceBytes, count * itemSize);
  const ptr = module._malloc(maxBytes);
  if (!ptr) throw new CheckpointError('TOO_LARGE', `Could not allocate ${maxBytes} bytes in the HDF5 module's memory to read ${dsPath}.`);
  try {
    const regions = shape.length === 0 ? [{ start: [], count: [], flatStart: 0, flatCount: 1 }] : boxes(shape, itemSize, sliceBytes);
    for (const box of regions) {
      const status = shape.length === 0
        ? module.get_dataset_data(file.file_id, dsPath, null, null, null, BigInt(ptr))
        : module.get_dataset_data(file.file_id, dsPath, box.count.map(BigInt), box.start.map(BigInt), box.count.map(() => 1n), BigInt(ptr));
      if (status < 0) throw new CorruptCheckpointError(`${path}: reading dataset "${dsPath}" failed. The file is damaged; use an intact copy.`);
      // The heap may have grown (and its buffer moved) during the call: take the view afterwards.
      const heap = module.HEAPU8;
      const n = box.flatCount;
      if (dtype === 'float32' || dtype === 'int32') {
        read.dest.set(heap.subarray(ptr, ptr + n * 4), box.flatStart * 4);
      } else {
        const src = new DataView(heap.buffer, ptr, n * 2);
        const base = box.flatStart * 4;
        if (dtype === 'bfloat16') {
          // bfloat16 is the top half of a float32.
          for (let i = 0; i < n; i++) out.setUint32(base + i * 4, src.getUint16(i * 2, true) << 16 >>> 0, true);
        } else {
          for (let i = 0; i < n; i++) out.setUint32(base + i * 4, halfToSingleBits(src.getUint16(i * 2, true)), true);
        }
      }
    }
  } finally {
    module._free(ptr);
  }
}

/** Reads datasets of the HDF5 file at `path` into their destinations (see `DatasetRead`), opening the file once. */
export async function readDatasets(host: Hdf5Host, path: string, reads: DatasetRead[], options: H5IoOptions = {}): Promise<void> {
  const where = options.where ?? path;
  const { file, module, h5 } = await openForReading(host, path, where);
  try {
    for (const read of reads) readOne(h5, module, file, where, read, options.sliceBytes ?? DEFAULT_SLICE_BYTES);
  } catch (error) {
    if (error instanceof CheckpointError) throw error;
    throw corrupt(where, error);
  } finally {
    file.close();
  }
}
