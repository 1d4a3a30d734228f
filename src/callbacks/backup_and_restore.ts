/**
 * BackupAndRestore for TF.js: backs up the whole training state (weights, optimizer state, epoch)
 * so an interrupted run continues where it stopped. Done right where Keras is not: the previous
 * backup is kept until the new one is committed, so a crash during a backup never loses the last
 * good one; and an optional signal guard saves at the next batch end on SIGTERM/SIGINT, stops
 * training cleanly, then exits as asked. In a browser, where there are no signals, the page being
 * hidden (the last event a closing tab reliably gets) backs up at once (`saveOnPageHide`).
 *
 * TF.js cannot change a running fit's initial epoch from a callback, so resuming is two lines:
 *   const { model, initialEpoch } = await restoreTraining(backupDir, buildAndCompileModel);
 *   await model.fit(x, y, { epochs, initialEpoch, callbacks: [backupAndRestore({ backupDir })] });
 */
import { Callback, type LayersModel } from '@tensorflow/tfjs-layers';
import { CheckpointError } from '../errors.js';
import { CheckpointManager, restoreInto } from '../checkpoint/manager.js';
import { allCommitted } from '../checkpoint/commit_order.js';
import { requireModel, requirePath } from '../validate.js';
import type { FsOps } from '../stores/fs_ops.js';
import { consoleLogger, type CheckpointLogger } from './model_checkpoint.js';
import { BatchClock, giveTurns } from './event_loop_turn.js';

export interface BackupAndRestoreArgs {
  /** Where backups live. Only this library's backup directories and pointer inside it are ever deleted. */
  backupDir: string;
  /** `'epoch'` (default) backs up after every epoch; a positive integer, every that many batches. */
  saveFreq?: 'epoch' | number;
  /** Delete the backups when training ends normally (Keras's default). Default true. */
  deleteCheckpoint?: boolean;
  /**
   * On these signals during fit, back up at the next batch end and stop training cleanly
   * (`true` means SIGTERM and SIGINT). Default: no signal handling.
   */
  saveOnSignal?: boolean | NodeJS.Signals[];
  /** After a signal-triggered stop: 'reraise' the signal (default), 'exit' with 128+signal, or 'return' from fit. */
  afterSignal?: 'reraise' | 'exit' | 'return';
  /**
   * In a browser: back up as soon as the page is hidden during fit (tab switched or closing, window
   * minimized: `visibilitychange` to hidden, or `pagehide`), and train on. Browsers give a closing page
   * no time for async work after `pagehide`, and pause TF.js training in hidden tabs (it waits on
   * animation frames), so the moment the page is hidden is when a backup can still be written.
   * Default false.
   */
  saveOnPageHide?: boolean;
  /** Write backups in the background after capturing the weights. Default true. */
  asyncSave?: boolean;
  /** A local directory in front of a remote `backupDir` (`s3://…`): backups commit there first and upload in the background (see CheckpointManager). */
  localCache?: string;
  logger?: CheckpointLogger;
  fs?: FsOps;
}

const BACKUP_NAME = 'backup-{step:012d}';

function backupManager(backupDir: string, options: { asyncSave?: boolean; localCache?: string; fs?: FsOps; logger?: CheckpointLogger } = {}): CheckpointManager {
  return new CheckpointManager({
    directory: backupDir,
    name: BACKUP_NAME,
    keepLast: 1,
    includeOptimizer: true,
    versionOnClash: false,
    ...(options.asyncSave !== undefined ? { asyncSave: options.asyncSave } : {}),
    ...(options.localCache !== undefined ? { localCache: options.localCache } : {}),
    ...(options.fs ? { fs: options.fs } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  });
}

const SIGNAL_NUMBERS: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGTERM: 15, SIGUSR1: 10, SIGUSR2: 12 };

export class BackupAndRestore extends Callback {
  readonly backupDir: string;
  readonly saveFreq: 'epoch' | number;
  readonly deleteCheckpoint: boolean;
  readonly signals: NodeJS.Signals[];
  readonly afterSignal: 'reraise' | 'exit' | 'return';
  readonly saveOnPageHide: boolean;
  readonly manager: CheckpointManager;
  private readonly batchClock = new BatchClock();
  /** The signal that stopped training, if one did. */
  interruptedBy: NodeJS.Signals | null = null;
  private readonly logger: CheckpointLogger;
  private pendingSignal: NodeJS.Signals | null = null;
  /** A backup due at the last event, taken at the next one (see takePendingBackup). */
  private pendingBackup: { batch: number | null; epoch: number; step: number } | null = null;
  private readonly listeners = new Map<NodeJS.Signals, () => void>();
  private stopWatchingPage: (() => void) | undefined;
  /** A backup started because the page was hidden (between fit's events), awaited before training ends. */
  private pageHideBackup: Promise<void> | undefined;
  /** Where training stands, for a backup taken between events (page hidden): epochs completed, batches of the current one. */
  private position: { epoch: number; batch: number | null } = { epoch: 0, batch: null };
  /** The step of the last backup this run took: the page hidden again without training since takes none. */
  private lastBackupStep = -1;
  private currentEpoch = 0;
  private step = 0;
  private batchesSinceBackup = 0;

  constructor(args: BackupAndRestoreArgs) {
    super();
    if (args == null || typeof args.backupDir !== 'string' || args.backupDir.length === 0) {
      throw new CheckpointError('INVALID_ARGUMENT', 'backupAndRestore needs a `backupDir` (a directory for this run\'s backups).');
    }
    const freq = args.saveFreq ?? 'epoch';
    if (freq !== 'epoch' && !(Number.isInteger(freq) && freq > 0)) {
      throw new CheckpointError('INVALID_ARGUMENT', `Invalid value for argument \`saveFreq\`: ${JSON.stringify(freq)}. Expected 'epoch' or a positive integer number of batches.`);
    }
    const after = args.afterSignal ?? 'reraise';
    if (after !== 'reraise' && after !== 'exit' && after !== 'return') {
      throw new CheckpointError('INVALID_ARGUMENT', `\`afterSignal\` must be 'reraise', 'exit' or 'return'; got ${JSON.stringify(after)}.`);
    }
    this.backupDir = args.backupDir;
    this.saveFreq = freq;
    this.deleteCheckpoint = args.deleteCheckpoint ?? true;
    this.signals = args.saveOnSignal === true ? ['SIGTERM', 'SIGINT'] : Array.isArray(args.saveOnSignal) ? args.saveOnSignal : [];
    this.afterSignal = after;
    this.saveOnPageHide = args.saveOnPageHide ?? false;
    if (this.signals.length > 0 && typeof (globalThis as { process?: { on?: unknown } }).process?.on !== 'function') {
      throw new CheckpointError('INVALID_ARGUMENT', '`saveOnSignal` needs process signals, which this runtime (a browser?) does not have. In a browser use `saveOnPageHide: true`.');
    }
    if (this.saveOnPageHide && typeof (globalThis as { addEventListener?: unknown }).addEventListener !== 'function') {
      throw new CheckpointError('INVALID_ARGUMENT', '`saveOnPageHide` needs a page (a browser window); this runtime has none. In Node use `saveOnSignal`.');
    }
    this.logger = args.logger ?? consoleLogger;
    this.manager = backupManager(args.backupDir, { ...(args.asyncSave !== undefined ? { asyncSave: args.asyncSave } : {}), ...(args.localCache !== undefined ? { localCache: args.localCache } : {}), ...(args.fs ? { fs: args.fs } : {}), logger: this.logger });
  }

  override async onTrainBegin(): Promise<void> {
    this.interruptedBy = null;
    this.pendingSignal = null;
    this.batchClock.reset();
    this.pendingBackup = null;
    // Finish what a killed run left (its temporaries, a half-done replacement) even if this run saves nothing.
    await this.manager.recover();
    const latest = await this.manager.latest();
    this.step = latest?.metadata.step ?? 0;
    for (const signal of this.signals) {
      const listener = () => {
        this.pendingSignal = signal;
      };
      this.listeners.set(signal, listener);
      process.on(signal, listener);
    }
    this.position = { epoch: 0, batch: null };
    if (this.saveOnPageHide) this.stopWatchingPage = watchPageHide(() => this.backupNow());
  }

  override async onEpochBegin(epoch: number): Promise<void> {
    await this.takePendingBackup();
    this.currentEpoch = epoch;
    this.position = { epoch, batch: 0 };
  }

  override async onBatchBegin(): Promise<void> {
    await this.takePendingBackup();
  }

  override async onBatchEnd(batch: number): Promise<void> {
    const budget = this.batchClock.budgetAfterBatch();
    this.step += 1;
    this.position = { epoch: this.currentEpoch, batch: batch + 1 };
    this.batchesSinceBackup += 1;
    if (this.pendingSignal) return this.stopForSignal(batch);
    if (this.saveFreq !== 'epoch' && this.batchesSinceBackup >= this.saveFreq) this.backup(batch);
    // A backup's background steps advance only on the event loop's turns, which fit may never give.
    if (this.manager.working) {
      await giveTurns(() => this.manager.working, budget);
      this.batchClock.resume();
    }
  }

  override async onEpochEnd(epoch: number): Promise<void> {
    await this.takePendingBackup();
    // After a signal stopped training mid-epoch, this epoch is not complete: keep the mid-epoch backup.
    if (this.interruptedBy) return;
    this.currentEpoch = epoch;
    this.position = { epoch: epoch + 1, batch: null };
    if (this.saveFreq === 'epoch' || this.pendingSignal) this.backup(null);
    if (this.pendingSignal) await this.stopForSignal(null, true);
  }

  override async onTrainEnd(): Promise<void> {
    try {
      // A normal end deletes the backups anyway: the last one is not worth writing.
      if (this.deleteCheckpoint && !this.interruptedBy) this.pendingBackup = null;
      await this.pageHideBackup;
      await this.takePendingBackup();
      await this.manager.flush();
      // Every checkpointing callback of this fit (whatever its place in the list) must have committed
      // before a signal is re-raised or the process exits.
      if (this.interruptedBy) await allCommitted(this.model);
    } finally {
      for (const [signal, listener] of this.listeners) process.off(signal, listener);
      this.listeners.clear();
      this.stopWatchingPage?.();
      this.stopWatchingPage = undefined;
    }
    if (this.interruptedBy) return this.finishAfterSignal(this.interruptedBy);
    if (this.deleteCheckpoint) {
      await deleteBackups(this.manager);
      // With a local tier, the remote copies go too before fit returns (or the report says they have not).
      await this.manager.flush();
    }
  }

  /** Resolves once every backup this callback has started is committed (or has failed and been reported). */
  async flush(): Promise<void> {
    await this.pageHideBackup;
    await this.manager.flush();
  }

  /**
   * A backup is due now but taken at the next event (the next batch or epoch, or the end of training;
   * the weights cannot change in between). By then every other callback has started its saves for
   * this event, so the backup commits after them (commit_order.ts): a resumed run never skips past
   * an epoch whose best checkpoint was lost.
   */
  private backup(batch: number | null): void {
    this.batchesSinceBackup = 0;
    // `epoch` counts completed epochs for an epoch-end backup; a mid-epoch backup also records its batch.
    this.pendingBackup = { batch: batch === null ? null : batch + 1, epoch: batch === null ? this.currentEpoch + 1 : this.currentEpoch, step: this.step };
  }

  private async takePendingBackup(): Promise<void> {
    const due = this.pendingBackup;
    if (!due) return;
    this.pendingBackup = null;
    this.lastBackupStep = due.step;
    await this.manager.save(due.step, this.model as LayersModel, { epoch: due.epoch, batch: due.batch });
  }

  /**
   * The page was hidden: back up now, not at the next batch, which a hidden tab may never reach. A
   * backup already due is that one (the weights have not changed since); a mid-epoch one resumes at
   * the start of its epoch, as with `saveFreq` in batches.
   */
  private backupNow(): void {
    if (!this.pendingBackup && this.step === this.lastBackupStep) return;
    this.pendingBackup ??= { ...this.position, step: this.step };
    this.pageHideBackup = this.takePendingBackup().catch((error: unknown) => this.logger.warn(`Could not back up to ${this.backupDir} when the page was hidden: ${(error as Error)?.message ?? String(error)}`));
  }

  private async stopForSignal(batch: number | null, alreadySaved = false): Promise<void> {
    this.interruptedBy = this.pendingSignal;
    this.pendingSignal = null;
    if (!alreadySaved) this.backup(batch);
    this.logger.warn(`Received ${this.interruptedBy}: stopping training and backing up to ${this.backupDir}.`);
    (this.model as LayersModel).stopTraining = true;
  }

  private finishAfterSignal(signal: NodeJS.Signals): void {
    if (this.afterSignal === 'return') return;
    if (this.afterSignal === 'exit') process.exit(128 + (SIGNAL_NUMBERS[signal] ?? 0));
    // No listener of ours is left, so the signal's default action (or the program's own handler) runs.
    process.kill(process.pid, signal);
  }
}

/** Calls `onHide` whenever the page is hidden or being unloaded; returns the function that stops watching. */
function watchPageHide(onHide: () => void): () => void {
  const page = globalThis as unknown as { addEventListener(type: string, listener: () => void): void; removeEventListener(type: string, listener: () => void): void; document?: { visibilityState?: string } & EventTarget };
  const onVisibility = () => {
    if (page.document?.visibilityState === 'hidden') onHide();
  };
  page.document?.addEventListener('visibilitychange', onVisibility);
  page.addEventListener('pagehide', onHide);
  return () => {
    page.document?.removeEventListener('visibilitychange', onVisibility);
    page.removeEventListener('pagehide', onHide);
  };
}

/** Removes this library's backups and pointer from `backupDir`, nothing else. */
async function deleteBackups(manager: CheckpointManager): Promise<void> {
  for (const record of await manager.list()) await manager.delete(record.path);
  await manager.clearPointers();
}

export function backupAndRestore(args: BackupAndRestoreArgs): BackupAndRestore {
  return new BackupAndRestore(args);
}

export interface RestoredTraining {
  model: LayersModel;
  /** Pass to fit: epochs already completed according to the backup (0 when there is none). */
  initialEpoch: number;
  /** The backup restored from, or null. */
  restoredFrom: string | null;
}

/**
 * Builds the model with `build` (which must also compile it) and, if `backupDir` holds a backup,
 * loads its weights and optimizer state into it. Returns the model and the `initialEpoch` for fit.
 * A mid-epoch backup (from `saveFreq` in batches or a signal) resumes at the start of that epoch.
 */
export async function restoreTraining(
  backupDir: string,
  build: () => LayersModel | Promise<LayersModel>,
  options: { fs?: FsOps; localCache?: string } = {},
): Promise<RestoredTraining> {
  requirePath(backupDir, 'restoreTraining', 'backupDir');
  if (typeof build !== 'function') throw new CheckpointError('INVALID_ARGUMENT', 'restoreTraining needs a function that builds and compiles the model.');
  const model = requireModel(await build(), 'restoreTraining: the model that `build` returned');
  const manager = backupManager(backupDir, options);
  const latest = await manager.latest();
  if (!latest) return { model, initialEpoch: 0, restoredFrom: null };
  await manager.restore(latest.path, model);
  const epoch = latest.metadata.epoch ?? 0;
  return { model, initialEpoch: epoch, restoredFrom: latest.path };
}
