/**
 * Where a user's path or URL enters, it is normalized once, here: `file://` stripped, made absolute,
 * `.`/`..` segments and repeated slashes resolved. Every later comparison of paths is then a plain
 * string comparison, so two spellings of one place can never behave differently. No I/O.
 */
import { resolve } from 'node:path';
import { CheckpointError } from '../errors.js';
import { splitTemplateSegments } from '../template/match.js';

const FILE_SCHEME = 'file://';
const OTHER_SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;

/** Strips `file://` (tfjs-style: `file://rel/dir`, `file:///abs/dir`); refuses other URL schemes. */
function stripScheme(pathOrUrl: string): string {
  if (pathOrUrl.startsWith(FILE_SCHEME)) return pathOrUrl.slice(FILE_SCHEME.length);
  const scheme = OTHER_SCHEME.exec(pathOrUrl)?.[1];
  if (scheme !== undefined) {
    throw new CheckpointError(
      'UNSUPPORTED_FORMAT',
      `${pathOrUrl}: this version of tfjs-checkpoint stores checkpoints on the local file system only ` +
        `(a plain path or a file:// URL); "${scheme}://" is not supported yet.`,
    );
  }
  return pathOrUrl;
}

/** A plain path or `file://` URL as one absolute, normalized path (no trailing slash). */
export function toFsPath(pathOrUrl: string): string {
  return resolve(stripScheme(pathOrUrl));
}

/**
 * A path template (`ckpt/./w{epoch:02d}`, `file://ckpt//w{epoch}`) as an absolute, normalized template.
 * Only literal slashes split segments: a `/` inside a field's format spec stays in its field.
 */
export function toTemplatePath(templateOrUrl: string): string {
  const template = stripScheme(templateOrUrl);
  const base = template.startsWith('/') ? [] : splitTemplateSegments(escapeBraces(process.cwd()));
  const out: string[] = [];
  for (const segment of [...base, ...splitTemplateSegments(template)]) {
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

/**
 * Temporaries live beside the checkpoint they will become, so the commit is a same-filesystem rename:
 * `.<name>.tmp-<token>` while being written or deleted, `.<name>.old-<token>` while being replaced.
 */
export const TEMP_MARK = '.tmp-';
export const OLD_MARK = '.old-';

/**
 * File systems allow 255 bytes per name; a temporary adds a dot, a mark and a token of at most 24
 * bytes (`<pid>-<start>-<random>`), so a checkpoint's own name may have at most this many bytes.
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

const RESERVED_EXTENSIONS = ['.h5', '.hdf5', '.keras', '.safetensors'];

/** Keras/HF single-file formats that a later release adds; until then a clear error, never a silently different format. */
export function reservedFormatExtension(path: string): string | undefined {
  const lower = path.toLowerCase().replace(/[/\\]+$/, '');
  return RESERVED_EXTENSIONS.find((ext) => lower.endsWith(ext));
}
