/**
 * What a TF.js user writes today without a file:// handler: model.save() into memory (one
 * model-sized concatenated buffer), then two writeFile calls, no fsync, in the tfjs-node layout.
 */
import * as tf from '@tensorflow/tfjs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export async function naiveSave(model: tf.LayersModel, dir: string): Promise<void> {
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const data = artifacts.weightData;
      const bin = data === undefined ? Buffer.alloc(0) : Array.isArray(data) ? Buffer.concat(data.map((b) => Buffer.from(b))) : Buffer.from(data);
      const modelJson = {
        ...artifacts,
        weightData: undefined,
        weightSpecs: undefined,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }],
      };
      await writeFile(join(dir, 'model.json'), JSON.stringify(modelJson));
      await writeFile(join(dir, 'weights.bin'), bin);
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    }),
  );
}
