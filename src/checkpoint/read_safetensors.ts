/**
 * Loading a `.safetensors` file (written by the Python `safetensors` library, by Hugging Face tools,
 * or by hand) into a model: the file is read through its store like any checkpoint file, the model's
 * weights are matched to its tensors by name only (the Python writer orders the data by dtype and
 * name, not as the model does, so matching by order could put same-shaped weights in each other's
 * places), and everything is checked before any weight is changed.
 */
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { CheckpointError } from '../errors.js';
import { readSafetensorsHeader, readSafetensorsTensor, safetensorsSpecs } from '../formats/safetensors.js';
import { keyBasename, keyDirname } from '../stores/keys.js';
import type { Location } from '../stores/registry.js';
import { planWeightAssignment, writeModelWeights } from './model_io.js';
import type { StoredWeight } from './read.js';

export function isSafetensorsPath(path: string): boolean {
  return /\.safetensors\/*$/i.test(path);
}

export async function loadSafetensorsWeights(model: LayersModel, location: Location, strict: boolean): Promise<void> {
  const reader = await location.store.open(keyDirname(location.key));
  const file = await reader?.open(keyBasename(location.key));
  if (!reader || !file) {
    await reader?.close();
    throw new CheckpointError('NOT_FOUND', `No safetensors file at ${location.url}.`);
  }
  const pairs: [number, StoredWeight][] = [];
  try {
    const header = await readSafetensorsHeader(file, location.url);
    const specs = safetensorsSpecs(header);
    for (const [target, index] of planWeightAssignment(model, specs, strict, location.url, false)) {
      pairs.push([target, { spec: specs[index]!, bytes: await readSafetensorsTensor(file, header.tensors[index]!) }]);
    }
    await reader.confirm();
  } finally {
    await reader.close();
  }
  writeModelWeights(model, pairs);
}
