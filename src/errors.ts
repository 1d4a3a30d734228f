/**
 * One error family for everything a user can cause. `code` is stable and meant for programs;
 * `message` says what was wrong and what to do, and is meant for people.
 */
export type CheckpointErrorCode =
  | 'INVALID_ARGUMENT' // a bad option value (construction time)
  | 'TEMPLATE_SYNTAX' // unbalanced braces, positional fields, etc.
  | 'TEMPLATE_MISSING_KEY' // a field names a value that is not available
  | 'TEMPLATE_BAD_SPEC' // a format spec that Python would reject
  | 'TEMPLATE_TYPE_MISMATCH' // e.g. {loss:d} with a float loss
  | 'UNSUPPORTED_FORMAT' // a format or store this build cannot handle here
  | 'UNSUPPORTED_LAYER' // a layer or option that cannot be translated between TF.js and Keras
  | 'PATH_CONFLICT' // the path exists as the wrong kind of thing
  | 'NOT_FOUND' // no checkpoint at that path
  | 'CORRUPT_CHECKPOINT' // unreadable, malformed or inconsistent files
  | 'WEIGHT_MISMATCH' // shapes, dtypes, names or counts do not match the model
  | 'TOO_LARGE' // a buffer the checkpoint needs is larger than this runtime can allocate
  | 'REPLACED_WHILE_READING' // the checkpoint was replaced by a writer on every attempt to read it
  | 'IO_ERROR'; // the storage layer failed (disk full, permissions, ...)

export class CheckpointError extends Error {
  readonly code: CheckpointErrorCode;
  constructor(code: CheckpointErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CheckpointError';
    this.code = code;
  }
}

/** A filepath template could not be formatted (Python's KeyError / ValueError / IndexError). */
export class TemplateError extends CheckpointError {
  constructor(code: Extract<CheckpointErrorCode, `TEMPLATE_${string}`>, message: string) {
    super(code, message);
    this.name = 'TemplateError';
  }
}

/** A checkpoint on disk is missing, unreadable or does not describe valid tensors. */
export class CorruptCheckpointError extends CheckpointError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CORRUPT_CHECKPOINT', message, options);
    this.name = 'CorruptCheckpointError';
  }
}

/** The stored weights do not fit the model they are loaded into. */
export class WeightMismatchError extends CheckpointError {
  constructor(message: string) {
    super('WEIGHT_MISMATCH', message);
    this.name = 'WeightMismatchError';
  }
}

/**
 * A store's failure as a CheckpointError: stores written by users (and remote ones) may throw
 * anything; callers always get a `CheckpointError` with a `code`, the original as its `cause`.
 */
export function asCheckpointError(error: unknown, action: string): CheckpointError {
  if (error instanceof CheckpointError) return error;
  return new CheckpointError('IO_ERROR', `Could not ${action}: ${(error as Error)?.message ?? String(error)}. Earlier checkpoints are untouched.`, { cause: error });
}
