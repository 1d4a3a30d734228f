/**
 * TF.js model topology -> Keras: the `config.json` of a Keras 3 `.keras` archive, and the
 * `model_config` (plus `training_config`) of a legacy full-model `.h5` in tf.keras 2's form, which
 * Keras 3's `load_model` reads through its legacy loader.
 *
 * Differences handled here, not left to defaults: Keras 3 Sequential configs start with an explicit
 * InputLayer (`batch_shape`, where TF.js puts `batch_input_shape` on the first layer); functional
 * edges are `__keras_tensor__` objects with shapes (computed in shapes.ts); every activation,
 * initializer, regularizer, constraint and dtype is written explicitly in Keras's serialized form;
 * LSTM/GRU recurrent activations are always written (TF.js defaults to hardSigmoid, Keras 3 to
 * sigmoid), and hard_sigmoid itself is refused for Keras 3 (a different function there).
 */
import { buildInputShape, inferShapes, type Graph, type GraphLayer, type TensorRef } from './graph.js';
import { isObject, unsupported, type Json, type JsonObject, type TfjsTopology } from './json.js';
import { layerConfigToKeras, recordsBuildConfig } from './layers.js';
import { dtypePolicyToKeras, inputDtype, type KerasFlavor } from './objects.js';
import type { Shape } from './shapes.js';
import { toKeras3CompileConfig, type TfjsTrainingConfig } from './training.js';

export { toLegacyTrainingConfig, toKeras3CompileConfig, type TfjsTrainingConfig } from './training.js';

export interface ToKerasOptions {
  /** TF.js's training config (model.json `trainingConfig`): becomes `compile_config` when it translates. */
  trainingConfig?: TfjsTrainingConfig | null;
  /**
   * Write TF.js's hard_sigmoid as Keras's `hard_sigmoid` anyway. Exact for tf.keras 2 readers; Keras 3
   * computes clip(x/6 + 0.5) instead of clip(0.2x + 0.5), so its outputs differ. Default false: refused.
   */
  keras2HardSigmoid?: boolean;
}

/** The graph of a TF.js topology; a Sequential gets the explicit InputLayer Keras writes. */
export function tfjsGraph(topology: TfjsTopology): Graph {
  if (!isObject(topology as unknown as Json) || !isObject(topology.config)) throw unsupported(undefined, 'the topology is not a TF.js model topology ({class_name, config})');
  const config = topology.config;
  const name = typeof config['name'] === 'string' ? config['name'] : 'model';
  const rawLayers = Array.isArray(config['layers']) ? (config['layers'] as JsonObject[]) : [];
  const read = (l: JsonObject): GraphLayer => {
    if (!isObject(l) || typeof l['class_name'] !== 'string' || !isObject(l['config'])) throw unsupported(undefined, `a layer entry is malformed: ${JSON.stringify(l).slice(0, 200)}`);
    const className = l['class_name'];
    const layerConfig = l['config'];
    if (className === 'Sequential' || className === 'Model' || className === 'Functional') throw unsupported({ name: layerConfig['name'], className }, 'nested models are not supported');
    return { name: String(l['name'] ?? layerConfig['name']), className, config: layerConfig, nodes: [] };
  };
  if (topology.class_name === 'Sequential') {
    const layers = rawLayers.map(read);
    if (layers.length === 0) throw unsupported(undefined, 'the Sequential model has no layers');
    let input: GraphLayer;
    if (layers[0]!.className === 'InputLayer') {
      input = layers.shift()!;
    } else {
      const first = layers[0]!;
      const shape = first.config['batch_input_shape'];
      if (!Array.isArray(shape)) throw unsupported(first, 'the first layer of the Sequential model has no batch_input_shape');
      // TF.js names a Sequential's implicit input `<first layer>_input`.
      input = { name: `${first.name}_input`, className: 'InputLayer', config: { batch_input_shape: shape, dtype: first.config['dtype'] ?? 'float32', sparse: false, name: `${first.name}_input` }, nodes: [] };
    }
    let previous: TensorRef = [input.name, 0, 0];
    for (const layer of layers) {
      layer.nodes = [[previous]];
      previous = [layer.name, 0, 0];
    }
    return { kind: 'Sequential', name, layers: [input, ...layers], inputs: [[input.name, 0, 0]], outputs: [previous] };
  }
  if (topology.class_name !== 'Model' && topology.class_name !== 'Functional') throw unsupported(undefined, `model class ${topology.class_name} is not Sequential or a functional Model`);
  const layers = rawLayers.map((l) => {
    const layer = read(l);
    const nodes = Array.isArray(l['inbound_nodes']) ? l['inbound_nodes'] : [];
    layer.nodes = nodes.map((node) => {
      if (!Array.isArray(node)) throw unsupported(layer, 'an inbound node is not a list');
      return node.map((ref) => {
        if (!Array.isArray(ref) || typeof ref[0] !== 'string') throw unsupported(layer, 'an inbound tensor reference is malformed');
        const kwargs = ref[3];
        if (isObject(kwargs) && Object.keys(kwargs).length > 0) throw unsupported(layer, `call arguments ${JSON.stringify(kwargs)} are not supported`);
        return [ref[0], Number(ref[1] ?? 0), Number(ref[2] ?? 0)] as TensorRef;
      });
    });
    return layer;
  });
  const refs = (v: Json | undefined): TensorRef[] => (Array.isArray(v) ? v.map((r) => [String((r as Json[])[0]), Number((r as Json[])[1]), Number((r as Json[])[2])] as TensorRef) : []);
  return { kind: 'Functional', name, layers, inputs: refs(config['input_layers']), outputs: refs(config['output_layers']) };
}

function inputLayerConfig(layer: GraphLayer, flavor: KerasFlavor): JsonObject {
  const shape = layer.config['batch_input_shape'];
  if (!Array.isArray(shape)) throw unsupported(layer, 'the InputLayer has no batch_input_shape');
  if (layer.config['sparse'] === true) throw unsupported(layer, 'sparse inputs are not supported');
  const dtype = inputDtype(layer.config['dtype'], layer);
  return flavor === 'keras3'
    ? { batch_shape: shape, dtype, sparse: false, ragged: false, name: layer.name, optional: false }
    : { batch_input_shape: shape, dtype, sparse: false, ragged: false, name: layer.name };
}

const kerasTensor = (ref: TensorRef, shape: Shape, dtype: string): JsonObject => ({ class_name: '__keras_tensor__', config: { shape, dtype, keras_history: ref } });

function translate(topology: TfjsTopology, flavor: KerasFlavor, options: ToKerasOptions): { graph: Graph; layers: JsonObject[]; inputShape: Shape } {
  const graph = tfjsGraph(topology);
  const shapeOf = inferShapes(graph);
  const dtypes = new Map(graph.layers.filter((l) => l.className === 'InputLayer').map((l) => [l.name, inputDtype(l.config['dtype'], l)]));
  const layers = graph.layers.map((layer): JsonObject => {
    const isInput = layer.className === 'InputLayer';
    const config = isInput ? inputLayerConfig(layer, flavor) : layerConfigToKeras(layer.className, layer.config, { flavor, keras2HardSigmoid: options.keras2HardSigmoid });
    const entry: JsonObject = flavor === 'keras3' ? { module: 'keras.layers', class_name: layer.className, config, registered_name: null } : { class_name: layer.className, config };
    if (flavor === 'keras3' && !isInput && recordsBuildConfig(layer.className)) {
      const shape = buildInputShape(layer, shapeOf);
      if (shape) entry['build_config'] = { input_shape: shape };
    }
    if (graph.kind === 'Functional') {
      entry['name'] = layer.name;
      entry['inbound_nodes'] = layer.nodes.map((node): Json => {
        if (flavor === 'legacy') return node.map((r) => [...r, {}]);
        // Keras 3 records the call's arguments: one tensor, or a list of tensors for merge layers.
        const tensors = node.map((r) => kerasTensor(r, shapeOf(r), dtypes.get(r[0]) ?? 'float32'));
        return { args: tensors.length === 1 ? [tensors[0]!] : [tensors], kwargs: {} };
      });
    }
    return entry;
  });
  return { graph, layers, inputShape: shapeOf(graph.inputs[0]!) };
}

/** Keras writes a single input/output as one reference, several as a list. */
const refsJson = (refs: TensorRef[], flavor: KerasFlavor): Json => (flavor === 'keras3' && refs.length === 1 ? refs[0]! : refs);

/** The `config.json` of a Keras 3 `.keras` archive for this TF.js topology. */
export function toKeras3Config(topology: TfjsTopology, options: ToKerasOptions = {}): JsonObject {
  const { graph, layers, inputShape } = translate(topology, 'keras3', options);
  let out: JsonObject;
  if (graph.kind === 'Sequential') {
    out = {
      module: 'keras',
      class_name: 'Sequential',
      config: { name: graph.name, trainable: true, dtype: dtypePolicyToKeras('float32', {}, 'keras3'), layers, build_input_shape: inputShape },
      registered_name: null,
      build_config: { input_shape: inputShape },
    };
  } else {
    out = {
      module: 'keras.src.models.functional',
      class_name: 'Functional',
      config: { name: graph.name, trainable: true, layers, input_layers: refsJson(graph.inputs, 'keras3'), output_layers: refsJson(graph.outputs, 'keras3') },
      registered_name: 'Functional',
      build_config: { input_shape: null },
    };
  }
  const compile = toKeras3CompileConfig(options.trainingConfig);
  if (compile) out['compile_config'] = compile;
  return out;
}

/**
 * The legacy `.h5` root attribute `model_config` (JSON) for this topology, as tf.keras 2 wrote it:
 * `{"class_name": "Sequential" | "Functional", "config": {...}}` with `{class_name, config}` objects,
 * string dtypes, `batch_input_shape` and list-form inbound nodes.
 */
export function toLegacyModelConfig(topology: TfjsTopology, options: ToKerasOptions = {}): JsonObject {
  const { graph, layers } = translate(topology, 'legacy', options);
  if (graph.kind === 'Sequential') return { class_name: 'Sequential', config: { name: graph.name, layers } };
  return { class_name: 'Functional', config: { name: graph.name, layers, input_layers: graph.inputs, output_layers: graph.outputs } };
}
