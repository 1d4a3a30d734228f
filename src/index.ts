/**
 * tfjs-checkpoint: Keras's ModelCheckpoint for TensorFlow.js, with checkpoints that are complete or
 * invisible. Importing this entry point in Node registers `file://` save/load handlers for pure
 * `@tensorflow/tfjs` (unless another, such as tfjs-node's, handles them).
 */
import { registerFileRouter } from './node/file_router.js';

registerFileRouter();

export { modelCheckpoint, ModelCheckpoint, consoleLogger } from './callbacks/model_checkpoint.js';
export type { ModelCheckpointArgs, CheckpointLogger } from './callbacks/model_checkpoint.js';
export { saveWeights, saveModel, loadWeights, loadModel } from './checkpoint/save_load.js';
export type { SaveOptions, SaveModelOptions } from './checkpoint/save_load.js';
export type { LoadWeightsOptions } from './checkpoint/model_io.js';
export type { SaveContext } from './checkpoint/write.js';
export type { CheckpointMetadata } from './formats/schema.js';
export { latestCheckpoint } from './checkpoint/latest.js';
export { CheckpointManager, restoreInto } from './checkpoint/manager.js';
export type { CheckpointManagerOptions, CheckpointRecord, SaveInfo, SaveSource } from './checkpoint/manager.js';
export { verifyCheckpoint as verify } from './checkpoint/read.js';
export type { VerifiedCheckpoint } from './checkpoint/read.js';
export { backupAndRestore, BackupAndRestore, restoreTraining } from './callbacks/backup_and_restore.js';
export type { BackupAndRestoreArgs, RestoredTraining } from './callbacks/backup_and_restore.js';
export type { RetentionOptions } from './policy/retention.js';
export { keepAll, keepAny, keepBest, keepEveryNEpochs, keepEveryNSeconds, keepLast } from './policy/keep_policy.js';
export type { KeepContext, KeepPolicy, RetentionCandidate } from './policy/keep_policy.js';
export type { FsOps } from './storage/fs_ops.js';
export { formatFilepath } from './template/format.js';
export type { TemplateValue } from './template/format.js';
export { CheckpointError, TemplateError, CorruptCheckpointError, WeightMismatchError } from './errors.js';
export type { CheckpointErrorCode } from './errors.js';
export { registerFileRouter, fileSaveHandler, fileLoadHandler } from './node/file_router.js';
export type { Mode } from './policy/monitor.js';
export type { SaveFreq } from './policy/save_schedule.js';
export { VERSION } from './version.js';
