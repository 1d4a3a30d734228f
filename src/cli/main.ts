#!/usr/bin/env node
/**
 * `tfjs-checkpoint <command>`: list, inspect, verify, prune, diff, plot and export checkpoints on any
 * store (local paths, `file://` and `s3://` URLs, templates). Built on the package's public API only;
 * the library's entries never import the CLI. The commands load on first use here so that a missing
 * peer dependency (TF.js) is one clear line, not a module-resolution stack trace.
 */
import { errorLine, EXIT_FAILED } from './errors.js';

const debug = process.argv.includes('--debug');

try {
  const { runProgram } = await import('./program.js');
  await runProgram(process.argv);
} catch (e) {
  const missing = /Cannot find (?:package|module) '(@tensorflow\/[^/']+)/.exec(e instanceof Error ? e.message : '')?.[1];
  process.stderr.write(`${missing ? `tfjs-checkpoint: error: ${missing} is not installed; the tool needs TensorFlow.js beside it: npm install @tensorflow/tfjs` : errorLine(e)}\n`);
  if (debug && e instanceof Error) process.stderr.write(`${e.stack}\n`);
  process.exitCode = EXIT_FAILED;
}
