/**
 * tfjs-checkpoint, universal: Keras's ModelCheckpoint for TensorFlow.js, with checkpoints that are
 * complete or invisible, on any store. This entry (the `browser` and `default` export conditions)
 * imports no `node:` module, and its only side effects (registering the memory store and the
 * save/load routers for registered stores' URLs, the codecs) never throw. Node's entry (index.ts) adds
 * the fs store and HDF5 on real files.
 */
import { registerFileRouter } from './checkpoint/tfjs_router.js';
import { hasFileCodec, registerFileCodec } from './checkpoint/file_codec.js';
import { registerHdf5Codecs } from './hdf5/register_hdf5.js';
import { safetensorsCodec } from './checkpoint/codec_safetensors.js';
import { registerBrowserStores } from './stores/register_browser.js';

registerFileCodec('safetensors', async () => safetensorsCodec);
// HDF5 wherever WebAssembly runs, with h5wasm's in-memory files (loaded on first use of an .h5 or
// .keras file). Where an entry registered its own first (Node's real files, in the CJS build's
// order), that one stays.
if (typeof WebAssembly === 'object' && !hasFileCodec('h5')) registerHdf5Codecs(async () => (await import('./hdf5/memfs_host.js')).memfsHdf5Host);
registerBrowserStores();

try {
  registerFileRouter();
} catch {
  // tfjs's io registry is unusable here (frozen or missing): model.save(url) with our URLs is then unavailable, the rest works
}

export { modelCheckpoint, ModelCheckpoint, consoleLogger } from './callbacks/model_checkpoint.js';
export type { ModelCheckpointArgs, CheckpointLogger } from './callbacks/model_checkpoint.js';
export { saveWeights, saveModel, loadWeights, loadModel } from './checkpoint/save_load.js';
export type { SaveOptions, SaveModelOptions } from './checkpoint/save_load.js';
export type { LoadWeightsOptions } from './checkpoint/model_io.js';
export type { SaveContext } from './checkpoint/write.js';
export type { CheckpointMetadata } from './formats/schema.js';
export { latestCheckpoint } from './checkpoint/latest.js';
export { CheckpointManager, restoreInto } from './checkpoint/manager.js';
export type { CheckpointManagerOptions, SaveBehaviourOptions, CheckpointRecord, SaveInfo, SaveSource, UploadReport } from './checkpoint/manager.js';
export { verifyCheckpoint as verify } from './checkpoint/read.js';
export { readMetadata, loadCheckpoint } from './checkpoint/public_read.js';
export type { VerifiedCheckpoint } from './checkpoint/read.js';
export { backupAndRestore, BackupAndRestore, restoreTraining } from './callbacks/backup_and_restore.js';
export type { BackupAndRestoreArgs, RestoredTraining } from './callbacks/backup_and_restore.js';
export type { RetentionOptions } from './policy/retention.js';
export { keepAll, keepAny, keepBest, keepEveryNEpochs, keepEveryNSeconds, keepLast } from './policy/keep_policy.js';
export type { KeepContext, KeepPolicy, RetentionCandidate } from './policy/keep_policy.js';
export { formatFilepath } from './template/format.js';
export type { TemplateValue } from './template/format.js';
export { CheckpointError, TemplateError, CorruptCheckpointError, WeightMismatchError } from './errors.js';
export type { CheckpointErrorCode } from './errors.js';
export { registerFileRouter, fileSaveHandler, fileLoadHandler } from './checkpoint/tfjs_router.js';
export type { Mode } from './policy/monitor.js';
export type { SaveFreq } from './policy/save_schedule.js';
export { VERSION } from './version.js';
export { registerStore, setDefaultScheme, registeredSchemes, resolveLocation, memoryStore } from './stores/registry.js';
export type { StoreOptions, StoreRegistration, Location } from './stores/registry.js';
export { MemoryStore } from './stores/memory.js';
export { IndexedDbStore } from './stores/indexeddb.js';
export type { IndexedDbStoreOptions, IndexedDbStep } from './stores/indexeddb.js';
export { OpfsStore } from './stores/opfs.js';
export type { OpfsStoreOptions, OpfsStep } from './stores/opfs.js';
export { indexedDbStore, opfsStore } from './stores/register_browser.js';
export { TieredStore, tieredStore } from './stores/tiered.js';
export type { TieredStoreOptions, TierReport } from './stores/tiered.js';
export { crc32 } from './formats/crc32.js';
export type { MemoryStoreOptions, MemoryStep } from './stores/memory.js';
export type {
  CheckpointStore,
  StagedCheckpoint,
  CheckpointReader,
  StoredFile,
  StagedFile,
  OpenedFile,
  ListedCheckpoint,
  ListOptions,
  StageOptions,
  WrittenFile,
  ByteChunks,
  StoreKey,
} from './stores/store.js';
export { GenerationChanged } from './stores/store.js';
