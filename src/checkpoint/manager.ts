/**
 * CheckpointManager: how a save becomes a durable checkpoint, for custom training loops and for
 * the callbacks, on any store. A save is: snapshot (the only part that holds up training) → stage
 * the files in the store → commit (the store's atomic step) → pointers → retention, in that order,
 * so a crash at any point leaves every committed checkpoint intact. With `asyncSave` (the default) everything
 * after the snapshot runs while training continues; at most one save is in flight, and a failed
 * background save is reported at the next save and by `wait()`, never swallowed.
 *
 * State (latest, best, top-k) is never kept only in memory: it is read back from the checkpoints'
 * `checkpoint.json` files, so a resumed run knows its best score.
 */
import type { NamedTensorMap, Tensor } from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { asCheckpointError, CheckpointError } from '../errors.js';
import { encodeNumber } from '../formats/schema.js';
import { versionOf, withVersion } from '../formats/file_names.js';
import { resolveDirection, type Direction, type Mode } from '../policy/monitor.js';
import type { KeepPolicy } from '../policy/keep_policy.js';
import { bestCandidate, compileRetention, selectForDeletion, type RetentionOptions } from '../policy/retention.js';
import { escapeBraces, keyBasename, keyDirname, nameTooLong, normalizeTemplateKey, type StoreKey } from '../stores/keys.js';
import { describeKey, resolveLocation, resolveTemplate, sibling, type Location, type StoreOptions } from '../stores/registry.js';
import type { CheckpointStore } from '../stores/store.js';
import { TieredStore, tieredStore } from '../stores/tiered.js';
import { formatFilepath, type TemplateValue } from '../template/format.js';
import { parseTemplate } from '../template/parse.js';
import { splitTemplateSegments, templateHasFields } from '../template/match.js';
import { invalidArgument, requireMetrics, requirePath, requireStep } from '../validate.js';
import { takeCommitTurn, type CommitTurn } from './commit_order.js';
import { tfjsVersion } from './model_io.js';
import { verifyAt, type VerifiedCheckpoint } from './read.js';
import { pointerPlacementProblem, readPointer, readRecords, writePointer, type CheckpointRecord } from './registry.js';
import { loadCheckpointContents, restoreFrom } from './save_load.js';
import { nameMatcher } from './scan.js';
import { snapshotModel, snapshotTensors, type Snapshot } from './snapshot.js';
import { noteName, takenNames } from './taken_names.js';
import { writeSnapshot, type SaveContext } from './write.js';
import type { ReuseSource } from './incremental.js';

export type { CheckpointRecord } from './registry.js';

export interface ManagerLogger {
  warn(message: string): void;
}

/**
 * How saves are written, shared by CheckpointManager and the callbacks: each option is declared here
 * once, and ModelCheckpoint forwards them unchanged.
 */
export interface SaveBehaviourOptions {
  /** Full-model saves include the optimizer state and training config, so training resumes exactly. Default true. */
  includeOptimizer?: boolean;
  /** Largest weight file, in bytes; larger models are split into shards. Default 256 MiB. */
  maxShardBytes?: number;
  /** A pointer to the newest checkpoint: a small JSON object replaced atomically (not a copy), in the checkpoints' directory or above it. */
  latestPointer?: string;
  /** A pointer to the best checkpoint by `monitor`, like `latestPointer`. */
  bestPointer?: string;
  /** What a failed save does: 'raise' (default) rejects (the save, or `fit`); 'warn' logs and training goes on. Nothing partial is left either way. */
  onSaveError?: 'raise' | 'warn';
  /**
   * When a formatted name already exists and the template has fields (so overwriting is not what it
   * implies), save as `<name>-v1`, `-v2`, … instead. A template without fields always replaces its
   * checkpoint (atomically). Default true.
   */
  versionOnClash?: boolean;
  /** Write checkpoints in the background after capturing the weights (`fit` still waits for them at its end). Default true. */
  asyncSave?: boolean;
  /**
   * A local directory (or any other store's location) in front of a remote store such as `s3://`:
   * each checkpoint commits there first, then uploads in the background. When the remote store is
   * unreachable, training goes on and the uploads catch up when it answers; `flush()` and the end of
   * `fit` report what is not uploaded yet. Reading sees both tiers (see stores/tiered.ts).
   */
  localCache?: string;
  /** The file-system calls the fs store uses (tests inject faults here). */
  fs?: StoreOptions['fs'];
}

/** The SaveBehaviourOptions, listed (a compile-time check keeps the list complete). */
export const SAVE_BEHAVIOUR_OPTIONS = [
  'includeOptimizer',
  'maxShardBytes',
  'latestPointer',
  'bestPointer',
  'onSaveError',
  'versionOnClash',
  'asyncSave',
  'localCache',
  'fs',
] as const satisfies readonly (keyof SaveBehaviourOptions)[];
type UnlistedSaveOption = Exclude<keyof SaveBehaviourOptions, (typeof SAVE_BEHAVIOUR_OPTIONS)[number]>;
const everySaveOptionListed: [UnlistedSaveOption] extends [never] ? true : UnlistedSaveOption = true;
void everySaveOptionListed;

export interface CheckpointManagerOptions extends RetentionOptions, SaveBehaviourOptions {
  /** The run's directory: checkpoints are `<directory>/<name>`, pointers `<directory>/latest` and `<directory>/best`. */
  directory?: string;
  /** Each checkpoint's name inside `directory`, a template with `{step}`, `{epoch}` and metrics. Default `'ckpt-{step:08d}'`. */
  name?: string;
  /** Instead of directory + name: a full path template (what ModelCheckpoint uses). */
  filepath?: string;
  /** Metric that `best()`, `saveTopK` and `keepBest` rank by. */
  monitor?: string;
  /** Whether lower or higher `monitor` is better. Default 'auto' (see ModelCheckpoint). */
  mode?: Mode;
  /** Weights only, or the full model with optimizer state. Default false (full model). */
  saveWeightsOnly?: boolean;
  /** Write `latest` / `best` pointers. Default true with `directory`; with `filepath`, give their paths instead. */
  pointers?: boolean;
  /** A checkpoint never to delete (the one this run resumed from). */
  protect?: string;
  logger?: ManagerLogger;
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

/** What `flush()` found still on the way to the remote store of a `localCache` (all empty without one). */
export interface UploadReport {
  /** Checkpoints committed to the local tier but not uploaded yet, oldest first (their remote URLs). */
  notUploaded: string[];
  /** Local checkpoints that cannot be uploaded because the local copy is damaged. */
  damaged: string[];
  /** Deletions and pointer updates not applied to the remote store yet (retention, deleted backups). */
  otherPending: number;
  /** Why the remote store could not be reached, when something is pending. */
  error?: CheckpointError;
}

export type SaveSource = LayersModel | NamedTensorMap | { name: string; tensor: Tensor }[];

function isModel(source: SaveSource): source is LayersModel {
  return typeof (source as LayersModel).getWeights === 'function' && Array.isArray((source as LayersModel).weights);
}

/** `name`, `name-v1`, `name-v2`, …: the version after `taken` (see versionOnClash). */
function nextVersion(base: string, taken: string): string {
  return withVersion(base, taken === base ? 1 : versionOf(taken) + 1);
}

const WHERE = 'CheckpointManager';

/** A Sequential's `fit` hands callbacks its inner model: key the commit order by that, so both spellings agree. */
function orderKey(model: LayersModel): object {
  const inner = (model as unknown as { model?: unknown }).model;
  return inner !== null && typeof inner === 'object' && inner !== model && isModel(inner as SaveSource) ? inner : model;
}

export class CheckpointManager {
  /** The path template as a normalized key template of `store`. */
  readonly template: string;
  /** Where the checkpoints live (resolved from the path's scheme, see stores/registry.ts). */
  readonly store: CheckpointStore;
  /** The scheme the store was reached by. */
  readonly scheme: string;
  readonly monitor: string | undefined;
  readonly direction: Direction;
  /** What retention keeps, compiled from the retention options (undefined: every checkpoint is kept). */
  readonly retention: KeepPolicy | undefined;
  private readonly options: CheckpointManagerOptions;
  private readonly logger: ManagerLogger;
  private readonly latestPointer: string | undefined;
  private readonly bestPointer: string | undefined;
  private inFlight: Promise<void> | null = null;
  /** Whether the save in `inFlight` is still under way (inFlight stays set until the next save or wait() settles it). */
  private persisting = false;
  /** The last checkpoint this manager committed, whose unchanged shards the next save reuses (incremental.ts). */
  private reuseFrom: ReuseSource | undefined;
  private failure: unknown = null;
  private readonly pendingPaths = new Set<string>();
  private readonly cleanedParents = new Set<string>();
  private protectedPaths = new Set<string>();

  constructor(options: CheckpointManagerOptions) {
    if (options == null || typeof options !== 'object') throw invalidArgument(WHERE, 'needs an options object with `directory` or `filepath`', options);
    this.retention = compileRetention(options, options.monitor);
    if ((options.directory === undefined) === (options.filepath === undefined)) {
      throw new CheckpointError('INVALID_ARGUMENT', 'CheckpointManager needs either `directory` (with an optional `name`) or `filepath`, not both.');
    }
    if (options.onSaveError !== undefined && options.onSaveError !== 'raise' && options.onSaveError !== 'warn') {
      throw new CheckpointError('INVALID_ARGUMENT', `\`onSaveError\` must be 'raise' or 'warn'; got ${JSON.stringify(options.onSaveError)}.`);
    }
    this.options = options;
    this.logger = options.logger ?? { warn: (m) => console.warn(m) };
    this.monitor = options.monitor;
    this.direction = resolveDirection(options.mode ?? 'auto', options.monitor ?? 'loss');
    // Every path is normalized here, once: later comparisons are plain string comparisons.
    const storeOptions: StoreOptions = options.fs !== undefined ? { fs: options.fs } : {};
    if (options.directory !== undefined) {
      const directory = resolveLocation(requirePath(options.directory, WHERE, 'directory'), storeOptions);
      const name = options.name === undefined ? 'ckpt-{step:08d}' : requirePath(options.name, WHERE, 'name');
      this.store = directory.store;
      this.scheme = directory.scheme;
      this.template = normalizeTemplateKey(`${escapeBraces(directory.key)}/${name}`);
      const pointers = options.pointers ?? true;
      const besides = (name: string) => describeKey(directory.scheme, `${directory.key === '/' ? '' : directory.key}/${name}`);
      this.latestPointer = this.pointerKey(options.latestPointer, pointers ? besides('latest') : undefined, 'latestPointer', storeOptions);
      this.bestPointer = this.pointerKey(options.bestPointer, pointers && options.monitor ? besides('best') : undefined, 'bestPointer', storeOptions);
    } else {
      const { store, scheme, template } = resolveTemplate(requirePath(options.filepath, WHERE, 'filepath'), storeOptions);
      this.store = store;
      this.scheme = scheme;
      this.template = template;
      this.latestPointer = this.pointerKey(options.latestPointer, undefined, 'latestPointer', storeOptions);
      this.bestPointer = this.pointerKey(options.bestPointer, undefined, 'bestPointer', storeOptions);
    }
    if (options.localCache !== undefined) this.store = this.withLocalTier(requirePath(options.localCache, WHERE, 'localCache'), storeOptions);
    const last = splitTemplateSegments(this.template).pop()!;
    const fixedText = parseTemplate(last).map((part) => (part.kind === 'literal' ? part.text : '')).join('');
    const tooLong = nameTooLong(fixedText, `Cannot save checkpoints as ${options.filepath ?? options.name}`);
    if (tooLong) throw tooLong;
    if (options.protect) this.protect(requirePath(options.protect, WHERE, 'protect'));
  }

  /** The store with a local tier in front; one tier per (store, local directory), shared by every manager using it. */
  private withLocalTier(localCache: string, storeOptions: StoreOptions): CheckpointStore {
    const local = resolveLocation(localCache, storeOptions);
    if (local.store === this.store || local.scheme === this.scheme) {
      throw new CheckpointError('INVALID_ARGUMENT', `\`localCache\` (${localCache}) must be in another store than the checkpoints (${this.scheme}://), for example a local directory.`);
    }
    return tieredStore(this.store, local.store, local.key, { logger: this.logger, describe: (key) => this.describe(key) });
  }

  /** A path or URL of this manager's store, as its key. */
  private keyOf(path: string, where: string, storeOptions: StoreOptions = this.options.fs !== undefined ? { fs: this.options.fs } : {}): StoreKey {
    const location = resolveLocation(path, storeOptions);
    if (location.scheme !== this.scheme) {
      throw new CheckpointError('INVALID_ARGUMENT', `${where}: ${path} is in another store (${location.scheme}://) than the checkpoints (${this.scheme}://).`);
    }
    return location.key;
  }

  /** A pointer's key; it must lie where it can name our checkpoints without `..`. */
  private pointerKey(given: unknown, fallback: string | undefined, option: string, storeOptions: StoreOptions): StoreKey | undefined {
    if (given === undefined && fallback === undefined) return undefined;
    const key = this.keyOf(given === undefined ? fallback! : requirePath(given, WHERE, option), `\`${option}\``, storeOptions);
    const problem = pointerPlacementProblem(key, this.template, this.describe(key));
    if (problem) throw new CheckpointError('INVALID_ARGUMENT', `\`${option}\`: ${problem}.`);
    const tooLong = nameTooLong(keyBasename(key), `\`${option}\``);
    if (tooLong) throw tooLong;
    return key;
  }

  /** Never delete this checkpoint (for example the one a run resumed from). */
  protect(path: string): void {
    this.protectedPaths.add(this.keyOf(requirePath(path, `${WHERE}.protect`), `${WHERE}.protect`));
  }

  /**
   * Finishes what crashed writers left in this template's directory (when the directory part has no
   * fields) and its pointers' directories: removes their temporaries once they are gone, and puts back
   * a checkpoint a crashed replacement set aside. Call before reading state from the store; saving
   * does it too (once per directory).
   */
  async recover(): Promise<void> {
    await this.recoverPointerDirectoriesOnce();
    const segments = splitTemplateSegments(this.template).slice(0, -1);
    if (segments.some((segment) => templateHasFields(segment))) return;
    await this.recoverOnce(formatFilepath(segments.join('/'), {}) || '/');
  }

  /** Committed checkpoints of this manager, oldest first, with their metadata. */
  async list(): Promise<CheckpointRecord[]> {
    return readRecords(this.store, this.template, this.monitor, (key) => this.describe(key));
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
    const where = `${WHERE}.save`;
    requireStep(step, where);
    if (source == null || typeof source !== 'object') throw invalidArgument(where, '`source` must be a tf.LayersModel or named tensors', source);
    if (info == null || typeof info !== 'object') throw invalidArgument(where, '`info` must be an object', info);
    const metrics = await requireMetrics(info.metrics, where);
    await this.settlePrevious();
    const requested = info.path !== undefined ? this.keyOf(requirePath(info.path, where, 'info.path'), where) : this.formatPath(step, { ...info, metrics });
    const path = await this.choosePath(requested);
    const tooLong = nameTooLong(keyBasename(path), `Cannot save to ${this.describe(path)}`);
    if (tooLong) throw tooLong;
    const snapshot = isModel(source)
      ? await snapshotModel(source, { weightsOnly: this.options.saveWeightsOnly ?? false, includeOptimizer: this.options.includeOptimizer ?? true })
      : snapshotTensors(source);
    const monitored = this.monitor === undefined ? undefined : metrics[this.monitor];
    const context: SaveContext = {
      tfjsVersion: tfjsVersion(),
      template: this.template,
      epoch: info.epoch ?? null,
      batch: info.batch ?? null,
      step,
      samplesSeen: info.samplesSeen ?? null,
      trainingSeconds: info.trainingSeconds ?? null,
      metrics,
      monitor:
        this.monitor === undefined
          ? null
          : {
              name: this.monitor,
              mode: this.direction,
              value: monitored === undefined ? null : encodeNumber(monitored),
              best: info.best === undefined ? null : encodeNumber(info.best),
            },
    };
    // Saves of one model commit in the order they began, across managers (see commit_order.ts).
    const turn = takeCommitTurn(isModel(source) ? orderKey(source) : undefined);
    this.pendingPaths.add(path);
    const persisted = this.persist(path, requested, snapshot, context, turn).finally(() => {
      this.pendingPaths.delete(path);
      turn.finish();
    });
    if (this.options.asyncSave ?? true) {
      this.persisting = true;
      this.inFlight = persisted.then(
        () => {
          this.persisting = false;
        },
        (e) => {
          this.persisting = false;
          this.failure = e;
        },
      );
    } else {
      await persisted.catch((e) => this.handleFailure(e));
    }
    return this.describe(path);
  }

  /**
   * Whether a save started here, or an upload of the local tier, still has steps to take in the
   * background. They take them on the event loop's turns, which callbacks give while this holds
   * (event_loop_turn.ts).
   */
  get working(): boolean {
    return this.persisting || (this.store instanceof TieredStore && this.store.working);
  }

  /** Resolves when every started save is committed; rejects with a background failure (onSaveError 'raise'). */
  async wait(): Promise<void> {
    await this.settlePrevious();
  }

  /**
   * `wait()`, then with a `localCache`, waits for the uploads until they are done or the remote store
   * fails to answer, and reports (and warns about) what is not uploaded yet. They keep uploading in the
   * background while the process runs; a later run with the same `localCache` finishes them.
   */
  async flush(): Promise<UploadReport> {
    await this.wait();
    if (!(this.store instanceof TieredStore)) return { notUploaded: [], damaged: [], otherPending: 0 };
    const tier = await this.store.settle();
    const report: UploadReport = {
      notUploaded: tier.notUploaded.map((key) => this.describe(key)),
      damaged: tier.damaged.map((key) => this.describe(key)),
      otherPending: tier.otherPending,
      ...(tier.error ? { error: tier.error } : {}),
    };
    // Why, without the reassurance the message ends with (these warnings say what happens instead).
    const why = tier.error?.message.replace(/ Earlier checkpoints are untouched\.$/, '');
    if (report.notUploaded.length > 0) {
      this.logger.warn(
        `${report.notUploaded.length} checkpoint(s) are committed to the local tier but not uploaded yet (${report.notUploaded.join(', ')})` +
          `${why ? `: ${why}` : '.'} They upload in the background while this process runs, and a later run with the same localCache finishes them.`,
      );
    } else if (report.otherPending > 0) {
      this.logger.warn(
        `${report.otherPending} deletion(s) or pointer update(s) are not applied to ${this.scheme}:// yet${why ? ` (${why})` : ''}; ` +
          "they are retried while this process runs, and the next run's retention repeats deletions.",
      );
    }
    if (report.damaged.length > 0) this.logger.warn(`Damaged in the local tier, so never uploaded: ${report.damaged.join(', ')}. Run verify on them.`);
    return report;
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
    // One stat, as this runs while fit waits, or where that is a request to a server, the names listed
    // once (taken_names.ts); a name another writer takes meanwhile is claimed at commit.
    const listed = takenNames(this.store, keyDirname(path));
    const names = listed && (await listed);
    const taken = async (p: string) => this.pendingPaths.has(p) || (names ? names.has(keyBasename(p)) : await this.store.exists(p));
    if (!(await taken(path))) return path;
    for (let version = 1; ; version++) {
      const candidate = withVersion(path, version);
      if (!(await taken(candidate))) return candidate;
    }
  }

  private async persist(path: string, requested: string, snapshot: Snapshot, context: SaveContext, turn: CommitTurn): Promise<string> {
    let committed: string;
    try {
      await this.recoverPointerDirectoriesOnce();
      await this.recoverOnce(keyDirname(path));
      const versioned = (this.options.versionOnClash ?? true) && templateHasFields(this.template);
      const written = await writeSnapshot(this.locationOf(path), snapshot, {
        maxShardBytes: this.options.maxShardBytes,
        context,
        ...(this.reuseFrom ? { reuseFrom: this.reuseFrom } : {}),
        beforeCommit: () => turn.ready,
        // Another writer may take the name between choosePath and the commit: never replace its checkpoint.
        ...(versioned ? { claim: (taken: string) => this.nextFreeVersion(requested, taken) } : {}),
      });
      committed = written.key;
      noteName(this.store, committed, true);
      this.reuseFrom = written.shards ? { key: written.key, shards: written.shards } : undefined;
    } finally {
      snapshot.dispose();
    }
    if (committed !== path) {
      this.logger.warn(`${this.describe(path)} was taken by another writer while this checkpoint was being written; it was saved as ${this.describe(committed)}.`);
    }
    await this.afterCommit(committed).catch((e: unknown) => {
      throw asCheckpointError(e, `update the pointers or apply retention after saving ${this.describe(committed)}`);
    });
    return committed;
  }

  private nextFreeVersion(base: string, taken: string): string {
    let next = nextVersion(base, taken);
    while (this.pendingPaths.has(next)) next = nextVersion(base, next);
    return next;
  }

  private locationOf(key: StoreKey): Location {
    return sibling(this, key);
  }

  /** How people see one of this manager's keys (a path for the fs store, a URL for the others). */
  describe(key: StoreKey): string {
    return describeKey(this.scheme, key);
  }

  /** Recovers what crashed writers left of this template's checkpoints (and pointers) in `parent`, once per directory. */
  private async recoverOnce(parent: StoreKey): Promise<void> {
    if (this.cleanedParents.has(parent)) return;
    this.cleanedParents.add(parent);
    const isCheckpoint = nameMatcher(splitTemplateSegments(this.template).pop()!);
    // Our pointers' temporaries too (a writer killed while replacing `latest` leaves `.latest.tmp-*`).
    const pointers = [this.latestPointer, this.bestPointer].filter((p): p is string => p !== undefined && keyDirname(p) === parent).map((p) => keyBasename(p));
    await this.store.recover(parent, (name) => isCheckpoint(name) || pointers.includes(name));
  }

  private async recoverPointerDirectoriesOnce(): Promise<void> {
    for (const pointer of [this.latestPointer, this.bestPointer]) if (pointer) await this.recoverOnce(keyDirname(pointer));
  }

  /** Retention and pointers, only after the new checkpoint is committed. */
  private async afterCommit(newest: string): Promise<void> {
    const retention = this.retention;
    if (!retention && !this.latestPointer && !this.bestPointer) return;
    const records = await this.list();
    const newestRecord = records.find((r) => r.key === newest);
    const best = this.monitor === undefined ? undefined : bestCandidate(records, this.direction);
    // Pointers first: they name checkpoints retention keeps, so no crash leaves one naming a deleted checkpoint.
    if (this.latestPointer && newestRecord) await writePointer(this.store, this.latestPointer, newestRecord);
    if (this.bestPointer && best) await writePointer(this.store, this.bestPointer, best);
    if (retention) {
      const keep = new Set([newest, ...this.protectedPaths, ...(best ? [best.key] : [])]);
      // Only checkpoints this template wrote are candidates: never another template's, never a stock folder.
      const candidates = records.filter((r) => r.owned);
      for (const id of selectForDeletion(candidates, retention, this.direction, keep)) {
        await this.store.remove(id);
        noteName(this.store, id, false);
      }
    }
  }

  /** The path (or URL) of a checkpoint chosen by 'latest', 'best', a step number, or a path. */
  async resolve(which: 'latest' | 'best' | number | string): Promise<string> {
    return this.describe(await this.resolveKey(which));
  }

  private async resolveKey(which: 'latest' | 'best' | number | string): Promise<StoreKey> {
    if (typeof which !== 'number' && (typeof which !== 'string' || which.length === 0)) {
      throw invalidArgument(WHERE, "the checkpoint must be 'latest', 'best', a step number or a path", which);
    }
    if (which === 'latest' || which === 'best') {
      // The checkpoints' own metadata is the truth; a pointer is only a fallback (and a convenience for other tools).
      const record = which === 'latest' ? await this.latest() : await this.best();
      const pointer = which === 'latest' ? this.latestPointer : this.bestPointer;
      const key = record?.key ?? (pointer ? await readPointer(this.store, pointer) : undefined);
      if (!key) throw new CheckpointError('NOT_FOUND', `There is no ${which} checkpoint for ${this.describe(this.template)} yet.`);
      return key;
    }
    if (typeof which === 'number') {
      const record = (await this.list()).filter((r) => r.metadata.step === which).pop();
      if (!record) throw new CheckpointError('NOT_FOUND', `There is no checkpoint for step ${which} of ${this.describe(this.template)}.`);
      return record.key;
    }
    return this.keyOf(which, WHERE);
  }

  /**
   * Restores a checkpoint. With a model: loads its weights (and, from a full checkpoint, the
   * optimizer state) into it and returns it. Without: returns a new model (full checkpoints) or
   * the named tensors (weights-only ones).
   */
  async restore(which: 'latest' | 'best' | number | string, model?: LayersModel): Promise<LayersModel | NamedTensorMap> {
    const location = this.locationOf(await this.resolveKey(which));
    if (!model) return loadCheckpointContents(location);
    await restoreFrom(model, location);
    return model;
  }

  /** Deletes one of this manager's checkpoints (never anything else); safe against crashes like every deletion. */
  async delete(which: 'latest' | 'best' | number | string): Promise<void> {
    const key = await this.resolveKey(which);
    if (!(await this.list()).some((r) => r.key === key)) {
      throw new CheckpointError('NOT_FOUND', `${this.describe(key)} is not a checkpoint of ${this.describe(this.template)}; nothing was deleted.`);
    }
    await this.store.remove(key);
    noteName(this.store, key, false);
  }

  /** Removes the `latest` / `best` pointer files. */
  async clearPointers(): Promise<void> {
    for (const pointer of [this.latestPointer, this.bestPointer]) if (pointer) await this.store.removeSmall(pointer);
  }

  /** Verifies one checkpoint, or all of them. */
  async verify(which?: 'latest' | 'best' | number | string): Promise<VerifiedCheckpoint[]> {
    const keys = which === undefined ? (await this.list()).map((r) => r.key) : [await this.resolveKey(which)];
    const out: VerifiedCheckpoint[] = [];
    for (const key of keys) out.push(await verifyAt(this.locationOf(key)));
    return out;
  }
}

/** Moved to save_load.ts (the read side); exported here too for existing imports. */
export { restoreInto } from './save_load.js';
