/**
 * The order of commits across every manager and callback that saves one model. Checkpoints of a
 * model become visible in the order their saves began, whichever callback started them and however
 * long each takes to write: so after any crash, what is on disk is a prefix of what training saved
 * (a backup of epoch 5 is never there without the best checkpoint of epoch 5 that began before it).
 * Writes still overlap; only the commit (and the retention and pointers that follow it) waits its turn.
 */
const tails = new WeakMap<object, Promise<void>>();

export interface CommitTurn {
  /** Resolves when every earlier save of the same model has committed (or failed). */
  ready: Promise<void>;
  /** Ends this turn; must be called exactly once, whatever happened to the save. */
  finish(): void;
}

const NO_ORDER: CommitTurn = { ready: Promise.resolve(), finish: () => undefined };

/** Takes the next turn for `key` (a model); saves without a model are not ordered. */
export function takeCommitTurn(key: object | undefined): CommitTurn {
  if (key === undefined) return NO_ORDER;
  const ready = tails.get(key) ?? Promise.resolve();
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  tails.set(key, ready.then(() => finished));
  return { ready, finish };
}

/** Resolves when every save of `key` begun so far has committed or failed. */
export function allCommitted(key: object): Promise<void> {
  return tails.get(key) ?? Promise.resolve();
}
