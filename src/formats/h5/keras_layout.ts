/**
 * Where Keras keeps each weight in its two HDF5 layouts, and how a TF.js model's weights pair with a
 * file's. Pure: no I/O, no WASM; `h5_file.ts` does the reading and writing.
 *
 * Legacy layout (tf.keras 2 `save_weights('x.h5')`; the `model_weights` group of a full-model `.h5`):
 *   root attrs `layer_names` (every layer of `model.layers`), `backend`, `keras_version`;
 *   group `<layer>` with attr `weight_names` (paths relative to the group), datasets at them:
 *   `dense/kernel:0`, `lstm/lstm_cell/kernel:0` (tf.keras 2), `dense/kernel` (Keras 3's own legacy .h5).
 *
 * Keras 3 layout (`model.save_weights('x.weights.h5')`, also `model.weights.h5` inside `.keras`):
 *   `vars` (attr `name` = model name); `layers/<snake_case(class)>[_<n>]/vars` with attr `name` = the
 *   layer's name and datasets `0`, `1`, … (trainable then non-trainable variables); an RNN's weights
 *   are in its cell: `layers/lstm/cell/vars/<i>` (cell `name` `lstm_cell`). Groups are addressed by
 *   class and occurrence, never by layer name (Keras: names are auto-generated, so not reproducible).
 *   Sequential models do not list their InputLayer; functional models do (`layers/input_layer`).
 *   This layout has no Keras `optimizer` group: Keras builds a fresh optimizer (and warns that the file
 *   holds no optimizer variables). Full-model files carry TF.js's optimizer state in a group of our
 *   own that Keras does not read (see node/codec_h5.ts), so TF.js resumes from them exactly.
 */
import { CheckpointError, WeightMismatchError } from '../../errors.js';
import type { H5AttributeWrite, H5DatasetNode, H5Dtype, H5GroupNode, H5Tree } from './h5_types.js';

export interface LayerWeight {
  /** The TF.js name, e.g. `dense/kernel`, `lstm/recurrent_kernel`. */
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
}

/** One layer of a TF.js model, in `model.layers` order; layers without weights are listed too. */
export interface LayerDescription {
  name: string;
  /** The TF.js class name (`Dense`, `BatchNormalization`, `LSTM`, …), the same as Keras's for built-in layers. */
  className: string;
  weights: LayerWeight[];
}

/** What to write: groups (parents before children), attributes, and one dataset per weight. */
export interface KerasH5Layout {
  groups: string[];
  attributes: H5AttributeWrite[];
  datasets: { path: string; shape: number[]; dtype: 'float32' | 'int32'; layer: string; weight: string }[];
}

const RNN_CELLS: Record<string, string> = { LSTM: 'lstm_cell', GRU: 'gru_cell', SimpleRNN: 'simple_rnn_cell' };
/** Layers whose variables Keras 3 keeps in sub-objects we do not lay out (yet). */
const NESTED = new Set(['Bidirectional', 'TimeDistributed', 'Sequential', 'Model', 'Functional']);

/** Keras's `naming.to_snake_case`: `BatchNormalization` → `batch_normalization`, `Conv2D` → `conv2d`, `LSTM` → `lstm`. */
export function toSnakeCase(name: string): string {
  return name
    .replace(/\W+/g, '')
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

/** The part of a TF.js weight name after its layer's name: `dense/kernel` → `kernel`. */
function weightBase(layer: LayerDescription, weight: LayerWeight): string {
  const prefix = `${layer.name}/`;
  return weight.name.startsWith(prefix) ? weight.name.slice(prefix.length) : weight.name.split('/').at(-1)!;
}

function checkLayerNames(layers: LayerDescription[]): void {
  const seen = new Set<string>();
  for (const layer of layers) {
    if (!layer.name || layer.name.includes('/') || layer.name === '.' || layer.name === '..') {
      throw new CheckpointError('INVALID_ARGUMENT', `Layer name "${layer.name}" cannot be an HDF5 group name. Give the layer a name without "/".`);
    }
    if (seen.has(layer.name)) throw new CheckpointError('INVALID_ARGUMENT', `Two layers are named "${layer.name}"; Keras HDF5 files need unique layer names. Rename one of them.`);
    seen.add(layer.name);
  }
}

/** Parent groups of `path` that are not yet in `groups`, then `path` itself. */
function addGroup(groups: string[], known: Set<string>, path: string): void {
  const parts = path.split('/');
  for (let i = 1; i <= parts.length; i++) {
    const p = parts.slice(0, i).join('/');
    if (!known.has(p)) {
      known.add(p);
      groups.push(p);
    }
  }
}

/** tf.keras 2 split attributes over 64512 bytes into `name0`, `name1`, … (the object header limit). */
const HDF5_OBJECT_HEADER_LIMIT = 64512;

function stringsAttributes(group: string, name: string, values: string[]): H5AttributeWrite[] {
  const encoder = new TextEncoder();
  const width = Math.max(1, ...values.map((v) => encoder.encode(v).length));
  const perChunk = Math.max(1, Math.floor(HDF5_OBJECT_HEADER_LIMIT / width));
  if (values.length <= perChunk) return [{ group, name, value: { type: 'strings', value: values } }];
  const chunks: H5AttributeWrite[] = [];
  for (let i = 0; i * perChunk < values.length; i++) {
    chunks.push({ group, name: `${name}${i}`, value: { type: 'strings', value: values.slice(i * perChunk, (i + 1) * perChunk) } });
  }
  return chunks;
}

export interface LegacyLayoutOptions {
  /** '' for a weights file; 'model_weights' inside a full-model .h5. */
  root?: string;
  /** Written as `keras_version`; tf.keras 2's last release by default (the layout is tf.keras 2's). */
  kerasVersion?: string;
  backend?: string;
}

/** The tf.keras 2 `save_weights('x.h5')` layout of `layers` (Keras 3 `load_weights` reads it too). */
export function legacyLayout(layers: LayerDescription[], options: LegacyLayoutOptions = {}): KerasH5Layout {
  checkLayerNames(layers);
  const root = options.root ?? '';
  const at = (p: string) => (root ? `${root}/${p}` : p);
  const groups: string[] = [];
  const known = new Set<string>(['']);
  if (root) addGroup(groups, known, root);
  const attributes: H5AttributeWrite[] = [
    ...stringsAttributes(root, 'layer_names', layers.map((l) => l.name)),
    { group: root, name: 'backend', value: { type: 'string', value: options.backend ?? 'tensorflow' } },
    { group: root, name: 'keras_version', value: { type: 'string', value: options.kerasVersion ?? '2.15.0' } },
  ];
  const datasets: KerasH5Layout['datasets'] = [];
  for (const layer of layers) {
    addGroup(groups, known, at(layer.name));
    const cell = RNN_CELLS[layer.className];
    const names = layer.weights.map((w) => `${layer.name}/${cell ? `${cell}/` : ''}${weightBase(layer, w)}:0`);
    if (new Set(names).size !== names.length) throw new CheckpointError('INVALID_ARGUMENT', `Layer "${layer.name}" has two weights with the same name (${names.join(', ')}); HDF5 needs distinct dataset names.`);
    attributes.push(...stringsAttributes(at(layer.name), 'weight_names', names));
    layer.weights.forEach((w, i) => {
      const path = at(`${layer.name}/${names[i]!}`);
      addGroup(groups, known, path.slice(0, path.lastIndexOf('/')));
      datasets.push({ path, shape: w.shape, dtype: w.dtype, layer: layer.name, weight: w.name });
    });
  }
  return { groups, attributes, datasets };
}

/**
 * Keras 3 group names of `layers`, by class and occurrence (`dense`, `dense_1`, …) as
 * `saving_lib._save_container_state` names them. Sequential models leave their InputLayer out.
 */
export function keras3LayerGroups(layers: LayerDescription[], modelClass: 'Sequential' | 'Functional'): { layer: LayerDescription; group: string }[] {
  const used = new Map<string, number>();
  const out: { layer: LayerDescription; group: string }[] = [];
  for (const layer of layers) {
    if (modelClass === 'Sequential' && layer.className === 'InputLayer') continue;
    const base = toSnakeCase(layer.className);
    const n = used.get(base);
    used.set(base, n === undefined ? 0 : n + 1);
    out.push({ layer, group: `layers/${n === undefined ? base : `${base}_${n + 1}`}` });
  }
  return out;
}

export interface Keras3LayoutOptions {
  /** The model's name, the root `vars` group's `name` attribute. */
  modelName: string;
  /** TF.js `Sequential` → 'Sequential'; any other `LayersModel` → 'Functional'. */
  modelClass: 'Sequential' | 'Functional';
}

/** The Keras 3 `save_weights('x.weights.h5')` layout of `layers` (weights only, no optimizer). */
export function keras3Layout(layers: LayerDescription[], options: Keras3LayoutOptions): KerasH5Layout {
  checkLayerNames(layers);
  const groups: string[] = [];
  const known = new Set<string>(['']);
  const attributes: H5AttributeWrite[] = [];
  const datasets: KerasH5Layout['datasets'] = [];
  const vars = (group: string, name: string) => {
    addGroup(groups, known, group ? `${group}/vars` : 'vars');
    attributes.push({ group: group ? `${group}/vars` : 'vars', name: 'name', value: { type: 'string', value: name } });
  };
  vars('', options.modelName);
  addGroup(groups, known, 'layers');
  for (const { layer, group } of keras3LayerGroups(layers, options.modelClass)) {
    if (NESTED.has(layer.className) && layer.weights.length > 0) {
      throw new CheckpointError('UNSUPPORTED_FORMAT', `Layer "${layer.name}" (${layer.className}) keeps its weights in nested layers, which the Keras 3 .weights.h5 writer does not lay out yet. Save in the legacy .h5 layout or as safetensors instead.`);
    }
    // Keras gives every layer a `vars` group (its `name` attribute is set even without variables).
    vars(group, layer.name);
    const cell = RNN_CELLS[layer.className];
    let into = `${group}/vars`;
    if (cell) {
      vars(`${group}/cell`, cell);
      into = `${group}/cell/vars`;
    }
    layer.weights.forEach((w, i) => datasets.push({ path: `${into}/${i}`, shape: w.shape, dtype: w.dtype, layer: layer.name, weight: w.name }));
  }
  return { groups, attributes, datasets };
}

// ---------------------------------------------------------------------------------------------
// Reading

export interface StoredWeight {
  /** The dataset's path in the file. */
  path: string;
  /** A TF.js-style name where it can be derived (`lstm/kernel`), else `<layer>/<index>`. */
  name: string;
  shape: number[];
  dtype: H5Dtype;
  dtypeDescription: string;
}

export interface StoredLayer {
  /** The layer's name as the file records it. */
  name: string;
  /** Its group: `dense` (legacy), `model_weights/dense`, `layers/dense_1` (Keras 3). */
  group: string;
  weights: StoredWeight[];
}

export interface KerasH5Contents {
  layout: 'legacy' | 'keras3';
  /** Legacy: in `layer_names` order (the model's). Keras 3: sorted by group path (the file has no order). */
  layers: StoredLayer[];
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** A string-list attribute, also as tf.keras 2 split it (`name0`, `name1`, …). Empty float arrays are `[]`. */
function stringList(node: H5GroupNode, name: string, where: string): string[] | undefined {
  const read = (v: unknown): string[] => {
    if (typeof v === 'string') return [v];
    if (Array.isArray(v) && v.every((s) => typeof s === 'string')) return v as string[];
    if (Array.isArray(v) && v.length === 0) return [];
    throw new CheckpointError('CORRUPT_CHECKPOINT', `${where}: attribute "${name}" of group "/${node.path}" is not a list of strings.`);
  };
  if (name in node.attributes) return read(node.attributes[name]);
  if (!(`${name}0` in node.attributes)) return undefined;
  const out: string[] = [];
  for (let i = 0; `${name}${i}` in node.attributes; i++) out.push(...read(node.attributes[`${name}${i}`]));
  return out;
}

function group(tree: H5Tree, path: string): H5GroupNode | undefined {
  const node = tree.nodes.get(path);
  return node?.kind === 'group' ? node : undefined;
}

function dataset(tree: H5Tree, path: string): H5DatasetNode | undefined {
  const node = tree.nodes.get(path);
  return node?.kind === 'dataset' ? node : undefined;
}

function stored(node: H5DatasetNode, name: string): StoredWeight {
  return { path: node.path, name, shape: node.shape, dtype: node.dtype, dtypeDescription: node.dtypeDescription };
}

/** TF.js's names of a Keras 3 layer's variables, by class, when the count is the full set. */
const KERAS3_VAR_NAMES: Record<string, string[]> = {
  dense: ['kernel', 'bias'],
  conv1d: ['kernel', 'bias'],
  conv2d: ['kernel', 'bias'],
  conv3d: ['kernel', 'bias'],
  conv2d_transpose: ['kernel', 'bias'],
  depthwise_conv2d: ['depthwise_kernel', 'bias'],
  batch_normalization: ['gamma', 'beta', 'moving_mean', 'moving_variance'],
  layer_normalization: ['gamma', 'beta'],
  embedding: ['embeddings'],
  lstm: ['kernel', 'recurrent_kernel', 'bias'],
  gru: ['kernel', 'recurrent_kernel', 'bias'],
  simple_rnn: ['kernel', 'recurrent_kernel', 'bias'],
};

function readLegacy(tree: H5Tree, root: H5GroupNode, where: string): KerasH5Contents {
  const layerNames = stringList(root, 'layer_names', where)!;
  const layers: StoredLayer[] = [];
  for (const name of layerNames) {
    const path = root.path ? `${root.path}/${name}` : name;
    const g = group(tree, path);
    if (!g) throw new CheckpointError('CORRUPT_CHECKPOINT', `${where}: layer "${name}" is in layer_names but its group "/${path}" is missing. The file is damaged or was not written by Keras.`);
    const weightNames = stringList(g, 'weight_names', where) ?? [];
    const weights = weightNames.map((w) => {
      const d = dataset(tree, `${path}/${w}`);
      if (!d) throw new CheckpointError('CORRUPT_CHECKPOINT', `${where}: weight "${w}" of layer "${name}" is listed in weight_names but has no dataset at "/${path}/${w}".`);
      // `dense/kernel:0`, `lstm/lstm_cell/kernel:0`, `model/dense/kernel` all name TF.js's `dense/kernel`.
      return stored(d, `${name}/${w.split('/').at(-1)!.replace(/:\d+$/, '')}`);
    });
    layers.push({ name, group: path, weights });
  }
  return { layout: 'legacy', layers };
}

/** Datasets of a Keras 3 saveable at `path`: its own `vars/<i>`, then its sub-objects' (as Keras walks them, sorted). */
function keras3Vars(tree: H5Tree, path: string): H5DatasetNode[] {
  const out: H5DatasetNode[] = [];
  for (let i = 0; ; i++) {
    const d = dataset(tree, `${path}/vars/${i}`);
    if (!d) break;
    out.push(d);
  }
  const children = [...tree.nodes.values()]
    .filter((n) => n.kind === 'group' && n.path.startsWith(`${path}/`) && !n.path.slice(path.length + 1).includes('/') && !n.path.endsWith('/vars'))
    .map((n) => n.path)
    .sort((a, b) => {
      const key = (p: string) => (p.split('/').at(-1)!.startsWith('_') ? `~${p}` : p);
      return key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;
    });
  for (const child of children) out.push(...keras3Vars(tree, child));
  return out;
}

function readKeras3(tree: H5Tree): KerasH5Contents {
  const layers: StoredLayer[] = [];
  const layerGroups = [...tree.nodes.values()].filter((n) => n.kind === 'group' && /^layers\/[^/]+$/.test(n.path)).map((n) => n.path).sort();
  for (const path of layerGroups) {
    const name = str(group(tree, `${path}/vars`)?.attributes['name']) ?? path.slice('layers/'.length);
    const datasets = keras3Vars(tree, path);
    const known = KERAS3_VAR_NAMES[path.slice('layers/'.length).replace(/_\d+$/, '')];
    const names = known && known.length === datasets.length ? known : datasets.map((_, i) => String(i));
    layers.push({ name, group: path, weights: datasets.map((d, i) => stored(d, `${name}/${names[i]!}`)) });
  }
  return { layout: 'keras3', layers };
}

/**
 * The layers and weights a Keras HDF5 file stores: a Keras 3 `.weights.h5`, a legacy weights `.h5`,
 * or the `model_weights` of a full-model `.h5`. `where` names the file in errors.
 */
export function readKerasContents(tree: H5Tree, where: string): KerasH5Contents {
  const root = group(tree, '')!;
  const modelWeights = group(tree, 'model_weights');
  if (modelWeights && stringList(modelWeights, 'layer_names', where)) return readLegacy(tree, modelWeights, where);
  if (root && stringList(root, 'layer_names', where)) return readLegacy(tree, root, where);
  if (group(tree, 'layers') || group(tree, 'vars')) return readKeras3(tree);
  throw new CheckpointError('UNSUPPORTED_FORMAT', `${where} is an HDF5 file but not Keras weights: it has no layer_names attribute (legacy .h5) and no "layers" group (Keras 3 .weights.h5).`);
}

// ---------------------------------------------------------------------------------------------
// Pairing a model with a file

export interface LoadPlanEntry {
  layer: string;
  /** The model's weight (TF.js name). */
  weight: string;
  /** The dataset to read it from. */
  path: string;
  shape: number[];
  fileDtype: H5Dtype;
  /** What the model's weight holds; float16/bfloat16 are widened to float32. */
  dtype: 'float32' | 'int32';
}

export interface LoadPlan {
  /** How layers were paired: all by name, or (names differing) by order. */
  matchedBy: 'name' | 'order';
  /** In the model's weight order. */
  entries: LoadPlanEntry[];
}

const LOADABLE: Record<'float32' | 'int32', H5Dtype[]> = { float32: ['float32', 'float16', 'bfloat16'], int32: ['int32'] };

/**
 * Pairs `model`'s layers with the file's: by layer name when every layer with weights finds its name
 * in the file; otherwise by order (legacy: the order of `layer_names`; Keras 3: class and occurrence,
 * as Keras itself loads), since auto-generated names differ between instances of one architecture.
 * Weights pair by position inside a layer; counts, shapes and dtypes must agree, or a
 * `WEIGHT_MISMATCH` names the first disagreement. Returns a plan; nothing is loaded here.
 */
export function planKerasLoad(model: LayerDescription[], contents: KerasH5Contents, where: string): LoadPlan {
  const weighted = model.filter((l) => l.weights.length > 0);
  const fileWeighted = contents.layers.filter((l) => l.weights.length > 0);
  const byName = new Map(contents.layers.map((l) => [l.name, l]));
  const allNamed = weighted.every((l) => byName.has(l.name));
  const pairs: [LayerDescription, StoredLayer][] = [];
  let matchedBy: LoadPlan['matchedBy'] = 'name';
  if (allNamed) {
    for (const l of weighted) pairs.push([l, byName.get(l.name)!]);
    const used = new Set(weighted.map((l) => l.name));
    const extra = fileWeighted.filter((l) => !used.has(l.name));
    if (extra.length > 0) {
      throw new WeightMismatchError(`${where} has weights for layers the model does not have: ${extra.map((l) => `"${l.name}"`).join(', ')}. Load it into the architecture that saved it.`);
    }
  } else {
    matchedBy = 'order';
    if (contents.layout === 'keras3') {
      const byGroup = new Map(contents.layers.map((l) => [l.group, l]));
      const groups = keras3LayerGroups(model, 'Functional').filter((g) => g.layer.weights.length > 0);
      for (const { layer, group: path } of groups) {
        const found = byGroup.get(path);
        if (!found) {
          throw new WeightMismatchError(`${where} has no layer named "${layer.name}" and no "/${path}" group (the ${layer.className} at this position); its layers are ${contents.layers.map((l) => `"${l.name}"`).join(', ')}. Load it into the architecture that saved it.`);
        }
        pairs.push([layer, found]);
      }
      if (fileWeighted.length !== groups.length) {
        const used = new Set(pairs.map(([, s]) => s.group));
        throw new WeightMismatchError(`${where} has ${fileWeighted.length} layers with weights, the model ${groups.length}; unmatched in the file: ${fileWeighted.filter((l) => !used.has(l.group)).map((l) => `"${l.name}"`).join(', ')}. Load it into the architecture that saved it.`);
      }
    } else {
      if (fileWeighted.length !== weighted.length) {
        const missing = weighted.filter((l) => !byName.has(l.name)).map((l) => `"${l.name}"`);
        throw new WeightMismatchError(`${where} has ${fileWeighted.length} layers with weights, the model ${weighted.length}, and the model's layers ${missing.join(', ')} are not in the file by name, so they cannot be paired by name or by order. Load it into the architecture that saved it.`);
      }
      weighted.forEach((l, i) => pairs.push([l, fileWeighted[i]!]));
    }
  }
  const entries: LoadPlanEntry[] = [];
  for (const [layer, file] of pairs) {
    const how = matchedBy === 'name' ? '' : ` (paired by order with the file's layer "${file.name}", since the names differ)`;
    if (layer.weights.length !== file.weights.length) {
      throw new WeightMismatchError(`Layer "${layer.name}"${how} has ${layer.weights.length} weights, ${where} stores ${file.weights.length} for it (${file.weights.map((w) => w.name).join(', ') || 'none'}). Check the layer's configuration (use_bias, center/scale, …) matches the model that saved the file.`);
    }
    layer.weights.forEach((w, i) => {
      const f = file.weights[i]!;
      if (f.shape.length !== w.shape.length || f.shape.some((d, k) => d !== w.shape[k])) {
        throw new WeightMismatchError(`Weight "${w.name}"${how} has shape [${w.shape}], ${where} stores [${f.shape}] at "/${f.path}". Build the model with the configuration that saved the file.`);
      }
      if (!LOADABLE[w.dtype].includes(f.dtype)) {
        throw new WeightMismatchError(`Weight "${w.name}" is ${w.dtype}, ${where} stores ${f.dtype === 'other' ? f.dtypeDescription : f.dtype} at "/${f.path}"; ${w.dtype} weights load from ${LOADABLE[w.dtype].join(', ')}. Convert the file's weights (e.g. to float32) before loading.`);
      }
      entries.push({ layer: layer.name, weight: w.name, path: f.path, shape: f.shape, fileDtype: f.dtype, dtype: w.dtype });
    });
  }
  return { matchedBy, entries };
}
