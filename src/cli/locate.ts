/**
 * Where a command's arguments point. Every path, template or URL is resolved once, here, with the
 * library's own resolver, so `./run/`, `run` and `file://run` are one place and everything after this
 * module sees one spelling (the location's canonical URL). `s3://` gets its endpoint from `--endpoint`
 * or the environment before anything is resolved.
 */
import { registerStore, resolveLocation, type Location } from '../index.js';
import { UsageError } from './errors.js';

export interface S3Settings {
  /** `--endpoint`: an S3-compatible server (MinIO, R2, s3rver …). */
  endpoint?: string;
}

const configured = new Set<string>();

/**
 * The endpoint for s3:// URLs: `--endpoint`, else TFJS_CHECKPOINT_S3_ENDPOINT, AWS_ENDPOINT_URL_S3 or
 * AWS_ENDPOINT_URL. A custom endpoint is addressed path-style (what MinIO, Ceph and s3rver need, and
 * R2 accepts) unless TFJS_CHECKPOINT_S3_FORCE_PATH_STYLE=0. Without one, the AWS SDK's defaults apply.
 */
export async function configureS3(urls: readonly string[], settings: S3Settings): Promise<void> {
  if (!urls.some((u) => /^s3:\/\//i.test(u))) return;
  const env = process.env;
  // The SDK's multi-line notice about future Node versions is not this tool's to print (errors stay one line).
  env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
  const endpoint = settings.endpoint ?? env['TFJS_CHECKPOINT_S3_ENDPOINT'] ?? env['AWS_ENDPOINT_URL_S3'] ?? env['AWS_ENDPOINT_URL'];
  if (endpoint === undefined || configured.has(endpoint)) return;
  if (!/^https?:\/\/[^/]/i.test(endpoint)) throw new UsageError(`--endpoint must be an http:// or https:// URL; got "${endpoint}".`);
  let S3Store: typeof import('../s3.js').S3Store;
  try {
    ({ S3Store } = await import('../s3.js'));
  } catch {
    throw new UsageError('s3:// locations need the AWS SDK: npm install @aws-sdk/client-s3');
  }
  registerStore('s3', new S3Store({ endpoint, forcePathStyle: env['TFJS_CHECKPOINT_S3_FORCE_PATH_STYLE'] !== '0' }));
  configured.add(endpoint);
}

export function isTemplate(arg: string): boolean {
  return /\{[^{]/.test(arg.replace(/\{\{|\}\}/g, ''));
}

/** A location argument, resolved once. Empty arguments are refused here. */
export function locate(arg: string, what: string): Location {
  if (arg.trim() === '') throw new UsageError(`${what} is empty: give a path, a template or a URL.`);
  return resolveLocation(arg);
}

/** Literal text inside a template (`{` → `{{`). */
export function escapeTemplateText(text: string): string {
  return text.replace(/[{}]/g, (c) => c + c);
}

export type CheckpointFormat = 'tfjs' | 'safetensors' | 'h5' | 'weights.h5' | 'keras';

/** Longest first: `.weights.h5` before `.h5`. */
const EXTENSIONS: readonly [string, CheckpointFormat][] = [
  ['.weights.h5', 'weights.h5'],
  ['.safetensors', 'safetensors'],
  ['.hdf5', 'h5'],
  ['.h5', 'h5'],
  ['.keras', 'keras'],
];

/** The format a checkpoint's name implies: a single-file format by its extension, else a TF.js folder. */
export function formatOfName(name: string): CheckpointFormat {
  const lower = name.toLowerCase().replace(/\/+$/, '');
  return EXTENSIONS.find(([ext]) => lower.endsWith(ext) && lower.length > ext.length)?.[1] ?? 'tfjs';
}

export function extensionOf(format: CheckpointFormat): string {
  return format === 'tfjs' ? '' : format === 'h5' ? '.h5' : `.${format}`;
}

export function baseName(url: string): string {
  const trimmed = url.replace(/\/+$/, '');
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}
