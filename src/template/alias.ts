/**
 * `acc` and `accuracy` name the same metric: TF.js logs `acc` / `val_acc`, while Keras code and
 * docs use `accuracy` / `val_accuracy`. Swapping the name in a template or a monitor must just work.
 */

/** `acc` ↔ `accuracy` as a whole `_`-separated word (so `accumulated` is left alone). */
const ACCURACY_WORD = /(?<=^|_)(?:accuracy|acc)(?=_|$)/g;

function swapAccuracyWords(name: string): string {
  return name.replace(ACCURACY_WORD, (word) => (word === 'acc' ? 'accuracy' : 'acc'));
}

/**
 * The key to use for `name`: `name` itself when available, else its acc/accuracy twin when that is
 * available (`val_accuracy` → `val_acc`, `acc` → `accuracy`), else undefined.
 */
export function resolveAlias(name: string, available: (key: string) => boolean): string | undefined {
  if (available(name)) return name;
  const twin = swapAccuracyWords(name);
  return twin !== name && available(twin) ? twin : undefined;
}
