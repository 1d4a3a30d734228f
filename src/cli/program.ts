/**
 * The commands of `tfjs-checkpoint` and how a command line becomes one of them (main.ts runs it).
 */
import { Command, CommanderError } from 'commander';
import { VERSION } from '../index.js';
import { addCommonOptions, createContext } from './context.js';
import { EXIT_FAILED, EXIT_OK, reportError } from './errors.js';
import { registerDiff } from './commands/diff.js';
import { registerExport } from './commands/export.js';
import { registerInspect } from './commands/inspect.js';
import { registerList } from './commands/list.js';
import { registerPlot } from './commands/plot.js';
import { registerPrune } from './commands/prune.js';
import { registerVerify } from './commands/verify.js';

const HELP_AFTER = `
Exit codes: 0 ok; 1 problems found (corrupt or missing files, weights that differ); 2 the command could not run.
S3: s3://bucket/prefix URLs; endpoint from --endpoint or $TFJS_CHECKPOINT_S3_ENDPOINT / $AWS_ENDPOINT_URL,
credentials and region from the AWS SDK's chain (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, profiles).

Examples:
  $ tfjs-checkpoint list checkpoints/
  $ tfjs-checkpoint inspect checkpoints/weights.07-0.31 --stats
  $ tfjs-checkpoint verify s3://bucket/run
  $ tfjs-checkpoint prune checkpoints/ --keep-last 3 --keep-best 2 --dry-run
  $ tfjs-checkpoint diff run/ckpt-00000100 run/ckpt-00000200 --atol 1e-6
  $ tfjs-checkpoint plot checkpoints/ --out metrics.svg
  $ tfjs-checkpoint export checkpoints/best --to keras best.keras`;

/** Commander's parse errors as our one line, with where to read the usage. */
function oneLine(command: string): (text: string, write: (text: string) => void) => void {
  return (text, write) => write(`tfjs-checkpoint: ${text.trim().replace(/\s*\n\s*/g, ' ')} (see tfjs-checkpoint${command} --help)\n`);
}

/** Runs the command line `argv` (process.argv's shape); sets process.exitCode. */
export async function runProgram(argv: string[]): Promise<void> {
  const debug = argv.includes('--debug');
  const context = createContext(debug);

  const program = new Command()
    .name('tfjs-checkpoint')
    .description('Inspect, verify, prune, compare, plot and convert TensorFlow.js checkpoints (local paths, file:// and s3:// URLs).')
    .version(VERSION)
    .exitOverride()
    .configureOutput({ outputError: oneLine('') });

  program.addHelpText('after', HELP_AFTER);

  for (const register of [registerList, registerInspect, registerVerify, registerPrune, registerDiff, registerPlot, registerExport]) register(program, context);
  for (const command of program.commands) {
    addCommonOptions(command);
    command.exitOverride().configureOutput({ outputError: oneLine(` ${command.name()}`) });
  }

  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // Commander has printed its one line (or the help); only the exit code is ours.
      process.exitCode = e.code === 'commander.helpDisplayed' || e.code === 'commander.version' ? EXIT_OK : EXIT_FAILED;
    } else {
      reportError(e, debug);
      process.exitCode = EXIT_FAILED;
    }
  }
}
