/** `verify`: every file of every checkpoint against its recorded size and checksum; exit 1 on any problem. */
import type { Command } from 'commander';
import { SingleBar } from 'cli-progress';
import { catalog } from '../catalog.js';
import { fullCheck, type CheckResult } from '../checks.js';
import { formatBytes } from '../format.js';
import { EXIT_FOUND_PROBLEMS, EXIT_OK } from '../errors.js';
import type { CommonOptions, Context } from '../context.js';
import { registerStore, resolveLocation } from '../../index.js';
import { countingStore } from '../counting_store.js';

/**
 * Counts the bytes read from the store of `location` while verifying (the wrapper takes the scheme's
 * place; plain paths keep resolving against the working directory).
 */
function countReads(location: string, onBytes: (n: number) => void): void {
  const { store, scheme } = resolveLocation(location);
  const counted = countingStore(store, onBytes);
  registerStore(scheme, scheme === 'file' ? { store: counted, base: () => process.cwd() } : counted);
}

/** Below this many bytes in all, a progress bar would only flicker. */
const PROGRESS_FROM_BYTES = 32 * 1024 * 1024;

export function registerVerify(program: Command, context: Context): void {
  program
    .command('verify')
    .description('check every file against its recorded size and CRC-32; exit code 1 when anything is corrupt or missing')
    .argument('<location>', 'one checkpoint, a directory or template of checkpoints, or a file:// or s3:// URL')
    .addHelpText(
      'after',
      `
Examples:
  $ tfjs-checkpoint verify checkpoints/weights.07-0.31
  $ tfjs-checkpoint verify checkpoints/ && echo all good
  $ tfjs-checkpoint verify s3://bucket/run --json`,
    )
    .action(context.action(async (location: string, options: CommonOptions) => {
      await context.prepare([location], options);
      const { where, entries } = await catalog(location);
      const total = entries.reduce((n, e) => n + (e.bytes ?? 0), 0);
      const bar = !options.json && process.stderr.isTTY && total >= PROGRESS_FROM_BYTES
        ? new SingleBar({ stream: process.stderr, format: 'verifying {bar} {percentage}% | {done} of {size}', hideCursor: true, clearOnComplete: true })
        : undefined;
      const results: CheckResult[] = [];
      if (bar) {
        // Progress is the bytes verify has read (capped: it also reads the small JSON files).
        let read = 0;
        const show = () => bar.update(Math.min(read, total), { done: formatBytes(Math.min(read, total)), size: formatBytes(total) });
        countReads(entries[0]!.url, (n) => {
          read += n;
          show();
        });
        bar.start(total, 0, { done: formatBytes(0), size: formatBytes(total) });
        for (const entry of entries) results.push(await fullCheck(entry.url));
        read = total;
        show();
        bar.stop();
      } else {
        for (const entry of entries) results.push(await fullCheck(entry.url));
      }
      const failed = results.filter((r) => !r.ok).length;
      if (options.json) {
        context.out(JSON.stringify({
          format: 'tfjs-checkpoint-verify',
          version: 1,
          location: where,
          ok: failed === 0,
          checkpoints: entries.map((e, i) => ({ path: e.url, ...results[i]! })),
        }, null, 2));
      } else {
        const paint = context.paint();
        const lines = entries.map((e, i) => {
          const r = results[i]!;
          if (!r.ok) return `${paint.red('CORRUPT')}  ${e.url}: ${r.problem}`;
          return r.checksums === 'verified'
            ? `${paint.green('ok')}       ${e.url} (${formatBytes(e.bytes)}, checksums verified)`
            : `${paint.yellow('ok')}       ${e.url} (no checksums recorded: only sizes and JSON were checked)`;
        });
        if (entries.length === 0) lines.push(`No checkpoints in ${where}.`);
        else lines.push(failed === 0 ? `All ${entries.length} checkpoint${entries.length === 1 ? '' : 's'} verified.` : paint.red(`${failed} of ${entries.length} checkpoint${entries.length === 1 ? '' : 's'} failed verification.`));
        context.out(lines.join('\n'));
      }
      return failed === 0 ? EXIT_OK : EXIT_FOUND_PROBLEMS;
    }));
}
