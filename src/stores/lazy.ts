/**
 * A store loaded on first use: the scheme is registered at import time (so `s3://…` resolves and
 * its errors are clear), while the store's module and its dependencies (the AWS SDK) load only when
 * a checkpoint is first read or written there.
 */
import { CheckpointError } from '../errors.js';
import type { StoreKey } from './keys.js';
import type { CheckpointStore, ListOptions, StageOptions } from './store.js';

export function lazyStore(scheme: string, load: () => Promise<CheckpointStore>, missing: string): CheckpointStore {
  let loading: Promise<CheckpointStore> | undefined;
  const store = (): Promise<CheckpointStore> =>
    (loading ??= load().catch((e: unknown) => {
      loading = undefined;
      throw new CheckpointError('UNSUPPORTED_FORMAT', `${scheme}:// locations need ${missing}: ${(e as Error)?.message ?? String(e)}.`, { cause: e });
    }));
  return {
    scheme,
    stage: async (key: StoreKey, options?: StageOptions) => (await store()).stage(key, options),
    stageFile: async (key: StoreKey, options?: StageOptions) => (await store()).stageFile(key, options),
    openFile: async (key) => (await store()).openFile(key),
    open: async (key) => (await store()).open(key),
    list: async (prefix, options: ListOptions) => (await store()).list(prefix, options),
    exists: async (key) => (await store()).exists(key),
    // Forwarded so that the default `s3://` store lists a directory once instead of a request per name.
    namesIn: async (dir) => {
      const loaded = await store();
      return loaded.namesIn ? loaded.namesIn(dir) : undefined;
    },
    remove: async (key) => (await store()).remove(key),
    readSmall: async (key, maxBytes) => (await store()).readSmall(key, maxBytes),
    writeSmall: async (key, bytes) => (await store()).writeSmall(key, bytes),
    removeSmall: async (key) => (await store()).removeSmall(key),
    recover: async (dir, isOurs) => (await store()).recover(dir, isOurs),
  };
}
