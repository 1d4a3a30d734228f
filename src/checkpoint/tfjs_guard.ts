/**
 * Guards for the two places where we patch TF.js objects (the one-shot `decodeWeights` stand-in and
 * the once-per-tfjs `file://` router flag). `tf.io` is a plain object in tfjs's CommonJS builds but
 * may be frozen, or an ES module namespace in a bundled ESM build: a namespace's properties report
 * `writable: true` yet assigning one throws a TypeError (strict mode) or does nothing (sloppy mode).
 * So no descriptor check: we try, confirm it took, and put things back if it did not. Never throws.
 */

/**
 * Sets `target[key] = value` if `target` lets us, and confirms by reading it back. Returns true if
 * `target[key]` is now `value`; otherwise `target` is left as it was (as far as it can be) and the
 * result is false. Never throws, whatever `target` is (frozen, sealed, module namespace, proxy).
 */
export function trySetProperty(target: object, key: PropertyKey, value: unknown): boolean {
  const record = target as Record<PropertyKey, unknown>;
  let before: unknown;
  let had = false;
  try {
    had = Object.prototype.hasOwnProperty.call(target, key);
    before = record[key];
  } catch {
    return false;
  }
  try {
    record[key] = value;
    if (record[key] === value) return true;
  } catch {
    // Frozen, non-writable, getter-only, a module namespace, or a proxy that refuses.
  }
  // It did not take (or took as something else): undo whatever happened.
  try {
    if (had) {
      if (record[key] !== before) record[key] = before;
    } else if (Object.prototype.hasOwnProperty.call(target, key)) {
      delete record[key];
    }
  } catch {
    // Nothing more we can do; we report false either way.
  }
  return false;
}

/** Fallbacks of `sharedWeakSet`, by name. */
const privateSets: Record<string, WeakSet<object>> = Object.create(null);

/**
 * A WeakSet shared by every copy of this library loaded in the process (found on `globalThis` under
 * `Symbol.for(name)`), to remember objects such as a tfjs-core's `io` without writing to them. Where
 * `globalThis` cannot take it (a locked-down realm), a set private to this copy.
 */
export function sharedWeakSet(name: string): WeakSet<object> {
  const key = Symbol.for(name);
  const global = globalThis as unknown as Record<symbol, unknown>;
  try {
    const existing = global[key];
    if (existing instanceof WeakSet) return existing as WeakSet<object>;
    const fresh = new WeakSet<object>();
    Object.defineProperty(globalThis, key, { value: fresh, writable: false, enumerable: false, configurable: true });
    if (global[key] === fresh) return fresh;
  } catch {
    // Frozen or non-extensible globalThis: fall through.
  }
  return (privateSets[name] ??= new WeakSet<object>());
}
