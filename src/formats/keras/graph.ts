/**
 * A model's graph in one neutral form, whichever side it came from: layers in order, each with its
 * calls (nodes) as lists of inbound tensor references, and the model's inputs and outputs. Both
 * Sequential and functional models become this, so shape inference and writing each format's
 * wiring happen once.
 */
import { outputShapes, type Shape } from './shapes.js';
import { unsupported, type JsonObject } from './json.js';

/** [layer name, node index, tensor index]: one output tensor of one call of a layer. */
export type TensorRef = [string, number, number];

export interface GraphLayer {
  name: string;
  className: string;
  /** TF.js-form (snake_case) config; an InputLayer's holds batch_input_shape and dtype. */
  config: JsonObject;
  nodes: TensorRef[][];
}

export interface Graph {
  kind: 'Sequential' | 'Functional';
  name: string;
  layers: GraphLayer[];
  inputs: TensorRef[];
  outputs: TensorRef[];
}

/** Output shapes of every call, keyed `${layer}/${node}`, computed on demand (shared layers may come late). */
export function inferShapes(graph: Graph): (ref: TensorRef) => Shape {
  const byName = new Map(graph.layers.map((l) => [l.name, l]));
  const memo = new Map<string, Shape[]>();
  const visiting = new Set<string>();
  const callShapes = (layerName: string, node: number): Shape[] => {
    const key = `${layerName}/${node}`;
    const known = memo.get(key);
    if (known) return known;
    const layer = byName.get(layerName);
    if (!layer) throw unsupported(undefined, `the model refers to a layer "${layerName}" it does not contain`);
    if (visiting.has(key)) throw unsupported(layer, 'the model graph has a cycle');
    visiting.add(key);
    let shapes: Shape[];
    if (layer.className === 'InputLayer') {
      shapes = [layer.config['batch_input_shape'] as Shape];
    } else {
      const inbound = layer.nodes[node];
      if (!inbound) throw unsupported(layer, `node ${node} is missing`);
      shapes = outputShapes(layer.className, layer.config, inbound.map((r) => tensorShape(r)));
    }
    visiting.delete(key);
    memo.set(key, shapes);
    return shapes;
  };
  const tensorShape = (ref: TensorRef): Shape => {
    const shape = callShapes(ref[0], ref[1])[ref[2]];
    if (!shape) throw unsupported({ name: ref[0] }, `output ${ref[2]} does not exist`);
    return shape;
  };
  return tensorShape;
}

/** The input shapes of a layer's first call: Keras's build_config input_shape. */
export function buildInputShape(layer: GraphLayer, shapeOf: (ref: TensorRef) => Shape): Shape | Shape[] | null {
  const first = layer.nodes[0];
  if (!first || first.length === 0) return null;
  const shapes = first.map(shapeOf);
  return shapes.length === 1 ? shapes[0]! : shapes;
}
