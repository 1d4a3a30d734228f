// The browser example: plain JavaScript, no build step. TF.js and tfjs-checkpoint come from the import map.
import * as tf from '@tensorflow/tfjs';
import { CheckpointManager, backupAndRestore, modelCheckpoint, restoreTraining } from '/tfjs-checkpoint.js';

const $ = (id) => document.getElementById(id);
const EPOCHS_PER_CLICK = Number(new URLSearchParams(location.search).get('epochs') ?? 5);
$('train').textContent = `Train ${EPOCHS_PER_CLICK} epochs`;

const store = () => document.querySelector('input[name=store]:checked').value;
const runDir = () => `${store()}://demo`;
const template = () => `${runDir()}/flowers-{epoch:02d}`;

/** Three classes of four-feature points around fixed centres, the same on every visit (seeded). */
function makeData(n, seed) {
  let s = seed;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const gauss = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
  const centres = [[5.0, 3.4, 1.5, 0.2], [5.9, 2.8, 4.3, 1.3], [6.6, 3.0, 5.5, 2.0]];
  const xs = [], ys = [];
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    xs.push(centres[c].map((m) => m + 0.45 * gauss()));
    ys.push([0, 1, 2].map((k) => (k === c ? 1 : 0)));
  }
  return { x: tf.tensor2d(xs), y: tf.tensor2d(ys) };
}
const train = makeData(240, 1);
const valid = makeData(60, 2);

function buildModel() {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [4], units: 16, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
      tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
    ],
  });
  model.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  return model;
}

function manager() {
  return new CheckpointManager({ directory: runDir(), name: 'flowers-{epoch:02d}', monitor: 'val_acc', mode: 'max' });
}

/** The table and the chart, from what is in the store (so they survive reloads). */
async function render() {
  const records = await manager().list();
  const best = records.reduce((b, r) => (b === undefined || (r.metadata.metrics?.val_acc ?? -1) > (b.metadata.metrics?.val_acc ?? -1) ? r : b), undefined);
  const latest = records[records.length - 1];
  $('checkpoints').innerHTML = records
    .map((r) => {
      const m = r.metadata.metrics ?? {};
      const size = r.metadata.files.reduce((n, f) => n + f.size, 0);
      const tags = `${r === best ? '<span class="tag best">best</span>' : ''}${r === latest ? '<span class="tag latest">latest</span>' : ''}`;
      return `<tr><td>${r.path}</td><td>${r.metadata.epoch}</td><td>${(m.val_acc ?? NaN).toFixed(4)}</td><td>${(m.val_loss ?? NaN).toFixed(4)}</td><td>${(size / 1024).toFixed(1)} KiB</td><td>${tags}</td></tr>`;
    })
    .join('');
  drawChart(records, best);
  return records;
}

function drawChart(records, best) {
  const canvas = $('chart');
  const g = canvas.getContext('2d');
  const W = canvas.width, H = canvas.height, pad = 32;
  g.clearRect(0, 0, W, H);
  g.font = '12px system-ui';
  g.fillStyle = '#555';
  g.fillText('val_acc (green) and val_loss (blue) by epoch; the best checkpoint circled', pad, 16);
  if (records.length === 0) return;
  const epochs = records.map((r) => r.metadata.epoch);
  const maxEpoch = Math.max(...epochs, 2);
  const maxLoss = Math.max(...records.map((r) => r.metadata.metrics?.val_loss ?? 0), 1e-6);
  const x = (e) => pad + ((e - 1) / (maxEpoch - 1)) * (W - 2 * pad);
  const y = (v) => H - pad - v * (H - 2 * pad - 10);
  const line = (values, colour) => {
    g.strokeStyle = colour;
    g.lineWidth = 2;
    g.beginPath();
    records.forEach((r, i) => (i ? g.lineTo : g.moveTo).call(g, x(r.metadata.epoch), y(values(r))));
    g.stroke();
  };
  line((r) => r.metadata.metrics?.val_acc ?? 0, '#2a9d2a');
  line((r) => (r.metadata.metrics?.val_loss ?? 0) / maxLoss, '#3465c9');
  if (best) {
    g.strokeStyle = '#111';
    g.beginPath();
    g.arc(x(best.metadata.epoch), y(best.metadata.metrics?.val_acc ?? 0), 6, 0, 2 * Math.PI);
    g.stroke();
  }
  g.fillStyle = '#555';
  g.fillText(`epoch ${maxEpoch}`, W - pad - 50, H - 10);
  g.fillText('1', pad, H - 10);
}

async function trainMore() {
  $('train').disabled = true;
  try {
    // Picks up where the last run (in this tab or before a reload) stopped.
    const { model, initialEpoch } = await restoreTraining(`${runDir()}/backup`, buildModel);
    $('status').textContent = initialEpoch > 0 ? `Resumed at epoch ${initialEpoch}; training…` : 'Training…';
    await model.fit(train.x, train.y, {
      epochs: initialEpoch + EPOCHS_PER_CLICK,
      initialEpoch,
      batchSize: 32,
      shuffle: false,
      validationData: [valid.x, valid.y],
      callbacks: [
        modelCheckpoint({ filepath: template(), monitor: 'val_acc', mode: 'max' }),
        backupAndRestore({ backupDir: `${runDir()}/backup`, deleteCheckpoint: false }),
        new tf.CustomCallback({ onEpochEnd: async () => void (await render()) }),
      ],
    });
    const records = await render();
    $('status').textContent = `Trained to epoch ${records[records.length - 1]?.metadata.epoch}. Reload the page: everything is still here.`;
  } catch (e) {
    $('status').textContent = `Failed: ${e.message}`;
    throw e;
  } finally {
    $('train').disabled = false;
  }
}

async function reset() {
  const m = manager();
  for (const r of await m.list()) await m.delete(r.path);
  const backups = new CheckpointManager({ directory: `${runDir()}/backup`, name: 'backup-{step:012d}' });
  for (const r of await backups.list()) await backups.delete(r.path);
  $('status').textContent = 'Deleted.';
  await render();
}

$('train').onclick = trainMore;
$('reset').onclick = reset;
for (const radio of document.querySelectorAll('input[name=store]')) radio.onchange = () => render();
await tf.setBackend('cpu');
const existing = await render();
$('status').textContent = existing.length
  ? `Found ${existing.length} checkpoints from an earlier visit (latest: epoch ${existing[existing.length - 1].metadata.epoch}).`
  : 'No checkpoints yet.';
window.demoReady = true;
