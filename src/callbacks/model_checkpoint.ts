/**
 * ModelCheckpoint for TF.js: the Keras callback's contract (TF 2.0/2.1, where an integer `saveFreq`
 * counts samples), in TF.js conventions. This class only decides *whether* an event saves and *where*;
 * the checkpoint layer does the writing.
 */
import { Callback, type LayersModel } from '@tensorflow/tfjs-layers';
import { CheckpointError } from '../errors.js';
import { formatScore, initialBest, isImprovement, resolveDirection, type Direction, type Mode } from '../policy/monitor.js';
import { SaveSchedule, type SaveFreq } from '../policy/save_schedule.js';
import { resolveAlias } from '../template/alias.js';
import { formatFilepath, type TemplateValue } from '../template/format.js';
import { templateFieldNames } from '../template/parse.js';
import { assertSupportedPath, loadWeights, saveModel, saveWeights } from '../checkpoint/save_load.js';
import { latestCheckpoint } from '../checkpoint/latest.js';
import type { SaveContext } from '../checkpoint/write.js';
import { encodeNumber } from '../formats/schema.js';
import { readLogValue, resolveLogs } from './logs.js';

/** Where messages go. Replace it to route them into your own logging. */
export interface CheckpointLogger {
  /** Verbose progress lines (only when `verbose > 0`). */
  log(message: string): void;
  /** Warnings (always, as in Keras). */
  warn(message: string): void;
}

export const consoleLogger: CheckpointLogger = {
  log: (message) => console.log(message),
  warn: (message) => console.warn(message),
};

export interface ModelCheckpointArgs {
  /**
   * Where to save, as a Python `str.format` template: `{epoch}` (1-based), `{batch}` (1-based, batch-level
   * saves only) and any logged metric (`{val_loss:.2f}`, `{acc:.4f}`; `accuracy` finds TF.js's `acc`).
   * Each checkpoint is a directory. Plain paths or `file://` URLs. Example: `'ckpt/weights.{epoch:02d}-{val_loss:.2f}'`.
   */
  filepath: string;
  /** The metric that `saveBestOnly` compares. Default `'val_loss'`. `val_accuracy` and `val_acc` are the same metric. */
  monitor?: string;
  /** 0 prints nothing; 1 prints a line per save decision, in Keras's wording. Default 0. */
  verbose?: number;
  /** Save only when the monitored metric strictly improves on the best so far. Default false. */
  saveBestOnly?: boolean;
  /** Save only the weights (loadable with `loadWeights`), not the topology and optimizer. Default false. */
  saveWeightsOnly?: boolean;
  /**
   * `'min'`, `'max'` or `'auto'` (default): whether a lower or higher monitored value is better. 'auto'
   * picks max for names containing `acc` or starting with `fmeasure` (Keras's rule) and for TF.js's
   * maximised metrics (precision, recall, AUC, …), min otherwise. An unknown mode warns and uses 'auto'.
   */
  mode?: Mode;
  /**
   * `'epoch'` (default) saves after every epoch; a positive integer saves whenever that many training
   * samples have been seen since the last save (counted across epochs, as in Keras 2.0/2.1).
   */
  saveFreq?: SaveFreq;
  /** @deprecated Use `saveFreq`. Saves every `period` epochs. Default 1. */
  period?: number;
  /** The best value to beat initially (Keras's `initial_value_threshold`). Default: +inf for min, -inf for max. */
  initialValueThreshold?: number;
  /**
   * @deprecated As in Keras: load the weights before calling fit() instead. At the start of training,
   * loads the newest checkpoint matching `filepath` (if any) into the model. Default false.
   */
  loadWeightsOnRestart?: boolean;
  /** Full-model saves include the optimizer state and training config, so training resumes exactly. Default true. */
  includeOptimizer?: boolean;
  /** Largest weight file, in bytes; larger models are split into shards. Default 256 MiB. */
  maxShardBytes?: number;
  /** Where messages and warnings go. Default: the console. */
  logger?: CheckpointLogger;
}

const KNOWN_ARGS = new Set([
  'filepath',
  'monitor',
  'verbose',
  'saveBestOnly',
  'saveWeightsOnly',
  'mode',
  'saveFreq',
  'period',
  'initialValueThreshold',
  'loadWeightsOnRestart',
  'includeOptimizer',
  'maxShardBytes',
  'logger',
]);

function camelCase(name: string): string {
  return name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

function invalid(message: string): CheckpointError {
  return new CheckpointError('INVALID_ARGUMENT', message);
}

function validateArgs(args: ModelCheckpointArgs): void {
  if (args == null || typeof args !== 'object') throw invalid('modelCheckpoint() needs an options object with at least a `filepath`.');
  for (const key of Object.keys(args)) {
    if (KNOWN_ARGS.has(key)) continue;
    const suggestion = KNOWN_ARGS.has(camelCase(key)) ? ` Did you mean \`${camelCase(key)}\`? (TF.js options are camelCase.)` : '';
    throw invalid(`Unknown ModelCheckpoint option \`${key}\`.${suggestion} Known options: ${[...KNOWN_ARGS].join(', ')}.`);
  }
  if (typeof args.filepath !== 'string' || args.filepath.length === 0) {
    throw invalid('ModelCheckpoint needs a `filepath` (a non-empty string such as "checkpoints/weights.{epoch:02d}").');
  }
  if (args.monitor !== undefined && (typeof args.monitor !== 'string' || args.monitor.length === 0)) {
    throw invalid(`\`monitor\` must be a metric name such as 'val_loss'; got ${JSON.stringify(args.monitor)}.`);
  }
  if (args.verbose !== undefined && (typeof args.verbose !== 'number' || !Number.isFinite(args.verbose))) {
    throw invalid(`\`verbose\` must be 0 or 1; got ${JSON.stringify(args.verbose)}.`);
  }
  for (const key of ['saveBestOnly', 'saveWeightsOnly', 'includeOptimizer', 'loadWeightsOnRestart'] as const) {
    if (args[key] !== undefined && typeof args[key] !== 'boolean') throw invalid(`\`${key}\` must be true or false; got ${JSON.stringify(args[key])}.`);
  }
  const freq = args.saveFreq;
  if (freq !== undefined && freq !== 'epoch' && !(typeof freq === 'number' && Number.isInteger(freq) && freq > 0)) {
    throw invalid(
      `Unrecognized saveFreq: ${typeof freq === 'string' ? freq : JSON.stringify(freq)}. Expected 'epoch' or a positive integer ` +
        '(the number of training samples seen between saves).',
    );
  }
  if (args.period !== undefined && !(Number.isInteger(args.period) && args.period > 0)) {
    throw invalid(`\`period\` must be a positive integer number of epochs; got ${JSON.stringify(args.period)}.`);
  }
  if (args.initialValueThreshold !== undefined && typeof args.initialValueThreshold !== 'number') {
    throw invalid(`\`initialValueThreshold\` must be a number; got ${JSON.stringify(args.initialValueThreshold)}.`);
  }
  if (args.maxShardBytes !== undefined && !(Number.isInteger(args.maxShardBytes) && args.maxShardBytes > 0)) {
    throw invalid(`\`maxShardBytes\` must be a positive integer; got ${JSON.stringify(args.maxShardBytes)}.`);
  }
  if (args.logger !== undefined && (typeof args.logger?.log !== 'function' || typeof args.logger?.warn !== 'function')) {
    throw invalid('`logger` must have log(message) and warn(message) methods.');
  }
  assertSupportedPath(args.filepath, 'ModelCheckpoint cannot save to');
  const fields = templateFieldNames(args.filepath);
  if (fields.includes('batch') && (freq === undefined || freq === 'epoch')) {
    throw invalid(
      `The filepath ${args.filepath} uses {batch}, which only exists for batch-level saves. ` +
        'Set saveFreq to a number of samples, or remove {batch} from the filepath.',
    );
  }
}

/** The value of `name` in `values`, also under its `acc`/`accuracy` alias. */
function lookupMetric(values: Record<string, number>, name: string): number | undefined {
  if (name in values) return values[name];
  const alias = resolveAlias(name, (k) => k in values);
  return alias === undefined ? undefined : values[alias];
}

export class ModelCheckpoint extends Callback {
  readonly filepath: string;
  readonly monitor: string;
  readonly verbose: number;
  readonly saveBestOnly: boolean;
  readonly saveWeightsOnly: boolean;
  readonly mode: Mode;
  readonly saveFreq: SaveFreq;
  readonly period: number;
  readonly initialValueThreshold: number | undefined;
  readonly includeOptimizer: boolean;
  readonly loadWeightsOnRestart: boolean;
  readonly maxShardBytes: number | undefined;
  private readonly logger: CheckpointLogger;
  private readonly direction: Direction;
  private readonly schedule: SaveSchedule;
  /** The best monitored value so far (Keras's `best`). */
  best: number;
  private currentEpoch = 0;
  private globalStep = 0;
  private samplesSeen = 0;

  constructor(args: ModelCheckpointArgs) {
    super();
    validateArgs(args);
    this.filepath = args.filepath;
    this.monitor = args.monitor ?? 'val_loss';
    this.verbose = args.verbose ?? 0;
    this.saveBestOnly = args.saveBestOnly ?? false;
    this.saveWeightsOnly = args.saveWeightsOnly ?? false;
    this.saveFreq = args.saveFreq ?? 'epoch';
    this.period = args.period ?? 1;
    this.initialValueThreshold = args.initialValueThreshold;
    this.includeOptimizer = args.includeOptimizer ?? true;
    this.loadWeightsOnRestart = args.loadWeightsOnRestart ?? false;
    this.maxShardBytes = args.maxShardBytes;
    this.logger = args.logger ?? consoleLogger;
    if (args.period !== undefined) {
      this.logger.warn('`period` argument is deprecated. Please use `saveFreq` to specify the frequency in number of samples seen.');
    }
    if (args.loadWeightsOnRestart !== undefined) {
      this.logger.warn(
        '`loadWeightsOnRestart` argument is deprecated. Please use `loadWeights(model, path)` (or `loadModel(path)`) before the start of `model.fit()`.',
      );
    }
    let mode = args.mode ?? 'auto';
    if (mode !== 'auto' && mode !== 'min' && mode !== 'max') {
      this.logger.warn(`ModelCheckpoint mode ${String(mode)} is unknown, fallback to auto mode.`);
      mode = 'auto';
    }
    this.mode = mode;
    this.direction = resolveDirection(mode, this.monitor);
    this.best = initialBest(this.direction, this.initialValueThreshold);
    this.schedule = new SaveSchedule(this.saveFreq, this.period);
  }

  /** 'min' or 'max': the direction 'auto' resolved to. */
  get monitorDirection(): Direction {
    return this.direction;
  }

  override async onTrainBegin(_logs?: Record<string, unknown>): Promise<void> {
    if (!this.loadWeightsOnRestart) return;
    const path = await latestCheckpoint(this.filepath);
    if (path === null) return;
    try {
      await loadWeights(this.model as LayersModel, path);
    } catch (e) {
      throw new CheckpointError(
        e instanceof CheckpointError ? e.code : 'IO_ERROR',
        `Error loading file from ${path}. Reason: ${(e as Error).message}`,
        { cause: e },
      );
    }
  }

  override async onEpochBegin(epoch: number, _logs?: Record<string, unknown>): Promise<void> {
    this.currentEpoch = epoch;
  }

  override async onBatchEnd(batch: number, logs?: Record<string, unknown>): Promise<void> {
    const size = await readLogValue(logs?.['size']);
    this.globalStep += 1;
    this.samplesSeen += size ?? 0;
    if (this.schedule.batchEnded(size)) await this.saveModel(this.currentEpoch, batch, logs);
  }

  override async onEpochEnd(epoch: number, logs?: Record<string, unknown>): Promise<void> {
    this.currentEpoch = epoch;
    if (this.schedule.epochEnded()) await this.saveModel(epoch, null, logs);
  }

  /** Formats the path for this save, applies the best-only rule, prints Keras's lines, writes. */
  private async saveModel(epoch: number, batch: number | null, logs: Record<string, unknown> | undefined): Promise<void> {
    const values = await resolveLogs(logs);
    const templateValues: Record<string, TemplateValue> = { ...values, epoch: epoch + 1 };
    // TF.js batch logs hold a 0-based `batch`; templates get Keras's 1-based batch, and only in batch-level saves.
    delete templateValues['batch'];
    if (batch !== null) templateValues['batch'] = batch + 1;
    const path = formatFilepath(this.filepath, templateValues);
    const label = `Epoch ${epoch + 1}`;
    if (!this.saveBestOnly) {
      if (this.verbose > 0) this.logger.log(`${label}: saving model to ${path}`);
      await this.write(path, epoch, batch, values);
      return;
    }
    const current = lookupMetric(values, this.monitor);
    if (current === undefined) {
      this.logger.warn(
        `Can save best model only with ${this.monitor} available, skipping. Available: ${Object.keys(values).sort().join(', ') || '(none)'}.`,
      );
      return;
    }
    if (isImprovement(this.direction, current, this.best)) {
      if (this.verbose > 0) {
        this.logger.log(`${label}: ${this.monitor} improved from ${formatScore(this.best)} to ${formatScore(current)}, saving model to ${path}`);
      }
      this.best = current;
      await this.write(path, epoch, batch, values);
    } else if (this.verbose > 0) {
      this.logger.log(`${label}: ${this.monitor} did not improve from ${formatScore(this.best)}`);
    }
  }

  private async write(path: string, epoch: number, batch: number | null, metrics: Record<string, number>): Promise<void> {
    const model = this.model as LayersModel;
    const context: SaveContext = {
      epoch: epoch + 1,
      batch: batch === null ? null : batch + 1,
      step: this.globalStep,
      samplesSeen: this.samplesSeen,
      metrics,
      monitor: {
        name: this.monitor,
        mode: this.direction,
        value: encodeOrNull(lookupMetric(metrics, this.monitor)),
        best: encodeOrNull(this.best),
      },
    };
    if (this.saveWeightsOnly) {
      await saveWeights(model, path, { maxShardBytes: this.maxShardBytes, context });
    } else {
      await saveModel(model, path, { includeOptimizer: this.includeOptimizer, maxShardBytes: this.maxShardBytes, context });
    }
  }
}

function encodeOrNull(value: number | undefined): ReturnType<typeof encodeNumber> | null {
  return value === undefined ? null : encodeNumber(value);
}

/** Creates a ModelCheckpoint callback (the factory form, like `tf.callbacks.earlyStopping`). */
export function modelCheckpoint(args: ModelCheckpointArgs): ModelCheckpoint {
  return new ModelCheckpoint(args);
}
