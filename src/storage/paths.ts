/** Path conventions shared by every reader and writer of checkpoint directories. No I/O. */

const FILE_SCHEME = 'file://';

/** Accepts plain paths and tfjs-style `file://` URLs (`file://rel/dir`, `file:///abs/dir`), as tfjs-node does. */
export function toFsPath(pathOrUrl: string): string {
  return pathOrUrl.startsWith(FILE_SCHEME) ? pathOrUrl.slice(FILE_SCHEME.length) : pathOrUrl;
}

/**
 * Temporaries live beside the checkpoint they will become, so the commit is a same-filesystem rename:
 * `.<name>.tmp-<token>` while being written, `.<name>.old-<token>` while being replaced.
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

const RESERVED_EXTENSIONS = ['.h5', '.hdf5', '.keras', '.safetensors'];

/** Keras/HF single-file formats that a later release adds; until then a clear error, never a silently different format. */
export function reservedFormatExtension(path: string): string | undefined {
  const lower = path.toLowerCase().replace(/[/\\]+$/, '');
  return RESERVED_EXTENSIONS.find((ext) => lower.endsWith(ext));
}
