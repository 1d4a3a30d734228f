/**
 * The JSON shapes both sides speak, and the one error every untranslatable piece raises. Kept apart
 * so the translators (objects, layers, shapes, models) share them without importing each other.
 */
import { CheckpointError } from '../../errors.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** A TF.js `modelTopology` (snake_case keys, as `model.toJSON(null, false)` writes it). */
export interface TfjsTopology {
  class_name: string;
  config: JsonObject;
  keras_version?: string;
  backend?: string;
  [key: string]: Json | undefined;
}

/** A Keras 3 serialized object: `serialize_keras_object`'s dict. */
export interface KerasObject {
  module: string;
  class_name: string;
  config: Json;
  registered_name: string | null;
  [key: string]: Json | undefined;
}

export const isObject = (v: unknown): v is JsonObject => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * What cannot be carried across: names the layer and its class (when known) and says what to do
 * instead, because a silently different model is worse than no model.
 */
export function unsupported(layer: { name?: Json; className?: string } | undefined, problem: string): CheckpointError {
  const who = layer ? `Layer "${String(layer.name ?? '?')}"${layer.className ? ` (${layer.className})` : ''}: ` : '';
  return new CheckpointError(
    'UNSUPPORTED_LAYER',
    `${who}${problem}. The model cannot be translated between TF.js and Keras; save its weights to .weights.h5 or .safetensors instead and rebuild the architecture on the other side.`,
  );
}

/** snake_case of a camelCase identifier ('channelsLast' -> 'channels_last'); snake_case stays as it is. */
export function snake(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}
