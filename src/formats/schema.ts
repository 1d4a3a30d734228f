/**
 * Schemas for every JSON file a checkpoint holds. Readers validate with these before trusting a
 * single field, so a hostile or damaged file is a clear error, never a crash or a partial load.
 */
import { z } from 'zod';

/** A file named by a manifest must be a plain name inside the checkpoint directory. */
const fileName = z
  .string()
  .transform((s) => (s.startsWith('./') ? s.slice(2) : s))
  .refine((s) => s.length > 0 && s.length <= 255 && !/[/\\]/.test(s) && s !== '.' && s !== '..' && !s.includes('\0'), {
    message: 'must be a plain file name inside the checkpoint directory (no "/", "\\" or "..")',
  });

const dimension = z.number().int().min(0).max(2 ** 31 - 1);

export const weightSpecSchema = z.looseObject({
  name: z.string().min(1),
  shape: z.array(dimension).max(32),
  dtype: z.enum(['float32', 'int32', 'bool'], {
    message: 'dtype must be float32, int32 or bool (string, complex64 and quantized weights are not supported)',
  }),
  group: z.string().optional(),
  quantization: z.undefined({ message: 'quantized weights are not supported' }).optional(),
});

export const manifestGroupSchema = z.looseObject({
  paths: z.array(fileName).min(1),
  weights: z.array(weightSpecSchema),
});

/** Adds an issue for every entry of `names` that repeats an earlier one (without quoting it). */
function refuseRepeats(names: readonly { name: string; path: (string | number)[] }[], ctx: z.RefinementCtx, what: string): void {
  const seen = new Set<string>();
  for (const { name, path } of names) {
    if (seen.has(name)) ctx.addIssue({ code: 'custom', path, message: `names a file that an earlier entry already names (${what})` });
    seen.add(name);
  }
}

/**
 * Each weight file may appear once in the whole manifest: a manifest repeating one shard could make
 * a small checkpoint describe (and a reader allocate) gigabytes.
 */
export const weightsManifestSchema = z.array(manifestGroupSchema).superRefine((groups, ctx) => {
  const names = groups.flatMap((g, i) => g.paths.map((name, k) => ({ name, path: [i, 'paths', k] })));
  refuseRepeats(names, ctx, 'each weight file may be listed once');
});

/** tfjs's `model.json` for layers models (what `tf.loadLayersModel` reads). */
export const modelJsonSchema = z.looseObject({
  modelTopology: z.record(z.string(), z.unknown()),
  weightsManifest: weightsManifestSchema,
  format: z.string().optional(),
  generatedBy: z.string().nullable().optional(),
  convertedBy: z.string().nullable().optional(),
  trainingConfig: z.record(z.string(), z.unknown()).nullable().optional(),
  userDefinedMetadata: z.record(z.string(), z.unknown()).nullable().optional(),
});

export const WEIGHTS_FORMAT = 'tfjs-checkpoint-weights';

/** Our weights-only manifest: the stock tfjs manifest plus a format tag. */
export const weightsJsonSchema = z.looseObject({
  format: z.literal(WEIGHTS_FORMAT),
  formatVersion: z.literal(1),
  generatedBy: z.string().optional(),
  weightsManifest: weightsManifestSchema,
});

export const METADATA_FORMAT = 'tfjs-checkpoint';

const finiteOrSpecial = z.union([z.number(), z.enum(['NaN', 'Infinity', '-Infinity'])]);

/** `checkpoint.json`: written last into every checkpoint; describes it and every file's size and checksum. */
export const metadataSchema = z.looseObject({
  format: z.literal(METADATA_FORMAT),
  formatVersion: z.literal(1),
  kind: z.enum(['model', 'weights']),
  /** When the save began (the snapshot) and when its files were all written, ISO 8601. */
  createdAt: z.string(),
  committedAt: z.string().optional(),
  /** Seconds of training (wall clock since the callback's training began) at the snapshot. */
  trainingSeconds: z.number().min(0).nullable().optional(),
  library: z.object({ name: z.string(), version: z.string() }),
  tfjsVersion: z.string().nullable(),
  epoch: z.number().int().nullable(),
  batch: z.number().int().nullable(),
  step: z.number().int().min(0).nullable(),
  samplesSeen: z.number().min(0).nullable(),
  metrics: z.record(z.string(), finiteOrSpecial),
  monitor: z
    .object({ name: z.string(), mode: z.enum(['min', 'max']), value: finiteOrSpecial.nullable(), best: finiteOrSpecial.nullable() })
    .nullable(),
  /** The filepath template it was saved under (absolute, normalized); absent for single saves. */
  template: z.string().optional(),
  /** Optimizer scalars tfjs's getWeights() omits (Adam's beta powers), for bit-identical resumes. */
  optimizerExtras: z.record(z.string(), z.number()).optional(),
  /** Single-file checkpoints: the file's format (their metadata lives inside the file; `files` is empty). */
  container: z.enum(['safetensors', 'h5', 'weights.h5', 'keras']).optional(),
  /** Single-file checkpoints: every stored weight in the model's order, where it is in the file, and its CRC-32. */
  weights: z
    .array(
      z.object({
        name: z.string().min(1),
        key: z.string().min(1),
        group: z.literal('optimizer').optional(),
        crc32: z.number().int().min(0).max(0xffffffff),
      }),
    )
    .optional(),
  files: z
    .array(z.object({ name: fileName, size: z.number().int().min(0), crc32: z.number().int().min(0).max(0xffffffff) }))
    .superRefine((files, ctx) => refuseRepeats(files.map((f, i) => ({ name: f.name, path: [i, 'name'] })), ctx, 'each file is recorded once')),
});

export type ModelJson = z.infer<typeof modelJsonSchema>;
export type WeightsJson = z.infer<typeof weightsJsonSchema>;
export type ManifestGroup = z.infer<typeof manifestGroupSchema>;
export type CheckpointMetadata = z.infer<typeof metadataSchema>;

/** JSON has no NaN/Infinity: metrics carry them as strings. */
export function encodeNumber(value: number): number | 'NaN' | 'Infinity' | '-Infinity' {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return 'Infinity';
  if (value === -Infinity) return '-Infinity';
  return value;
}

export function decodeNumber(value: number | 'NaN' | 'Infinity' | '-Infinity'): number {
  return typeof value === 'number' ? value : Number(value);
}

/** Field names our schemas define: the only strings of an issue's path that do not come from the file. */
const SCHEMA_KEYS = new Set(
  [weightSpecSchema, manifestGroupSchema, modelJsonSchema, weightsJsonSchema, metadataSchema].flatMap((schema) => Object.keys(schema.shape)).concat(
    ['name', 'version', 'mode', 'value', 'best', 'size', 'crc32'],
  ),
);

/**
 * Formats a schema failure as one readable line per problem. Never quotes the file: zod's messages
 * name what was expected, not the value received, and path segments that are keys from the file
 * (a metric's name) are replaced, since the file may be a link to something secret.
 */
export function describeIssues(error: z.ZodError): string {
  const segment = (key: PropertyKey) => (typeof key === 'number' ? String(key) : typeof key === 'string' && SCHEMA_KEYS.has(key) ? key : '<key>');
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length ? issue.path.map(segment).join('.') : '(root)'}: ${issue.message}`)
    .join('; ');
}
