const RESERVED_EXTENSIONS = ['.h5', '.hdf5', '.keras', '.safetensors'];

/** Keras/HF single-file formats that a later release adds; until then a clear error, never a silently different format. */
export function reservedFormatExtension(path: string): string | undefined {
  const lower = path.toLowerCase().replace(/[/\\]+$/, '');
  return RESERVED_EXTENSIONS.find((ext) => lower.endsWith(ext));
}
