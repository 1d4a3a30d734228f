/**
 * Keras -> TF.js model topology, for loading Keras files into TF.js: the `config.json` of a Keras 3
 * `.keras` archive, or the `model_config` of a legacy full-model `.h5` (tf.keras 2's form, or Keras
 * 3's own legacy writer's). The result is what `tf.models.modelFromJSON({modelTopology})` builds.
 *
 * Keras 3 wraps every object as `{module, class_name, config, registered_name}`; a class that is
 * registered under another name or lives outside Keras is custom code TF.js cannot have, and is
 * refused with the layer's name. A Sequential's explicit float32 InputLayer is folded into the first
 * layer's `batch_input_shape`, as TF.js itself writes Sequential models; other input dtypes keep it.
 */
import type { Graph, GraphLayer, TensorRef } from './graph.js';
import { isObject, unsupported, type Json, type JsonObject, type TfjsTopology } from './json.js';
import { layerConfigFromKeras } from './layers.js';
import { inputDtype, type ActivationOptions } from './objects.js';

export interface FromKerasOptions {
  /**
   * The `keras_version` the file was written by. From tf.keras 1/2 (and TF.js), `hard_sigmoid`
   * means TF.js's clip(0.2x + 0.5) and is accepted; from Keras 3 (the default) it is refused.
   */
  kerasVersion?: string;
}

const activationOptions = (options: FromKerasOptions): ActivationOptions => ({
  keras2HardSigmoid: typeof options.kerasVersion === 'string' && /^(1\.|2\.|tfjs)/.test(options.kerasVersion),
});

/** Keys tf.keras 2 wrote that TF.js does not need: dropped when they have these harmless values. */
const LEGACY_DROPPABLE: Record<string, (v: Json | undefined) => boolean> = {
  implementation: () => true,
  time_major: (v) => v === false || v === null,
  input_length: () => true,
};

function checkRegistered(entry: JsonObject, className: string): void {
  const module = entry['module'];
  const registered = entry['registered_name'];
  const isKeras = module === undefined || (typeof module === 'string' && (module === 'keras' || module.startsWith('keras.')));
  if (!isKeras || (registered !== undefined && registered !== null && registered !== className)) {
    throw unsupported({ name: isObject(entry['config']) ? entry['config']['name'] : undefined, className }, `is a custom class (module ${JSON.stringify(module)}, registered as ${JSON.stringify(registered)}), which TF.js cannot build`);
  }
}

function readLayer(entry: Json, legacy: boolean): GraphLayer {
  if (!isObject(entry) || typeof entry['class_name'] !== 'string' || !isObject(entry['config'])) throw unsupported(undefined, `a layer entry is malformed: ${JSON.stringify(entry).slice(0, 200)}`);
  const className = entry['class_name'];
  const config = { ...entry['config'] };
  if (!legacy) checkRegistered(entry, className);
  if (['Sequential', 'Functional', 'Model'].includes(className)) throw unsupported({ name: config['name'], className }, 'nested models are not supported');
  if (legacy) {
    for (const [key, ok] of Object.entries(LEGACY_DROPPABLE)) {
      if (key in config && ok(config[key])) delete config[key];
    }
    // tf.keras 2 wrote BatchNormalization's axis as a one-element list; TF.js wants the number.
    if (className === 'BatchNormalization' && Array.isArray(config['axis']) && config['axis'].length === 1) config['axis'] = config['axis'][0]!;
  }
  return { name: String(entry['name'] ?? config['name']), className, config, nodes: [] };
}

function inputConfig(layer: GraphLayer): JsonObject {
  const c = layer.config;
  const shape = c['batch_shape'] ?? c['batch_input_shape'];
  if (!Array.isArray(shape)) throw unsupported(layer, 'the InputLayer has no batch_shape');
  if (c['sparse'] === true || c['ragged'] === true) throw unsupported(layer, 'sparse and ragged inputs are not supported by TF.js');
  if (c['optional'] === true) throw unsupported(layer, 'optional inputs are not supported by TF.js');
  return { batch_input_shape: shape, dtype: inputDtype(c['dtype'], layer), sparse: false, name: layer.name };
}

/** Keras 3's call arguments: one tensor or a list of them; anything else is not a plain layer call. */
function nodeRefs(node: Json, layer: GraphLayer): TensorRef[] {
  if (Array.isArray(node)) {
    // Legacy: [[name, node, tensor, kwargs], ...]
    return node.map((r) => {
      if (!Array.isArray(r) || typeof r[0] !== 'string') throw unsupported(layer, 'an inbound node is malformed');
      checkKwargs(r[3], layer);
      return [r[0], Number(r[1]), Number(r[2])];
    });
  }
  if (!isObject(node) || !Array.isArray(node['args'])) throw unsupported(layer, 'an inbound node is malformed');
  checkKwargs(node['kwargs'], layer);
  const args = node['args'];
  const tensor = (t: Json): TensorRef => {
    if (!isObject(t) || t['class_name'] !== '__keras_tensor__' || !isObject(t['config']) || !Array.isArray(t['config']['keras_history'])) {
      throw unsupported(layer, `is called with a non-tensor argument ${JSON.stringify(t).slice(0, 120)}`);
    }
    const h = t['config']['keras_history'];
    return [String(h[0]), Number(h[1]), Number(h[2])];
  };
  if (args.length !== 1) throw unsupported(layer, `is called with ${args.length} positional arguments; TF.js layers take one`);
  return Array.isArray(args[0]) ? args[0].map(tensor) : [tensor(args[0]!)];
}

/** training/mask left at their defaults are fine; tensors or other values passed by keyword are not. */
function checkKwargs(kwargs: Json | undefined, layer: GraphLayer): void {
  if (!isObject(kwargs)) return;
  for (const [key, value] of Object.entries(kwargs)) {
    if ((key === 'training' || key === 'mask') && (value === null || value === false)) continue;
    throw unsupported(layer, `is called with ${key}=${JSON.stringify(value).slice(0, 120)}, which TF.js cannot express`);
  }
}

function refs(value: Json | undefined, what: string): TensorRef[] {
  if (!Array.isArray(value)) throw unsupported(undefined, `the model's ${what} are missing or not a list (dict inputs are not supported)`);
  const one = (r: Json): TensorRef => {
    if (!Array.isArray(r) || typeof r[0] !== 'string') throw unsupported(undefined, `the model's ${what} are malformed`);
    return [r[0], Number(r[1]), Number(r[2])];
  };
  return typeof value[0] === 'string' ? [one(value)] : value.map(one);
}

function kerasGraph(modelConfig: JsonObject, legacy: boolean): Graph {
  if (!isObject(modelConfig) || typeof modelConfig['class_name'] !== 'string' || !isObject(modelConfig['config'])) throw unsupported(undefined, 'not a Keras model config ({class_name, config})');
  const className = modelConfig['class_name'];
  if (!legacy) checkRegistered(modelConfig, className === 'Functional' || className === 'Model' ? 'Functional' : className);
  const config = modelConfig['config'];
  const name = typeof config['name'] === 'string' ? config['name'] : 'model';
  const entries = Array.isArray(config['layers']) ? config['layers'] : [];
  if (className === 'Sequential') {
    const layers = entries.map((e) => readLayer(e, legacy));
    if (layers.length === 0) throw unsupported(undefined, 'the Sequential model has no layers');
    let input: GraphLayer | undefined = layers[0]!.className === 'InputLayer' ? layers.shift() : undefined;
    if (!input) {
      const first = layers[0]!;
      const shape = first.config['batch_input_shape'] ?? first.config['batch_shape'] ?? config['build_input_shape'];
      if (!Array.isArray(shape)) throw unsupported(first, 'the Sequential model has no input shape (no InputLayer, batch_input_shape or build_input_shape)');
      input = { name: `${first.name}_input`, className: 'InputLayer', config: { batch_shape: shape, dtype: 'float32' }, nodes: [] };
    }
    let previous: TensorRef = [input.name, 0, 0];
    for (const layer of layers) {
      layer.nodes = [[previous]];
      previous = [layer.name, 0, 0];
    }
    return { kind: 'Sequential', name, layers: [input, ...layers], inputs: [[input.name, 0, 0]], outputs: [previous] };
  }
  if (className !== 'Functional' && className !== 'Model') throw unsupported(undefined, `model class ${className} is not Sequential or Functional (subclassed models have no config TF.js can build)`);
  const layers = entries.map((e) => {
    const layer = readLayer(e, legacy);
    const nodes = isObject(e) && Array.isArray(e['inbound_nodes']) ? e['inbound_nodes'] : [];
    layer.nodes = nodes.map((n) => nodeRefs(n, layer));
    return layer;
  });
  return { kind: 'Functional', name, layers, inputs: refs(config['input_layers'], 'inputs'), outputs: refs(config['output_layers'], 'outputs') };
}

function toTopology(graph: Graph, options: FromKerasOptions): TfjsTopology {
  const act = activationOptions(options);
  const layerConfig = (l: GraphLayer) => layerConfigFromKeras(l.className, l.config, act);
  if (graph.kind === 'Sequential') {
    const [input, ...rest] = graph.layers;
    const inConfig = inputConfig(input!);
    const layers: JsonObject[] = rest.map((l) => ({ class_name: l.className, config: layerConfig(l) }));
    if (inConfig['dtype'] === 'float32') {
      // TF.js's own form: the input shape on the first layer (it names the input `<first>_input`).
      layers[0]!['config'] = { ...(layers[0]!['config'] as JsonObject), batch_input_shape: inConfig['batch_input_shape']! };
    } else {
      // A Sequential's first layer's dtype would also be its weights' dtype in TF.js: keep the InputLayer.
      layers.unshift({ class_name: 'InputLayer', config: inConfig });
    }
    return { class_name: 'Sequential', config: { name: graph.name, layers } };
  }
  const layers = graph.layers.map((l) => ({
    name: l.name,
    class_name: l.className,
    config: l.className === 'InputLayer' ? inputConfig(l) : layerConfig(l),
    inbound_nodes: l.nodes.map((node) => node.map((r) => [...r, {}])),
  }));
  return { class_name: 'Model', config: { name: graph.name, layers, input_layers: graph.inputs, output_layers: graph.outputs } };
}

/** A Keras 3 `.keras` config.json as a TF.js modelTopology. */
export function fromKeras3Config(config: JsonObject, options: FromKerasOptions = {}): TfjsTopology {
  return toTopology(kerasGraph(config, false), options);
}

/** A legacy `.h5` `model_config` (parsed JSON) as a TF.js modelTopology; pass the file's keras_version. */
export function fromLegacyModelConfig(modelConfig: JsonObject, options: FromKerasOptions = {}): TfjsTopology {
  return toTopology(kerasGraph(modelConfig, true), options);
}
