/**
 * `export`: one checkpoint converted to another format through the library's own writers (saveModel
 * for full models; a CheckpointManager save for weights-only checkpoints), so the result is committed
 * atomically and carries checksums like any checkpoint.
 */
import { Option, type Command } from 'commander';
import type { NamedTensorMap } from '@tensorflow/tfjs-core';
import { CheckpointManager, saveModel } from '../../index.js';
import { formatBytes } from '../format.js';
import { EXIT_OK, UsageError } from '../errors.js';
import { extensionOf, formatOfName, locate, type CheckpointFormat } from '../locate.js';
import { singleEntry, isCheckpoint } from '../catalog.js';
import { loadWeightsOf } from '../tensors.js';
import type { CommonOptions, Context } from '../context.js';

interface ExportOptions extends CommonOptions {
  to?: CheckpointFormat | 'h5';
  force?: boolean;
}

/** The destination with the extension `format` needs; refuses a destination that names another format. */
function destinationFor(dest: string, format: CheckpointFormat | undefined): { dest: string; format: CheckpointFormat } {
  const named = formatOfName(dest);
  if (format === undefined) return { dest, format: named };
  if (named === format || (format === 'h5' && named === 'weights.h5')) return { dest, format: named };
  if (named !== 'tfjs') throw new UsageError(`${dest} names a .${named} file, but --to is ${format}: give a destination ending in ${extensionOf(format) || 'no extension (a folder)'}, or drop --to.`);
  return { dest: `${dest.replace(/\/+$/, '')}${extensionOf(format)}`, format };
}

export function registerExport(program: Command, context: Context): void {
  program
    .command('export')
    .description('convert a checkpoint to another format: a TF.js folder, Keras .h5/.weights.h5/.keras, or safetensors')
    .argument('<checkpoint>', 'the checkpoint to convert (any format), or its URL')
    .argument('<dest>', 'where to write it (the extension is added when missing)')
    .addOption(new Option('--to <format>', 'the format to write (default: from the extension of <dest>)').choices(['tfjs', 'h5', 'weights.h5', 'keras', 'safetensors']))
    .option('--force', 'replace what is at <dest>')
    .addHelpText(
      'after',
      `
Full models convert to every format (.keras and .h5 need layers that translate to Keras);
weights-only checkpoints to tfjs, safetensors and .weights.h5/.h5 weights.

Examples:
  $ tfjs-checkpoint export checkpoints/best --to keras best.keras
  $ tfjs-checkpoint export best.keras --to tfjs best-tfjs
  $ tfjs-checkpoint export run/ckpt-00000120 --to safetensors model.safetensors`,
    )
    .action(context.action(async (arg: string, destArg: string, options: ExportOptions) => {
      await context.prepare([arg, destArg], options);
      const source = locate(arg, 'the checkpoint');
      if (!(await isCheckpoint(source)) || !(await source.store.exists(source.key))) {
        throw new UsageError(`${source.url}: no checkpoint there. Give a checkpoint folder or a .safetensors/.h5/.keras file.`);
      }
      const { dest, format } = destinationFor(destArg, options.to);
      const target = locate(dest, 'the destination');
      if (target.key === source.key && target.scheme === source.scheme) throw new UsageError('the destination is the checkpoint itself: choose another path.');
      if (!options.force && (await target.store.exists(target.key))) throw new UsageError(`${target.url} exists: choose another destination, or pass --force to replace it.`);
      const from = await singleEntry(source);
      const loaded = await loadWeightsOf(source.url);
      const context_ = from.metadata
        ? { epoch: from.metadata.epoch, step: from.metadata.step, batch: from.metadata.batch, samplesSeen: from.metadata.samplesSeen, metrics: Object.fromEntries(Object.entries(from.metadata.metrics).filter((e): e is [string, number] => typeof e[1] === 'number')), monitor: from.metadata.monitor }
        : undefined;
      if (loaded.model) {
        await saveModel(loaded.model, target.url, context_ ? { context: context_ } : {});
      } else {
        if (format === 'keras') throw new UsageError(`${source.url} holds weights only, and a .keras file holds a whole model: export to tfjs, safetensors or .weights.h5.`);
        const tensors: NamedTensorMap = Object.fromEntries(loaded.weights.map((w) => [w.name, w.tensor]));
        const manager = new CheckpointManager({ filepath: target.url, saveWeightsOnly: true, asyncSave: false, versionOnClash: false, logger: { warn: () => undefined } });
        await manager.save(from.metadata?.step ?? 0, tensors, { epoch: from.metadata?.epoch ?? null, ...(context_ ? { metrics: context_.metrics } : {}) });
        await manager.wait();
      }
      const written = await singleEntry(target);
      const count = loaded.weights.length;
      if (options.json) {
        context.out(JSON.stringify({ format: 'tfjs-checkpoint-export', version: 1, from: source.url, fromFormat: from.format, to: target.url, toFormat: format, weights: count, bytes: written.bytes ?? null }, null, 2));
      } else {
        context.out(`Exported ${source.url} (${from.format}) to ${target.url} (${format}): ${count} weights${written.bytes !== undefined ? `, ${formatBytes(written.bytes)}` : ''}.`);
      }
      return EXIT_OK;
    }));
}
