/**
 * Which store holds a path or URL, and under which key: the one place where a user's spelling of a
 * location is resolved. `file://…` and plain paths go to the default store (the fs store, registered
 * by the Node entry), `memory://…` to the process's memory store, and any scheme a user registers to
 * theirs. A scheme no store claims is a clear error naming the ones there are, never a local folder.
 */
import { CheckpointError } from '../errors.js';
import { escapeBraces, normalizeKey, normalizeTemplateKey, type StoreKey } from './keys.js';
import { MemoryStore } from './memory.js';
import type { CheckpointStore } from './store.js';

/** Per-call options a store may honour (the fs store takes `fs`, the file-system calls to use; tests inject faults there). */
export interface StoreOptions {
  fs?: unknown;
}

export interface StoreRegistration {
  /** The store, or a function giving the store to use for a call's options. */
  store: CheckpointStore | ((options: StoreOptions) => CheckpointStore);
  /** The key that relative paths start from (the fs store: the working directory). Default `/`. */
  base?: () => StoreKey;
}

export interface Location {
  store: CheckpointStore;
  /** The scheme it was reached by (its store's registration). */
  scheme: string;
  key: StoreKey;
  /** How people see it, and how to reach it again: see `describeKey`. */
  url: string;
}

export interface TemplateLocation {
  store: CheckpointStore;
  scheme: string;
  /** The template as an absolute, normalized key template. */
  template: string;
}

const URL_SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;

/** Shared by every copy of this module in a process (ESM and CJS builds both loaded), like tfjs's own registries. */
const REGISTRY_KEY = Symbol.for('tfjs-checkpoint.stores');

interface Registry {
  schemes: Map<string, StoreRegistration>;
  defaultScheme: string | undefined;
}

function registry(): Registry {
  const holder = globalThis as unknown as Record<symbol, Registry | undefined>;
  let found = holder[REGISTRY_KEY];
  if (!found) {
    found = { schemes: new Map(), defaultScheme: undefined };
    try {
      Object.defineProperty(globalThis, REGISTRY_KEY, { value: found });
    } catch {
      // a frozen global: this module's copy keeps its own registry
    }
  }
  return found;
}

/**
 * Makes `scheme://…` locations resolve to `store`: `registerStore('myfs', myStore)`. Keys the store
 * sees are absolute and normalized (`myfs://a/./b//c` is the key `/a/b/c`). Registering a scheme again
 * replaces it.
 */
export function registerStore(scheme: string, store: CheckpointStore | StoreRegistration): void {
  if (!/^[a-z][a-z0-9+.-]*$/i.test(scheme)) {
    throw new CheckpointError('INVALID_ARGUMENT', `registerStore: "${scheme}" is not a URL scheme (letters, digits, '+', '-', '.'; starting with a letter).`);
  }
  const registration = 'store' in store && !('stage' in store) ? store : { store: store as CheckpointStore };
  registry().schemes.set(scheme.toLowerCase(), registration);
}

/** The store that plain paths (no `scheme://`) go to. The Node entry sets `file`. */
export function setDefaultScheme(scheme: string | undefined): void {
  registry().defaultScheme = scheme?.toLowerCase();
}

/** The schemes stores are registered for, as `scheme://`. */
export function registeredSchemes(): string[] {
  return [...registry().schemes.keys()].sort().map((s) => `${s}://`);
}

/**
 * How people see a key of the store registered as `scheme`, which resolves back to the same key: a
 * plain path for the default store (the fs store in Node), `scheme://…` for every other.
 */
export function describeKey(scheme: string, key: StoreKey): string {
  const { defaultScheme, schemes } = registry();
  if (scheme === defaultScheme) return key;
  // Where relative paths mean something (`file://rel`), an absolute key needs the third slash.
  return schemes.get(scheme)?.base ? `${scheme}://${key}` : `${scheme}:/${key}`;
}

/** Another key of the same store as `location`. */
export function sibling(location: Pick<Location, 'store' | 'scheme'>, key: StoreKey): Location {
  return { store: location.store, scheme: location.scheme, key, url: describeKey(location.scheme, key) };
}

function registrationFor(pathOrUrl: string): { scheme: string; registration: StoreRegistration; rest: string } {
  const { schemes, defaultScheme } = registry();
  const scheme = URL_SCHEME.exec(pathOrUrl)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    const registration = defaultScheme === undefined ? undefined : schemes.get(defaultScheme);
    if (!registration) {
      throw new CheckpointError(
        'UNSUPPORTED_FORMAT',
        `${pathOrUrl}: plain paths need a file system, and there is none here. Use a URL of a registered store (${registeredSchemes().join(', ')}).`,
      );
    }
    return { scheme: defaultScheme!, registration, rest: pathOrUrl };
  }
  const registration = schemes.get(scheme);
  if (!registration) {
    const known = registeredSchemes();
    throw new CheckpointError(
      'UNSUPPORTED_FORMAT',
      `${pathOrUrl}: no store handles "${scheme}://" locations. The schemes there are: ${known.join(', ')}` +
        `${defaultScheme ? ' and plain paths' : ''}. Register a store for it with registerStore('${scheme}', store).`,
    );
  }
  return { scheme, registration, rest: pathOrUrl.slice(scheme.length + 3) };
}

function storeOf(registration: StoreRegistration, options: StoreOptions): CheckpointStore {
  return typeof registration.store === 'function' ? registration.store(options) : registration.store;
}

/** The store and key of a path or URL. */
export function resolveLocation(pathOrUrl: string, options: StoreOptions = {}): Location {
  const { scheme, registration, rest } = registrationFor(pathOrUrl);
  return sibling({ store: storeOf(registration, options), scheme }, normalizeKey(rest, registration.base?.() ?? '/'));
}

/**
 * The store of a path template, and the template as an absolute, normalized key template. Only
 * literal slashes split segments: a `/` inside a field's format spec stays in its field.
 */
export function resolveTemplate(templateOrUrl: string, options: StoreOptions = {}): TemplateLocation {
  const { scheme, registration, rest } = registrationFor(templateOrUrl);
  return { store: storeOf(registration, options), scheme, template: normalizeTemplateKey(rest, escapeBraces(registration.base?.() ?? '/')) };
}

/** The process's memory store (`memory://`). */
export const memoryStore = new MemoryStore();

registerStore('memory', memoryStore);
