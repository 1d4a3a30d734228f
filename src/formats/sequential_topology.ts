/**
 * `Sequential.fit` runs its inner functional model, so callbacks see that model (named
 * `<sequential>_model`, with an `InputLayer` named `<first layer>_input` in front). Saving it as is
 * would turn the user's Sequential into a generic model on load; this restores the Sequential
 * topology that `sequential.save()` writes. Anything else is returned unchanged.
 */
type Json = Record<string, unknown>;

interface FunctionalLayer {
  name: string;
  class_name: string;
  config: Json;
  inbound_nodes: unknown[];
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The layer each layer is fed by, if the graph is one straight chain. */
function isLinearChain(layers: FunctionalLayer[]): boolean {
  return layers.every((layer, i) => {
    if (i === 0) return layer.inbound_nodes.length === 0;
    const nodes = layer.inbound_nodes as unknown[][][];
    return nodes.length === 1 && nodes[0]!.length === 1 && nodes[0]![0]![0] === layers[i - 1]!.name;
  });
}

export function restoreSequentialTopology(topology: Json): Json {
  const config = topology['config'];
  if (topology['class_name'] !== 'Model' || !isObject(config)) return topology;
  const name = config['name'];
  const layers = config['layers'] as FunctionalLayer[] | undefined;
  if (typeof name !== 'string' || !name.endsWith('_model') || !Array.isArray(layers) || layers.length < 2) return topology;
  const [input, first] = layers;
  if (input!.class_name !== 'InputLayer' || input!.name !== `${first!.name}_input` || !isObject(first!.config) || first!.config['batch_input_shape'] == null) return topology;
  const inputs = config['input_layers'] as unknown[];
  const outputs = config['output_layers'] as unknown[][];
  if (!Array.isArray(inputs) || inputs.length !== 1 || !Array.isArray(outputs) || outputs.length !== 1 || outputs[0]![0] !== layers[layers.length - 1]!.name) return topology;
  if (!isLinearChain(layers)) return topology;
  return {
    ...topology,
    class_name: 'Sequential',
    config: { name: name.slice(0, -'_model'.length), layers: layers.slice(1).map((l) => ({ class_name: l.class_name, config: l.config })) },
  };
}
