/**
 * What every command shares: the common options, output (stdout for results, stderr for errors and
 * progress), the colour policy, and the wrapper that turns a command's outcome into an exit code and
 * any error into one line on stderr.
 */
import { Option, type Command } from 'commander';
import { colourWanted, paint, type Paint } from './colour.js';
import { EXIT_FAILED, reportError } from './errors.js';
import { configureS3 } from './locate.js';

export interface CommonOptions {
  json?: boolean;
  endpoint?: string;
  color?: boolean;
  debug?: boolean;
}

export interface Context {
  /** Wraps a command's action: its resolved number is the exit code; a throw is one stderr line and exit 2. */
  action<A extends unknown[]>(run: (...args: A) => Promise<number>): (...args: A) => Promise<void>;
  /** Configures what the command's locations need (the S3 endpoint). */
  prepare(locations: readonly string[], options: CommonOptions): Promise<void>;
  out(text: string): void;
  paint(stream?: { isTTY?: boolean }): Paint;
  /** The clock ages are measured against. */
  now(): number;
}

export function modeOption(): Option {
  return new Option('--mode <mode>', 'whether a lower or higher monitored value is better').choices(['min', 'max', 'auto']);
}

/** The options every command takes. */
export function addCommonOptions(command: Command): void {
  command
    .option('--json', 'machine-readable output (a stable shape, see the README)')
    .option('--endpoint <url>', 'S3-compatible endpoint for s3:// URLs (default: $TFJS_CHECKPOINT_S3_ENDPOINT, $AWS_ENDPOINT_URL)')
    .option('--no-color', 'no colour (also: NO_COLOR=1, or output that is not a terminal)')
    .option('--debug', 'show stack traces of errors');
}

export function createContext(debug: boolean): Context {
  let colour = true;
  return {
    action(run) {
      return async (...args) => {
        const options = args.find((a, i) => i === args.length - 2 && typeof a === 'object' && a !== null) as CommonOptions | undefined;
        colour = options?.color !== false;
        try {
          process.exitCode = await run(...args);
        } catch (e) {
          reportError(e, debug || options?.debug === true);
          process.exitCode = EXIT_FAILED;
        }
      };
    },
    prepare: (locations, options) => configureS3(locations, { ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}) }),
    out: (text) => void process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
    paint: (stream = process.stdout) => paint(colourWanted(stream, colour)),
    now: () => Date.now(),
  };
}
