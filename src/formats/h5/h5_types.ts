/**
 * Plain descriptions of HDF5 content shared by the layout (pure) and the file I/O (h5wasm) modules,
 * so the layout code can be tested and used without loading WASM.
 */

/** Element types of stored datasets, as far as weights are concerned. */
export type H5Dtype = 'float32' | 'int32' | 'float16' | 'bfloat16' | 'float64' | 'int64' | 'other';

/** An attribute to write. */
export type H5AttributeValue =
  /** A scalar variable-length UTF-8 string (h5py reads a `str`): `backend`, `model_config` JSON, Keras 3 `name`. */
  | { type: 'string'; value: string }
  /**
   * An array of fixed-length byte strings, as tf.keras 2 wrote `layer_names` / `weight_names` with numpy
   * (h5py reads an `|S<n>` array). An empty list is an empty float64 array, as numpy made of `[]`.
   */
  | { type: 'strings'; value: string[] };

export interface H5AttributeWrite {
  /** The group it belongs to, '' for the root. */
  group: string;
  name: string;
  value: H5AttributeValue;
}

/** An attribute as read: strings, string arrays, numbers (JSON-compatible), or null when empty/unreadable. */
export type H5AttributeRead = string | number | boolean | null | H5AttributeRead[];

export interface H5GroupNode {
  kind: 'group';
  path: string;
  attributes: Record<string, H5AttributeRead>;
}

export interface H5DatasetNode {
  kind: 'dataset';
  path: string;
  shape: number[];
  dtype: H5Dtype;
  /** What h5wasm reports for types we do not load, for error messages. */
  dtypeDescription: string;
  attributes: Record<string, H5AttributeRead>;
}

/** Every group and dataset of a file by path (no leading slash; the root group is ''). */
export interface H5Tree {
  nodes: Map<string, H5GroupNode | H5DatasetNode>;
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
