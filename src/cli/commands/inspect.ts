/** `inspect`: what one checkpoint is (format, versions, who wrote it and when), its layers and its weights. */
import type { Command } from 'commander';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { singleEntry, isCheckpoint } from '../catalog.js';
import { formatBytes, formatMetric, formatShape, table } from '../format.js';
import { EXIT_OK, UsageError } from '../errors.js';
import { locate } from '../locate.js';
import type { Location } from '../../index.js';
import { loadWeightsOf } from '../tensors.js';
import { weightStats, type WeightStats } from '../stats.js';
import type { CommonOptions, Context } from '../context.js';

interface InspectOptions extends CommonOptions {
  stats?: boolean;
}

const BYTES_PER_ELEMENT: Record<string, number> = { float32: 4, int32: 4, bool: 1 };

const FORMAT_NAMES: Record<string, string> = {
  tfjs: 'TF.js layers folder (model.json / weights.json + shards)',
  safetensors: 'safetensors',
  h5: 'Keras HDF5 (tf.keras 2 layout)',
  'weights.h5': 'Keras 3 weights (.weights.h5)',
  keras: 'Keras 3 archive (.keras)',
};

/** What a TF.js folder's model.json says about itself (its format and what generated it); small JSON only. */
async function modelJsonHeader(location: Location): Promise<{ format?: string; generatedBy?: string; convertedBy?: string } | undefined> {
  const reader = await location.store.open(location.key);
  if (!reader) return undefined;
  try {
    const file = await reader.open('model.json');
    if (!file || file.size > 64 * 1024 * 1024) return undefined;
    const bytes = new Uint8Array(file.size);
    await file.read(bytes, 0, file.size, 0);
    const json = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
    const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
    return { format: text(json['format']), generatedBy: text(json['generatedBy']), convertedBy: text(json['convertedBy']) };
  } catch {
    return undefined;
  } finally {
    await reader.close();
  }
}

/** The layer table `model.summary()` prints, captured. */
function summaryOf(model: LayersModel): string[] {
  const lines: string[] = [];
  model.summary(100, undefined, (line: string) => lines.push(line));
  return lines;
}

function layersOf(model: LayersModel): { name: string; className: string; outputShape: unknown; params: number }[] {
  return model.layers.map((layer) => ({
    name: layer.name,
    className: layer.getClassName(),
    outputShape: (() => {
      try {
        return layer.outputShape;
      } catch {
        return null;
      }
    })(),
    params: layer.countParams(),
  }));
}

export function registerInspect(program: Command, context: Context): void {
  program
    .command('inspect')
    .description('show one checkpoint: format and versions, what wrote it and when, its layers and weights')
    .argument('<checkpoint>', 'a checkpoint folder or file (.safetensors, .h5, .weights.h5, .keras), or its URL')
    .option('--stats', 'add min, max, mean, std and the count of NaN/Inf per weight')
    .addHelpText(
      'after',
      `
Examples:
  $ tfjs-checkpoint inspect checkpoints/weights.07-0.31
  $ tfjs-checkpoint inspect model.keras --stats
  $ tfjs-checkpoint inspect s3://bucket/run/ckpt-00000120 --json`,
    )
    .action(context.action(async (arg: string, options: InspectOptions) => {
      await context.prepare([arg], options);
      const location = locate(arg, 'the checkpoint');
      if (!(await isCheckpoint(location)) || !(await location.store.exists(location.key))) {
        throw new UsageError(`${location.url}: no checkpoint there (no checkpoint.json, model.json or weights.json, and no .safetensors/.h5/.keras file). Use \`list\` to see the checkpoints of a directory.`);
      }
      const entry = await singleEntry(location);
      const loaded = await loadWeightsOf(location.url);
      const stats: (WeightStats | undefined)[] = [];
      for (const w of loaded.weights) stats.push(options.stats ? await weightStats(w.tensor) : undefined);
      const weights = loaded.weights.map((w, i) => ({
        name: w.name,
        shape: w.tensor.shape,
        dtype: w.tensor.dtype,
        bytes: w.tensor.size * (BYTES_PER_ELEMENT[w.tensor.dtype] ?? 4),
        ...(stats[i] ? { stats: stats[i] } : {}),
      }));
      const m = entry.metadata;
      const header = entry.format === 'tfjs' ? await modelJsonHeader(location) : undefined;
      const kind = m?.kind ?? (loaded.model ? 'model' : 'weights');
      if (options.json) {
        context.out(
          JSON.stringify(
            {
              format: 'tfjs-checkpoint-inspect',
              version: 1,
              path: entry.url,
              checkpointFormat: entry.format,
              kind,
              bytes: entry.bytes ?? null,
              metadata: m ?? null,
              modelJson: header ?? null,
              layers: loaded.model ? layersOf(loaded.model) : null,
              weights,
              totalBytes: weights.reduce((n, w) => n + w.bytes, 0),
            },
            null,
            2,
          ),
        );
        return EXIT_OK;
      }
      const paint = context.paint();
      const lines = [
        `${paint.bold('Checkpoint')}  ${entry.url}`,
        `Format      ${FORMAT_NAMES[entry.format]}, ${kind === 'model' ? 'full model' : 'weights only'}${entry.bytes !== undefined ? `, ${formatBytes(entry.bytes)}` : ''}`,
      ];
      if (header?.format || header?.generatedBy) {
        lines.push(`Model JSON  ${[header.format, header.generatedBy && `generated by ${header.generatedBy}`, header.convertedBy && `converted by ${header.convertedBy}`].filter(Boolean).join(', ')}`);
      }
      if (m) {
        lines.push(
          `Metadata    ${m.format} version ${m.formatVersion}`,
          `Written by  ${m.library.name} ${m.library.version}${m.tfjsVersion ? `, TF.js ${m.tfjsVersion}` : ''}`,
          `Created     ${m.createdAt}${m.committedAt ? ` (committed ${m.committedAt})` : ''}`,
          `Epoch       ${m.epoch ?? '-'}   step ${m.step ?? '-'}   batch ${m.batch ?? '-'}   samples seen ${m.samplesSeen ?? '-'}`,
        );
        // Keras tracks the best only when saving the best only; an unset best (±Infinity) says nothing.
        const best = m.monitor && m.monitor.best !== null && Number.isFinite(Number(m.monitor.best)) ? `, best so far ${formatMetric(m.monitor.best)}` : '';
        if (m.monitor) lines.push(`Monitor     ${m.monitor.name} (${m.monitor.mode}) = ${formatMetric(m.monitor.value)}${best}`);
        const metrics = Object.entries(m.metrics);
        if (metrics.length) lines.push(`Metrics     ${metrics.map(([k, v]) => `${k}=${formatMetric(v)}`).join('  ')}`);
        if (m.template) lines.push(`Template    ${m.template}`);
      } else {
        lines.push('Metadata    none of tfjs-checkpoint (written by another tool: stock TF.js, Keras or PyTorch)');
      }
      if (loaded.model) lines.push('', paint.bold('Layers'), ...summaryOf(loaded.model));
      const head = ['weight', 'shape', 'dtype', 'bytes', ...(options.stats ? ['min', 'max', 'mean', 'std', 'NaN', 'Inf'] : [])];
      const rows = weights.map((w) => [
        w.name,
        formatShape(w.shape),
        w.dtype,
        String(w.bytes),
        ...(w.stats ? [formatMetric(w.stats.min), formatMetric(w.stats.max), formatMetric(w.stats.mean), formatMetric(w.stats.std), String(w.stats.nan), String(w.stats.inf)] : []),
      ]);
      const right = new Set([3, 4, 5, 6, 7, 8, 9]);
      lines.push('', paint.bold('Weights'), table(head, rows, right), `${weights.length} weights, ${formatBytes(weights.reduce((n, w) => n + w.bytes, 0))}`);
      const bad = weights.filter((w) => w.stats && (w.stats.nan > 0 || w.stats.inf > 0));
      if (bad.length) lines.push(paint.red(`${bad.length} weight${bad.length === 1 ? ' holds' : 's hold'} NaN or Inf values: ${bad.map((w) => w.name).join(', ')}`));
      context.out(lines.join('\n'));
      return EXIT_OK;
    }));
}
