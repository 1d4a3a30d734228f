/**
 * Keys: how every store names things. A key is absolute and '/'-separated, with no `.`, `..`, empty
 * segment or trailing slash (`/` is the root). Keys are made once, where a user's path or URL enters
 * (stores/registry.ts), so every later comparison is a plain string comparison and two spellings of
 * one place can never behave differently. Pure string functions: no I/O, no `node:` module.
 */
import { CheckpointError } from '../errors.js';
import { splitTemplateSegments } from '../template/match.js';

export type StoreKey = string;

/** Resolves `.`, `..` and repeated slashes of `path` against the absolute key `base` (used when `path` is relative). */
export function normalizeKey(path: string, base: StoreKey = '/'): StoreKey {
  const segments = path.startsWith('/') ? [] : base.split('/');
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  return `/${segments.filter((s) => s !== '').join('/')}`;
}

/**
 * A path template as an absolute, normalized template. Only literal slashes split segments: a `/`
 * inside a field's format spec stays in its field. `base` is the template text of the directory a
 * relative template starts from (already escaped, see `escapeBraces`).
 */
export function normalizeTemplateKey(template: string, base = ''): string {
  const out: string[] = [];
  const segments = template.startsWith('/') ? splitTemplateSegments(template) : [...splitTemplateSegments(base), ...splitTemplateSegments(template)];
  for (const segment of segments) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') out.pop();
    else out.push(segment);
  }
  return `/${out.join('/')}`;
}

/** Literal text as template text (`{` → `{{`), for a directory that is not a template. */
export function escapeBraces(text: string): string {
  return text.replace(/\{/g, '{{').replace(/\}/g, '}}');
}

export function keyDirname(key: StoreKey): StoreKey {
  const at = key.lastIndexOf('/');
  return at <= 0 ? '/' : key.slice(0, at);
}

export function keyBasename(key: StoreKey): string {
  return key.slice(key.lastIndexOf('/') + 1);
}

export function joinKey(dir: StoreKey, name: string): StoreKey {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

/** Whether `key` lies strictly inside `dir`. */
export function isInside(key: StoreKey, dir: StoreKey): boolean {
  return dir === '/' ? key !== '/' : key.startsWith(`${dir}/`);
}

/** `key` relative to `dir`, which must contain it. */
export function relativeKey(dir: StoreKey, key: StoreKey): string {
  return dir === '/' ? key.slice(1) : key.slice(dir.length + 1);
}

/**
 * Names of checkpoints and pointers are limited so that a store can add what its commit needs (the fs
 * store's temporaries add a dot, a mark and a token of at most 24 bytes to a 255-byte file name).
 */
export const MAX_NAME_BYTES = 255 - 32;

/** A clear error for a checkpoint (or pointer) name too long for its temporaries; undefined when it fits. */
export function nameTooLong(name: string, where: string): CheckpointError | undefined {
  const bytes = new TextEncoder().encode(name).byteLength;
  if (bytes <= MAX_NAME_BYTES) return undefined;
  return new CheckpointError(
    'INVALID_ARGUMENT',
    `${where}: the name "${name.slice(0, 40)}…" is ${bytes} bytes; checkpoint names may have at most ${MAX_NAME_BYTES} ` +
      '(file systems allow 255, and the temporary names used for atomic commits need the rest). Shorten the filepath template.',
  );
}

/**
 * Temporaries live beside the checkpoint they will become: `.<name>.tmp-<token>` while being written
 * or deleted, `.<name>.old-<token>` while being replaced. Every reader and every listing skips them.
 */
export const TEMP_MARK = '.tmp-';
export const OLD_MARK = '.old-';

export function tempSiblingName(name: string, token: string): string {
  return `.${name}${TEMP_MARK}${token}`;
}

export function oldSiblingName(name: string, token: string): string {
  return `.${name}${OLD_MARK}${token}`;
}

/** True for names this library uses for in-progress or being-replaced checkpoints; never a checkpoint itself. */
export function isTemporaryName(name: string): boolean {
  return name.startsWith('.') && (name.includes(TEMP_MARK) || name.includes(OLD_MARK));
}

/** For `.<name>.old-<token>`, returns `<name>`; otherwise undefined. */
export function replacedCheckpointName(name: string): string | undefined {
  if (!name.startsWith('.')) return undefined;
  const at = name.lastIndexOf(OLD_MARK);
  return at > 1 ? name.slice(1, at) : undefined;
}

/** For `.<name>.tmp-<token>`, returns `<name>`; otherwise undefined. */
export function stagedCheckpointName(name: string): string | undefined {
  if (!name.startsWith('.')) return undefined;
  const at = name.lastIndexOf(TEMP_MARK);
  return at > 1 ? name.slice(1, at) : undefined;
}
