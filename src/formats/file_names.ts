/**
 * Which paths name single-file checkpoints, in which format, by their extension: the formats other
 * tools read as one file (Keras, PyTorch and Hugging Face). Everything else is a TF.js checkpoint
 * folder. Version suffixes (`-v1`) go before the extension, so `w-03-v1.safetensors` stays a
 * safetensors file.
 */
export type SingleFileFormat = 'safetensors' | 'h5' | 'weights.h5' | 'keras';

/** Longest first: `.weights.h5` before `.h5`. */
const EXTENSIONS: readonly [string, SingleFileFormat][] = [
  ['.weights.h5', 'weights.h5'],
  ['.safetensors', 'safetensors'],
  ['.hdf5', 'h5'],
  ['.h5', 'h5'],
  ['.keras', 'keras'],
];

function extensionOf(path: string): [string, SingleFileFormat] | undefined {
  const lower = path.toLowerCase();
  return EXTENSIONS.find(([ext]) => lower.endsWith(ext) && lower.length > ext.length && !/[/\\]$/.test(lower.slice(0, -ext.length)));
}

/** The single-file format a path names, or undefined for a checkpoint folder. */
export function singleFileFormat(path: string): SingleFileFormat | undefined {
  return extensionOf(path.replace(/[/\\]+$/, ''))?.[1];
}

/** Whether a name is one of a single-file checkpoint. */
export function isSingleFileName(name: string): boolean {
  return singleFileFormat(name) !== undefined;
}

/** `[stem, extension]`: the extension of a single-file format as written (its case kept), else ''. */
export function splitFormatExtension(path: string): [string, string] {
  const found = extensionOf(path);
  return found ? [path.slice(0, -found[0].length), path.slice(-found[0].length)] : [path, ''];
}

/** `path` with version suffix `-v<n>` (before a single-file extension). */
export function withVersion(path: string, version: number): string {
  const [stem, ext] = splitFormatExtension(path);
  return `${stem}-v${version}${ext}`;
}

/** The version suffix of `path` (0 when none). */
export function versionOf(path: string): number {
  const [stem] = splitFormatExtension(path);
  return Number(/-v(\d+)$/.exec(stem)?.[1] ?? 0);
}

/** `name-v3` → `name`, `w-v2.h5` → `w.h5`; other names unchanged. */
export function stripVersionSuffix(name: string): string {
  const [stem, ext] = splitFormatExtension(name);
  return `${stem.replace(/-v\d+$/, '')}${ext}`;
}
