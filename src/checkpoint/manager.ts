/**
 * CheckpointManager: how a save becomes a durable checkpoint, for custom training loops and for
 * the callbacks. A save is: snapshot (the only part that holds up training) → write into a
 * temporary sibling → fsync → atomic rename → retention and pointers, in that order, so a crash at
 * any point leaves every committed checkpoint intact. With `asyncSave` (the default) everything
 * after the snapshot runs while training continues; at most one save is in flight, and a failed
 * background save is reported at the next save and by `wait()`, never swallowed.
 *
 * State (latest, best, top-k) is never kept only in memory: it is read back from the checkpoints'
 * `checkpoint.json` files, so a resumed run knows its best score.
 */
import type { NamedTensorMap, Tensor } from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { dirname, join } from 'node:path';
import { CheckpointError } from '../errors.js';
import { encodeNumber } from '../formats/schema.js';
import { resolveDirection, type Direction, type Mode } from '../policy/monitor.js';
import { bestCandidate, hasRetention, retentionProblem, selectForDeletion, type RetentionOptions } from '../policy/retention.js';
import { nodeFs, type FsOps } from '../storage/fs_ops.js';
import { cleanLeftovers, pathKind } from '../storage/node_fs.js';
import { toFsPath } from '../storage/paths.js';
import { formatFilepath, type TemplateValue } from '../template/format.js';
import { compileTemplatePattern, splitTemplateSegments, templateHasFields } from '../template/match.js';
import { tfjsVersion } from './model_io.js';
import { verifyCheckpoint, type VerifiedCheckpoint } from './read.js';
import { deleteCheckpoint, readPointer, readRecords, writePointer, type CheckpointRecord } from './registry.js';
import { loadCheckpointContents, restoreInto } from './save_load.js';
import { stripVersionSuffix } from './scan.js';
import { snapshotModel, snapshotTensors, type Snapshot } from './snapshot.js';
import { writeSnapshot, type SaveContext } from './write.js';

export type { CheckpointRecord } from './registry.js';

export interface ManagerLogger {
  warn(message: string): void;
}

export interface CheckpointManagerOptions extends RetentionOptions {
  /** The run's directory: checkpoints are `<directory>/<name>`, pointers `<directory>/latest` and `<directory>/best`. */
  directory?: string;
  /** Each checkpoint's name inside `directory`, a template with `{step}`, `{epoch}` and metrics. Default `'ckpt-{step:08d}'`. */
  name?: string;
  /** Instead of directory + name: a full path template (what ModelCheckpoint uses). */
  filepath?: string;
  /** Metric that `best()` and `saveTopK` rank by. */
  monitor?: string;
  /** Whether lower or higher `monitor` is better. Default 'auto' (see ModelCheckpoint). */
  mode?: Mode;
  /** Weights only, or the full model with optimizer state. Default false (full model). */
  saveWeightsOnly?: boolean;
  /** Default true. */
  includeOptimizer?: boolean;
  maxShardBytes?: number;
  /** Write `latest` / `best` pointer files. Default true with `directory`; with `filepath`, give their paths instead. */
  pointers?: boolean;
  latestPointer?: string;
  bestPointer?: string;
  /** What a failed save does: 'raise' (default) rejects, 'warn' logs and training goes on. Nothing partial is left either way. */
  onSaveError?: 'raise' | 'warn';
  /**
   * When a formatted name already exists and the template has fields (so overwriting is not what it
   * implies), save as `<name>-v1`, `-v2`, … instead. A template without fields always replaces its
   * checkpoint (atomically). Default true.
   */
  versionOnClash?: boolean;
  /** Write in the background after the snapshot. Default true. */
  asyncSave?: boolean;
  /** A checkpoint never to delete (the one this run resumed from). */
  protect?: string;
  logger?: ManagerLogger;
  /** The file-system calls to use (tests inject faults here). */
  fs?: FsOps;
}

export interface SaveInfo {
  epoch?: number | null;
  batch?: number | null;
  samplesSeen?: number | null;
  trainingSeconds?: number | null;
  metrics?: Record<string, number>;
  /** A path already formatted by the caller (ModelCheckpoint formats its own). */
  path?: string;
  /** The best value so far, recorded with the checkpoint. */
  best?: number;
}

export type SaveSource = LayersModel | NamedTensorMap | { name: string; tensor: Tensor }[];

function isModel(source: SaveSource): source is LayersModel {
  return typeof (source as LayersModel).getWeights === 'function' && Array.isArray((source as LayersModel).weights);
}

export class CheckpointManager {
  readonly template: string;
  readonly monitor: string | undefined;
  readonly direction: Direction;
  private readonly options: CheckpointManagerOptions;
  private readonly fs: FsOps;
  private readonly logger: ManagerLogger;
  private readonly latestPointer: string | undefined;
  private readonly bestPointer: string | undefined;
  private inFlight: Promise<void> | null = null;
  private failure: unknown = null;
  private readonly pendingPaths = new Set<string>();
  private readonly cleanedParents = new Set<string>();
  private protectedPaths = new Set<string>();

  constructor(options: CheckpointManagerOptions) {
    const problem = retentionProblem(options);
    if (problem) throw new CheckpointError('INVALID_ARGUMENT', problem);
    if ((options.directory === undefined) === (options.filepath === undefined)) {
      throw new CheckpointError('INVALID_ARGUMENT', 'CheckpointManager needs either `directory` (with an optional `name`) or `filepath`, not both.');
    }
    if (options.onSaveError !== undefined && options.onSaveError !== 'raise' && options.onSaveError !== 'warn') {
      throw new CheckpointError('INVALID_ARGUMENT', `\`onSaveError\` must be 'raise' or 'warn'; got ${JSON.stringify(options.onSaveError)}.`);
    }
    if (options.saveTopK !== undefined && options.monitor === undefined) {
      throw new CheckpointError('INVALID_ARGUMENT', '`saveTopK` ranks checkpoints by `monitor`: give a monitor (e.g. "val_loss").');
    }
    this.options = options;
    this.fs = options.fs ?? nodeFs;
    this.logger = options.logger ?? { warn: (m) => console.warn(m) };
    this.monitor = options.monitor;
    this.direction = resolveDirection(options.mode ?? 'auto', options.monitor ?? 'loss');
    if (options.directory !== undefined) {
      const directory = toFsPath(options.directory);
      this.template = join(directory, options.name ?? 'ckpt-{step:08d}');
      const pointers = options.pointers ?? true;
      this.latestPointer = options.latestPointer ?? (pointers ? join(directory, 'latest') : undefined);
      this.bestPointer = options.bestPointer ?? (pointers && options.monitor ? join(directory, 'best') : undefined);
    } else {
      this.template = toFsPath(options.filepath!);
      this.latestPointer = options.latestPointer;
      this.bestPointer = options.bestPointer;
    }
    if (options.protect) this.protectedPaths.add(toFsPath(options.protect));
  }

  /** Never delete this checkpoint (for example the one a run resumed from). */
  protect(path: string): void {
    this.protectedPaths.add(toFsPath(path));
  }

  /**
   * Finishes what a crashed writer left in this template's directory (when the directory part has no
   * fields): removes its temporaries and puts back a checkpoint it was replacing. Call before reading
   * state from disk; saving does it too.
   */
  async repair(): Promise<void> {
    const segments = splitTemplateSegments(this.template);
    const parent = segments.slice(0, -1).join('/');
    if (segments.slice(0, -1).some((segment) => templateHasFields(segment))) return;
    await this.cleanParentOnce(parent === '' ? (this.template.startsWith('/') ? '/' : '.') : formatFilepath(parent, {}));
  }

  /** Committed checkpoints of this manager, oldest first, with their metadata. */
  async list(): Promise<CheckpointRecord[]> {
    return readRecords(this.template, this.monitor, this.fs);
  }

  async latest(): Promise<CheckpointRecord | null> {
    const records = await this.list();
    return records[records.length - 1] ?? null;
  }

  async best(): Promise<CheckpointRecord | null> {
    return bestCandidate(await this.list(), this.direction) ?? null;
  }

  /** Formats the checkpoint path for a save. */
  formatPath(step: number, info: SaveInfo = {}): string {
    const values: Record<string, TemplateValue> = { ...(info.metrics ?? {}), step: BigInt(step) };
    if (info.epoch != null) values['epoch'] = info.epoch;
    if (info.batch != null) values['batch'] = info.batch;
    return formatFilepath(this.template, values);
  }

  /**
   * Saves a model (or named tensors) as the checkpoint for `step`. Resolves once the weights are
   * captured (asyncSave) or committed (otherwise); returns the path it saves to. `wait()` resolves
   * when the checkpoint is durable.
   */
  async save(step: number, source: SaveSource, info: SaveInfo = {}): Promise<string> {
    await this.settlePrevious();
    const path = await this.choosePath(info.path !== undefined ? toFsPath(info.path) : this.formatPath(step, info));
    const snapshot = isModel(source)
      ? await snapshotModel(source, { weightsOnly: this.options.saveWeightsOnly ?? false, includeOptimizer: this.options.includeOptimizer ?? true })
      : snapshotTensors(source);
    const context: SaveContext = {
      tfjsVersion: tfjsVersion(),
      epoch: info.epoch ?? null,
      batch: info.batch ?? null,
      step,
      samplesSeen: info.samplesSeen ?? null,
      trainingSeconds: info.trainingSeconds ?? null,
      metrics: info.metrics ?? {},
      monitor:
        this.monitor === undefined
          ? null
          : {
              name: this.monitor,
              mode: this.direction,
              value: info.metrics?.[this.monitor] === undefined ? null : encodeNumber(info.metrics[this.monitor]!),
              best: info.best === undefined ? null : encodeNumber(info.best),
            },
    };
    this.pendingPaths.add(path);
    const persisted = this.persist(path, snapshot, context).finally(() => this.pendingPaths.delete(path));
    if (this.options.asyncSave ?? true) {
      this.inFlight = persisted.catch((e) => {
        this.failure = e;
      });
    } else {
      await persisted.catch((e) => this.handleFailure(e));
    }
    return path;
  }

  /** Resolves when every started save is committed; rejects with a background failure (onSaveError 'raise'). */
  async wait(): Promise<void> {
    await this.settlePrevious();
  }

  private async settlePrevious(): Promise<void> {
    if (this.inFlight) {
      await this.inFlight;
      this.inFlight = null;
    }
    if (this.failure !== null) {
      const failure = this.failure;
      this.failure = null;
      this.handleFailure(failure);
    }
  }

  private handleFailure(error: unknown): void {
    if ((this.options.onSaveError ?? 'raise') === 'raise') throw error;
    this.logger.warn(`Checkpoint save failed and was skipped (onSaveError: 'warn'): ${(error as Error).message}`);
  }

  /** Adds a version suffix when the name is taken and the template does not imply overwriting. */
  private async choosePath(path: string): Promise<string> {
    if (!(this.options.versionOnClash ?? true) || !templateHasFields(this.template)) return path;
    const taken = async (p: string) => this.pendingPaths.has(p) || (await pathKind(p, this.fs)) !== 'missing';
    if (!(await taken(path))) return path;
    for (let version = 1; ; version++) {
      const candidate = `${path}-v${version}`;
      if (!(await taken(candidate))) return candidate;
    }
  }

  private async persist(path: string, snapshot: Snapshot, context: SaveContext): Promise<void> {
    try {
      await this.cleanParentOnce(dirname(path));
      await writeSnapshot(path, snapshot, { maxShardBytes: this.options.maxShardBytes, context, fs: this.fs });
    } finally {
      snapshot.dispose();
    }
    await this.afterCommit(path);
  }

  /** Removes crashed writers' temporaries of this template's checkpoints, once per directory. */
  private async cleanParentOnce(parent: string): Promise<void> {
    if (this.cleanedParents.has(parent)) return;
    this.cleanedParents.add(parent);
    const segments = splitTemplateSegments(this.template);
    const pattern = compileTemplatePattern(segments[segments.length - 1]!);
    const literal = templateHasFields(segments[segments.length - 1]!) ? undefined : formatFilepath(segments[segments.length - 1]!, {});
    const ours = (name: string) => {
      const plain = stripVersionSuffix(name);
      return literal !== undefined ? name === literal || plain === literal : pattern.test(name) || pattern.test(plain);
    };
    await cleanLeftovers(parent, ours, this.fs);
  }

  /** Retention and pointers, only after the new checkpoint is committed. */
  private async afterCommit(newest: string): Promise<void> {
    const retention = hasRetention(this.options);
    if (!retention && !this.latestPointer && !this.bestPointer) return;
    const records = await this.list();
    const newestRecord = records.find((r) => r.path === newest);
    const best = this.monitor === undefined ? undefined : bestCandidate(records, this.direction);
    if (retention) {
      const keep = new Set([newest, ...this.protectedPaths, ...(best ? [best.path] : [])]);
      for (const id of selectForDeletion(records, this.options, this.direction, keep)) await deleteCheckpoint(id, this.fs);
    }
    if (this.latestPointer && newestRecord) await writePointer(this.latestPointer, newestRecord, this.fs);
    if (this.bestPointer && best) await writePointer(this.bestPointer, best, this.fs);
  }

  /** The path of a checkpoint chosen by 'latest', 'best', a step number, or a path. */
  async resolve(which: 'latest' | 'best' | number | string): Promise<string> {
    if (which === 'latest' || which === 'best') {
      // The checkpoints' own metadata is the truth; a pointer is only a fallback (and a convenience for other tools).
      const record = which === 'latest' ? await this.latest() : await this.best();
      const pointer = which === 'latest' ? this.latestPointer : this.bestPointer;
      const path = record?.path ?? (pointer ? await readPointer(pointer, this.fs) : undefined);
      if (!path) throw new CheckpointError('NOT_FOUND', `There is no ${which} checkpoint for ${this.template} yet.`);
      return path;
    }
    if (typeof which === 'number') {
      const record = (await this.list()).filter((r) => r.metadata.step === which).pop();
      if (!record) throw new CheckpointError('NOT_FOUND', `There is no checkpoint for step ${which} of ${this.template}.`);
      return record.path;
    }
    return toFsPath(which);
  }

  /**
   * Restores a checkpoint. With a model: loads its weights (and, from a full checkpoint, the
   * optimizer state) into it and returns it. Without: returns a new model (full checkpoints) or
   * the named tensors (weights-only ones).
   */
  async restore(which: 'latest' | 'best' | number | string, model?: LayersModel): Promise<LayersModel | NamedTensorMap> {
    const path = await this.resolve(which);
    if (!model) return loadCheckpointContents(path, this.fs);
    await restoreInto(model, path, this.fs);
    return model;
  }

  /** Deletes one of this manager's checkpoints (never anything else); safe against crashes like every deletion. */
  async delete(which: 'latest' | 'best' | number | string): Promise<void> {
    const path = await this.resolve(which);
    if (!(await this.list()).some((r) => r.path === path)) {
      throw new CheckpointError('NOT_FOUND', `${path} is not a checkpoint of ${this.template}; nothing was deleted.`);
    }
    await deleteCheckpoint(path, this.fs);
  }

  /** Removes the `latest` / `best` pointer files. */
  async clearPointers(): Promise<void> {
    for (const pointer of [this.latestPointer, this.bestPointer]) if (pointer) await this.fs.rm(pointer, { force: true });
  }

  /** Verifies one checkpoint, or all of them. */
  async verify(which?: 'latest' | 'best' | number | string): Promise<VerifiedCheckpoint[]> {
    const paths = which === undefined ? (await this.list()).map((r) => r.path) : [await this.resolve(which)];
    const out: VerifiedCheckpoint[] = [];
    for (const path of paths) out.push(await verifyCheckpoint(path, this.fs));
    return out;
  }
}

/** Moved to save_load.ts (the read side); exported here too for existing imports. */
export { restoreInto } from './save_load.js';
