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
import { loadWeights } from '../checkpoint/save_load.js';
import { assertFileCodec } from '../checkpoint/file_codec.js';
import { assertFormatHolds } from '../checkpoint/single_file.js';
import { singleFileFormat } from '../formats/file_names.js';
import { CheckpointManager, SAVE_BEHAVIOUR_OPTIONS, type SaveBehaviourOptions, type UploadReport } from '../checkpoint/manager.js';
import { bestCandidate, RETENTION_OPTIONS, retentionProblem, type RetentionOptions } from '../policy/retention.js';
import { latestCheckpoint } from '../checkpoint/latest.js';
import { readLogValue, resolveLogs } from './logs.js';
import { BatchClock, eventLoopTurn, giveTurns } from './event_loop_turn.js';

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

/**
 * The callback's options. Retention (`keep`, `saveTopK`, `keepLast`, `keepEveryNEpochs`,
 * `keepEveryNSeconds`) is declared once, in RetentionOptions, and forwarded to the CheckpointManager;
 * `saveTopK` and `keepBest` rank by `monitor` (default `'val_loss'`).
 */
export interface ModelCheckpointArgs extends RetentionOptions, SaveBehaviourOptions {
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
  /** Where messages and warnings go. Default: the console. */
  logger?: CheckpointLogger;
  /**
   * At the start of training, recover state from the checkpoints this template already has on disk:
   * the best monitored value (so a resumed run never overwrites a better best), the step and sample
   * counters; and never delete the newest of them. `initialValueThreshold`, if given, still wins.
   * Default true; false starts fresh.
   */
  resume?: boolean;
  /** Also save whenever this many seconds of training have passed since the last save (checked after each batch). */
  saveEveryNSeconds?: number;
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
  'logger',
  'resume',
  'saveEveryNSeconds',
  ...RETENTION_OPTIONS,
  ...SAVE_BEHAVIOUR_OPTIONS,
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
  for (const key of ['saveBestOnly', 'saveWeightsOnly', 'includeOptimizer', 'loadWeightsOnRestart', 'resume', 'versionOnClash', 'asyncSave'] as const) {
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
  const s = args.saveEveryNSeconds;
  if (s !== undefined && !(typeof s === 'number' && s > 0 && Number.isFinite(s))) {
    throw invalid(`\`saveEveryNSeconds\` must be a positive number of seconds; got ${JSON.stringify(s)}.`);
  }
  const retention = retentionProblem(args);
  if (retention) throw invalid(retention);
  const format = singleFileFormat(args.filepath);
  if (format) {
    assertFormatHolds(format, args.saveWeightsOnly ? 'weights' : 'model', args.filepath);
    assertFileCodec(format, args.filepath);
  }
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
  private readonly fs: SaveBehaviourOptions['fs'];
  private readonly direction: Direction;
  private readonly schedule: SaveSchedule;
  readonly resume: boolean;
  readonly saveEveryNSeconds: number | undefined;
  /** The best monitored value so far (Keras's `best`). */
  best: number;
  /** Where the checkpoints go; also answers list(), latest() and best(). */
  readonly manager: CheckpointManager;
  private readonly batchClock = new BatchClock();
  private currentEpoch = 0;
  private globalStep = 0;
  private samplesSeen = 0;
  /** Training seconds before this fit (recovered from disk), and when this fit began (monotonic ms). */
  private secondsBefore = 0;
  private trainStart = performance.now();
  private lastSaveTime = performance.now();

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
    this.fs = args.fs;
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
    this.resume = args.resume ?? true;
    this.saveEveryNSeconds = args.saveEveryNSeconds;
    this.manager = new CheckpointManager({
      filepath: this.filepath,
      monitor: this.monitor,
      mode: this.direction,
      saveWeightsOnly: this.saveWeightsOnly,
      ...pick(args, [...RETENTION_OPTIONS, ...SAVE_BEHAVIOUR_OPTIONS]),
      includeOptimizer: this.includeOptimizer,
      logger: this.logger,
    });
  }

  /** 'min' or 'max': the direction 'auto' resolved to. */
  get monitorDirection(): Direction {
    return this.direction;
  }

  override async onTrainBegin(_logs?: Record<string, unknown>): Promise<void> {
    this.trainStart = performance.now();
    this.lastSaveTime = this.trainStart;
    this.batchClock.reset();
    if (this.resume) await this.recoverFromDisk();
    if (!this.loadWeightsOnRestart) return;
    const path = await latestCheckpoint(this.filepath, { fs: this.fs });
    if (path === null) return;
    try {
      await loadWeights(this.model as LayersModel, path, { fs: this.fs });
    } catch (e) {
      throw new CheckpointError(
        e instanceof CheckpointError ? e.code : 'IO_ERROR',
        `Error loading file from ${path}. Reason: ${(e as Error).message}`,
        { cause: e },
      );
    }
  }

  /** Best value, counters and the resume point, from the checkpoints already on disk. */
  private async recoverFromDisk(): Promise<void> {
    await this.manager.recover();
    const records = await this.manager.list();
    const newest = records[records.length - 1];
    if (!newest) return;
    this.manager.protect(newest.path);
    this.globalStep = Math.max(this.globalStep, newest.metadata.step ?? 0);
    this.samplesSeen = Math.max(this.samplesSeen, newest.metadata.samplesSeen ?? 0);
    this.secondsBefore = Math.max(this.secondsBefore, newest.metadata.trainingSeconds ?? 0);
    if (this.initialValueThreshold !== undefined) return;
    const comparable = records.filter((r) => r.metadata.monitor?.name === this.monitor && r.metadata.monitor.mode === this.direction);
    const best = bestCandidate(comparable, this.direction);
    if (best?.value != null && isImprovement(this.direction, best.value, this.best)) {
      this.best = best.value;
      if (this.verbose > 0) {
        this.logger.log(`Resuming: ${records.length} checkpoint(s) of ${this.filepath} on disk; best ${this.monitor} so far ${formatScore(best.value)} (${best.path}).`);
      }
    }
  }

  /** Waits until every checkpoint is committed; a failed background save rejects here (and so fails fit). */
  override async onTrainEnd(_logs?: Record<string, unknown>): Promise<void> {
    await this.flush();
  }

  /**
   * Resolves when every save started so far is committed (saves are asynchronous by default); with a
   * `localCache`, also reports what has not reached the remote store yet (see CheckpointManager.flush).
   */
  async flush(): Promise<UploadReport> {
    return this.manager.flush();
  }

  override async onEpochBegin(epoch: number, _logs?: Record<string, unknown>): Promise<void> {
    this.currentEpoch = epoch;
  }

  override async onBatchEnd(batch: number, logs?: Record<string, unknown>): Promise<void> {
    const budget = this.batchClock.budgetAfterBatch();
    const size = await readLogValue(logs?.['size']);
    this.globalStep += 1;
    this.samplesSeen += size ?? 0;
    const scheduled = this.schedule.batchEnded(size);
    const timed = this.saveEveryNSeconds !== undefined && performance.now() - this.lastSaveTime >= this.saveEveryNSeconds * 1000;
    if (scheduled || timed) await this.saveModel(this.currentEpoch, batch, logs);
    // The save's background steps advance only on the event loop's turns, which fit may never give.
    if (this.manager.working) {
      await giveTurns(() => this.manager.working, budget);
      this.batchClock.resume();
    }
  }

  override async onEpochEnd(epoch: number, logs?: Record<string, unknown>): Promise<void> {
    this.currentEpoch = epoch;
    if (!this.schedule.epochEnded()) return;
    await this.saveModel(epoch, null, logs);
    // A save's first background steps (its folder made, its files opened, their bytes handed to the
    // system) need no more than microtasks: one turn here runs them all before the next batch holds
    // the thread, so the bytes go out during that batch instead of after it.
    if (this.manager.working) await eventLoopTurn();
  }

  /** Formats the path for this save, applies the best-only rule, prints Keras's lines, writes. */
  private async saveModel(epoch: number, batch: number | null, logs: Record<string, unknown> | undefined): Promise<void> {
    const values = await resolveLogs(logs);
    const templateValues: Record<string, TemplateValue> = { ...values, epoch: epoch + 1 };
    // TF.js batch logs hold a 0-based `batch`; templates get Keras's 1-based batch, and only in batch-level saves.
    delete templateValues['batch'];
    if (batch !== null) templateValues['batch'] = batch + 1;
    // The path as the user spelled it (for messages) and as the normalized template gives it (to save).
    const requested = formatFilepath(this.filepath, templateValues);
    const path = this.manager.describe(formatFilepath(this.manager.template, templateValues));
    const label = `Epoch ${epoch + 1}`;
    if (!this.saveBestOnly) {
      const saved = await this.write(path, epoch, batch, values);
      if (this.verbose > 0) this.logger.log(`${label}: saving model to ${requested}${saved.slice(path.length)}`);
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
      const previous = this.best;
      this.best = current;
      const saved = await this.write(path, epoch, batch, values);
      if (this.verbose > 0) {
        this.logger.log(`${label}: ${this.monitor} improved from ${formatScore(previous)} to ${formatScore(current)}, saving model to ${requested}${saved.slice(path.length)}`);
      }
    } else if (this.verbose > 0) {
      this.logger.log(`${label}: ${this.monitor} did not improve from ${formatScore(this.best)}`);
    }
  }

  private async write(path: string, epoch: number, batch: number | null, metrics: Record<string, number>): Promise<string> {
    this.lastSaveTime = performance.now();
    return this.manager.save(this.globalStep, this.model as LayersModel, {
      path,
      epoch: epoch + 1,
      batch: batch === null ? null : batch + 1,
      samplesSeen: this.samplesSeen,
      trainingSeconds: this.secondsBefore + (performance.now() - this.trainStart) / 1000,
      metrics: withMonitorAlias(metrics, this.monitor),
      best: this.best,
    });
  }
}

/** Records the monitored value under the monitor's own name too (`val_accuracy` for TF.js's `val_acc`). */
function withMonitorAlias(metrics: Record<string, number>, monitor: string): Record<string, number> {
  const value = lookupMetric(metrics, monitor);
  return value === undefined || monitor in metrics ? metrics : { ...metrics, [monitor]: value };
}

function pick<T extends object, K extends keyof T>(source: T, keys: readonly K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const key of keys) if (source[key] !== undefined) out[key] = source[key];
  return out;
}

/** Creates a ModelCheckpoint callback (the factory form, like `tf.callbacks.earlyStopping`). */
export function modelCheckpoint(args: ModelCheckpointArgs): ModelCheckpoint {
  return new ModelCheckpoint(args);
}
