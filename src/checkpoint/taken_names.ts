/**
 * Which names are taken in a directory, known without asking the store while `fit` waits. Choosing a
 * new checkpoint's name (versionOnClash) asks whether it is taken; where that is a network round trip
 * (S3: a request to the region, per save, while training is held), the directory is listed once per
 * process and store (`namesIn`) and the set is kept up to date by the commits and removals of this
 * process's managers. A name another process takes afterwards is caught by the commit itself, which
 * never replaces a checkpoint: it claims the next version and says so (see write.ts `claim`). The
 * local tier in front of a bucket (`localCache`) uses the bucket's list behind its `exists`
 * (stores/tiered.ts), and notes its own uploads and deletions in it.
 */
import type { CheckpointStore, StoreKey } from '../stores/store.js';
import { keyBasename, keyDirname } from '../stores/keys.js';

const byStore = new WeakMap<CheckpointStore, Map<StoreKey, Promise<Set<string> | undefined>>>();

/** The names taken in `dir`; undefined where the store checks names one by one (`exists`). */
export function takenNames(store: CheckpointStore, dir: StoreKey): Promise<Set<string> | undefined> | undefined {
  if (!store.namesIn) return undefined;
  let dirs = byStore.get(store);
  if (!dirs) byStore.set(store, (dirs = new Map()));
  let names = dirs.get(dir);
  if (!names) {
    names = store.namesIn(dir);
    dirs.set(dir, names);
    // A failed listing, or a store that had none to give, is not kept: the next save asks again.
    names.then(
      (listed) => void (listed === undefined && dirs.delete(dir)),
      () => dirs.delete(dir),
    );
  }
  return names;
}

/** Records what a commit or a removal through `store` did to the name of `key`. */
export function noteName(store: CheckpointStore, key: StoreKey, taken: boolean): void {
  void byStore
    .get(store)
    ?.get(keyDirname(key))
    ?.then(
      (names) => void (taken ? names?.add(keyBasename(key)) : names?.delete(keyBasename(key))),
      () => undefined,
    );
}
