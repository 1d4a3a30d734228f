/**
 * How the tool fails: one clear line on stderr and a non-zero exit code; the stack only with `--debug`.
 * Exit codes: 0 success; 1 the answer is "no" (corrupt or missing files, weights that differ);
 * 2 the command could not run (bad arguments, nothing at the path, a store that cannot be reached).
 */
export const EXIT_OK = 0;
export const EXIT_FOUND_PROBLEMS = 1;
export const EXIT_FAILED = 2;

/** A mistake in how the tool was called; the message says what to do instead. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The one line a user sees for an error: the library's messages already say what was wrong and what to do. */
export function errorLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const oneLine = message.replace(/\s*\n\s*/g, ' ').trim();
  return `tfjs-checkpoint: error: ${oneLine || 'unknown error'}`;
}

export function reportError(error: unknown, debug: boolean): void {
  process.stderr.write(`${errorLine(error)}\n`);
  if (debug && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
}
