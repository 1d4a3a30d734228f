/**
 * The page of page_hide.test.ts (window.pageHide): training with `backupAndRestore`, interrupted by
 * the page being hidden in the middle of epoch 2, then never going on (as a hidden tab's training
 * waits on animation frames); and, after the tab is closed, a new page restoring from the backups.
 */
import * as tf from '@tensorflow/tfjs';
import { backupAndRestore, CheckpointManager, restoreTraining } from '../../src/universal.js';

declare global {
  interface Window {
    pageHide?: typeof api;
    hiddenState?: { predictions: number[]; restoredFrom: string | null };
  }
}

function build(): tf.LayersModel {
  const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 8, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 5 }) }), tf.layers.dense({ units: 1, kernelInitializer: tf.initializers.glorotUniform({ seed: 6 }) })] });
  model.compile({ optimizer: 'adam', loss: 'meanSquaredError' });
  return model;
}

const x = tf.tensor2d(Array.from({ length: 64 * 4 }, (_, i) => Math.sin(i)), [64, 4]);
const y = tf.tensor2d(Array.from({ length: 64 }, (_, i) => Math.cos(i)), [64, 1]);
const predict = async (m: tf.LayersModel) => Array.from(await (m.predict(x.slice(0, 4)) as tf.Tensor).data());

/** What a browser does when the tab is switched away or closed: the page becomes hidden. */
function hidePage(): void {
  Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
  document.dispatchEvent(new Event('visibilitychange'));
}

const api = {
  /** Trains 3 epochs of 16 batches; at batch 6 of epoch 2 the page is hidden, and training never goes on. */
  train(dir: string, saveOnPageHide: boolean): void {
    const model = build();
    const backups = backupAndRestore({ backupDir: dir, saveOnPageHide, deleteCheckpoint: false });
    const interrupt = new tf.CustomCallback({
      onBatchEnd: async (batch) => {
        if (epoch !== 1 || batch !== 5) return;
        const predictions = await predict(model);
        hidePage();
        await backups.flush();
        window.hiddenState = { predictions, restoredFrom: null };
        await new Promise(() => undefined);
      },
    });
    let epoch = 0;
    const track = new tf.CustomCallback({ onEpochBegin: async (e) => void (epoch = e) });
    void model.fit(x, y, { epochs: 3, batchSize: 4, shuffle: false, verbose: 0, callbacks: [track, backups, interrupt] });
  },
  /** In a new page: what restoreTraining gives. */
  async restore(dir: string) {
    const { model, initialEpoch, restoredFrom } = await restoreTraining(dir, build);
    const metadata = (await new CheckpointManager({ directory: dir, name: 'backup-{step:012d}' }).latest())?.metadata;
    return { initialEpoch, restoredFrom, batch: metadata?.batch ?? null, step: metadata?.step ?? null, predictions: await predict(model) };
  },
};

window.pageHide = api;
