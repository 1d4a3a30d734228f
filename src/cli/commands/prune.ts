/**
 * `prune`: the library's retention policies applied to what is already on disk, with a preview.
 * Only checkpoints a template wrote are candidates (as for the library's own retention); the newest
 * and the best of each template are always kept.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { createInterface } from 'node:readline/promises';
import { keepAny, keepBest, keepEveryNEpochs, keepLast, type KeepPolicy } from '../../index.js';
import { catalog, type CatalogEntry } from '../catalog.js';
import { formatBytes, table } from '../format.js';
import { EXIT_OK, UsageError } from '../errors.js';
import { modeOption, type CommonOptions, type Context } from '../context.js';

interface PruneOptions extends CommonOptions {
  keepLast?: number;
  keepBest?: number;
  keepEveryNEpochs?: number;
  monitor?: string;
  mode?: string;
  dryRun?: boolean;
  yes?: boolean;
}

function positiveInteger(value: string): number {
  if (!/^\s*\d+\s*$/.test(value) || Number(value) <= 0) throw new InvalidArgumentError('Must be a positive whole number.');
  return Number(value);
}

function policyOf(options: PruneOptions): KeepPolicy {
  const parts: KeepPolicy[] = [];
  if (options.keepLast !== undefined) parts.push(keepLast(options.keepLast));
  if (options.keepBest !== undefined) parts.push(keepBest(options.keepBest));
  if (options.keepEveryNEpochs !== undefined) parts.push(keepEveryNEpochs(options.keepEveryNEpochs));
  if (parts.length === 0) throw new UsageError('say what to keep: --keep-last N, --keep-best K and/or --keep-every-n-epochs N (they combine: a checkpoint any of them keeps stays).');
  return parts.length === 1 ? parts[0]! : keepAny(...parts);
}

export interface PrunePlan {
  remove: CatalogEntry[];
  keep: { entry: CatalogEntry; why: string }[];
}

/** What the policy deletes, per template; never the newest, the best, or what no template wrote. */
export function planPrune(entries: CatalogEntry[], policy: KeepPolicy): PrunePlan {
  const plan: PrunePlan = { remove: [], keep: [] };
  const groups = new Map<string, CatalogEntry[]>();
  for (const entry of entries) {
    if (entry.group === undefined || !entry.record?.owned || !entry.manager) plan.keep.push({ entry, why: 'not written under a template' });
    else groups.set(entry.group, [...(groups.get(entry.group) ?? []), entry]);
  }
  for (const group of groups.values()) {
    const direction = group[0]!.manager!.direction;
    const kept = policy.keep(group.map((e) => e.record!), { direction });
    for (const entry of group) {
      const why = entry.latest ? 'newest' : entry.best ? 'best' : kept.has(entry.record!.id) ? 'policy' : undefined;
      if (why) plan.keep.push({ entry, why });
      else plan.remove.push(entry);
    }
  }
  return plan;
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

export function registerPrune(program: Command, context: Context): void {
  program
    .command('prune')
    .description('delete the checkpoints a retention policy does not keep (never the best or the newest)')
    .argument('<location>', 'a directory or template of checkpoints, or its URL')
    .option('--keep-last <n>', 'keep the n newest', positiveInteger)
    .option('--keep-best <k>', 'keep the k best by the monitored metric', positiveInteger)
    .option('--keep-every-n-epochs <n>', 'keep every checkpoint whose epoch is a multiple of n', positiveInteger)
    .option('--monitor <metric>', 'rank --keep-best by this metric (default: the one the checkpoints recorded)')
    .addOption(modeOption())
    .option('--dry-run', 'show what would be deleted and how much space it frees; delete nothing')
    .option('-y, --yes', 'do not ask before deleting (it asks only on a terminal)')
    .addHelpText(
      'after',
      `
Examples:
  $ tfjs-checkpoint prune checkpoints/ --keep-last 3 --dry-run
  $ tfjs-checkpoint prune checkpoints/ --keep-last 2 --keep-best 2 --yes
  $ tfjs-checkpoint prune s3://bucket/run --keep-every-n-epochs 10 --keep-last 1`,
    )
    .action(context.action(async (location: string, options: PruneOptions) => {
      const policy = policyOf(options);
      await context.prepare([location], options);
      const { where, entries } = await catalog(location, { monitor: options.monitor, mode: options.mode as never }, { allowSingle: false });
      const plan = planPrune(entries, policy);
      const freed = plan.remove.reduce((n, e) => n + (e.bytes ?? 0), 0);
      const paint = context.paint();
      const preview = [
        `${options.dryRun ? 'Would delete' : 'Deleting'} ${plan.remove.length} of ${entries.length} checkpoints in ${where} (${policy.describe()}; the best and the newest are always kept):`,
        plan.remove.length ? table(['', 'checkpoint', 'epoch', 'size'], plan.remove.map((e) => [paint.red('-'), e.name, String(e.metadata?.epoch ?? '-'), formatBytes(e.bytes)]), new Set([2, 3])) : '  nothing',
        `Keeping ${plan.keep.length}: ${plan.keep.map((k) => `${k.entry.name} (${k.why})`).join(', ') || 'none'}`,
        `${options.dryRun ? 'Would free' : 'Frees'} ${formatBytes(freed)} (${freed} bytes).`,
      ];
      const json = () => ({
        format: 'tfjs-checkpoint-prune',
        version: 1,
        location: where,
        policy: policy.describe(),
        dryRun: options.dryRun === true,
        delete: plan.remove.map((e) => ({ path: e.url, bytes: e.bytes ?? null })),
        keep: plan.keep.map((k) => ({ path: k.entry.url, reason: k.why })),
        freedBytes: freed,
      });
      if (options.dryRun || plan.remove.length === 0) {
        context.out(options.json ? JSON.stringify(json(), null, 2) : `${preview.join('\n')}${options.dryRun ? '\nDry run: nothing was deleted.' : ''}`);
        return EXIT_OK;
      }
      if (!options.json) context.out(preview.join('\n'));
      if (!options.yes && process.stdin.isTTY && process.stdout.isTTY && !(await confirm(`Delete ${plan.remove.length} checkpoints? [y/N] `))) {
        context.out('Nothing was deleted.');
        return EXIT_OK;
      }
      for (const entry of plan.remove) await entry.manager!.delete(entry.url);
      context.out(options.json ? JSON.stringify(json(), null, 2) : `Deleted ${plan.remove.length} checkpoints, freed ${formatBytes(freed)}.`);
      return EXIT_OK;
    }));
}
