/** `list`: the checkpoints of a directory, template or URL, as a table or as JSON. */
import type { Command } from 'commander';
import { catalog, type CatalogEntry } from '../catalog.js';
import { fullCheck, quickCheck, type CheckResult } from '../checks.js';
import { formatAge, formatBytes, formatMetric, table } from '../format.js';
import type { Paint } from '../colour.js';
import { EXIT_FOUND_PROBLEMS, EXIT_OK } from '../errors.js';
import { modeOption, type CommonOptions, type Context } from '../context.js';

export interface ListOptions extends CommonOptions {
  verify?: boolean;
  monitor?: string;
  mode?: string;
}

/** The `--json` shape (documented in the README; `version` changes only when a field changes meaning). */
export interface ListJson {
  format: 'tfjs-checkpoint-list';
  version: 1;
  location: string;
  checkpoints: {
    path: string;
    name: string;
    format: string;
    kind: 'model' | 'weights' | null;
    epoch: number | null;
    step: number | null;
    committedAt: string | null;
    bytes: number | null;
    monitor: { name: string; mode: 'min' | 'max'; value: number | null } | null;
    metrics: Record<string, number | string>;
    template: string | null;
    best: boolean;
    latest: boolean;
    check: CheckResult;
  }[];
}

export function listJson(where: string, entries: CatalogEntry[], checks: CheckResult[]): ListJson {
  return {
    format: 'tfjs-checkpoint-list',
    version: 1,
    location: where,
    checkpoints: entries.map((e, i) => ({
      path: e.url,
      name: e.name,
      format: e.format,
      kind: e.metadata?.kind ?? null,
      epoch: e.metadata?.epoch ?? null,
      step: e.metadata?.step ?? null,
      committedAt: e.metadata ? (e.metadata.committedAt ?? e.metadata.createdAt) : null,
      bytes: e.bytes ?? null,
      monitor: e.monitor ?? null,
      metrics: e.metadata?.metrics ?? {},
      template: e.group ?? null,
      best: e.best,
      latest: e.latest,
      check: checks[i]!,
    })),
  };
}

function checkCell(check: CheckResult, paint: Paint): string {
  if (!check.ok) return paint.red(check.level === 'full' ? 'CORRUPT' : 'MISSING');
  if (check.level === 'quick') return 'sizes ok';
  return check.checksums === 'verified' ? paint.green('verified') : paint.yellow('no checksums');
}

export function renderList(where: string, entries: CatalogEntry[], checks: CheckResult[], paint: Paint, now: number): string {
  if (entries.length === 0) return `No checkpoints in ${where}.`;
  const monitors = [...new Set(entries.flatMap((e) => (e.monitor ? [e.monitor.name] : [])))];
  const others = [...new Set(entries.flatMap((e) => Object.keys(e.metadata?.metrics ?? {})))].filter((m) => !monitors.includes(m)).sort();
  // Several templates in one directory: say which each checkpoint belongs to.
  const groups = new Set(entries.map((e) => e.group ?? '-'));
  const withGroup = groups.size > 1;
  const head = ['', 'name', ...(withGroup ? ['template'] : []), 'epoch', 'step', ...monitors.map((m) => `${m} (monitor)`), ...others, 'format', 'size', 'age', 'check'];
  const rows = entries.map((e, i) => {
    const marks = `${e.best ? '*' : ' '}${e.latest ? '>' : ' '}`;
    const name = e.best ? paint.bold(e.name) : e.name;
    const metrics = e.metadata?.metrics ?? {};
    return [
      marks,
      name,
      ...(withGroup ? [e.group ?? '-'] : []),
      e.metadata?.epoch == null ? '-' : String(e.metadata.epoch),
      e.metadata?.step == null ? '-' : String(e.metadata.step),
      ...monitors.map((m) => formatMetric(e.monitor?.name === m ? e.monitor.value : metrics[m])),
      ...others.map((m) => formatMetric(metrics[m])),
      e.metadata?.kind === 'weights' ? `${e.format} (weights)` : e.format,
      formatBytes(e.bytes),
      formatAge(e.metadata ? (e.metadata.committedAt ?? e.metadata.createdAt) : undefined, now),
      checkCell(checks[i]!, paint),
    ];
  });
  const firstNumber = withGroup ? 3 : 2;
  const numeric = new Set(head.map((_, i) => i).filter((i) => i >= firstNumber && i < head.length - 4));
  numeric.add(head.length - 3);
  const lines = [`Checkpoints in ${where}`, table(head, rows, numeric), `${entries.length} checkpoint${entries.length === 1 ? '' : 's'}; * best, > latest`];
  const problems = entries.flatMap((e, i) => (checks[i]!.ok ? [] : [`${paint.red('problem:')} ${e.name}: ${checks[i]!.problem}`]));
  return [...lines, ...problems].join('\n');
}

export function registerList(program: Command, context: Context): void {
  program
    .command('list')
    .description('list checkpoints: epoch, step, metrics, format, size, age, best and latest')
    .argument('<location>', 'a directory, a template (run/w{epoch:02d}), one checkpoint, or a file:// or s3:// URL')
    .option('--verify', 'check every byte against its checksum (default: a quick check of files and sizes)')
    .option('--monitor <metric>', 'rank by this metric (default: the one the checkpoints recorded)')
    .addOption(modeOption())
    .addHelpText(
      'after',
      `
Examples:
  $ tfjs-checkpoint list checkpoints/
  $ tfjs-checkpoint list 'checkpoints/weights.{epoch:02d}-{val_loss:.2f}' --verify
  $ tfjs-checkpoint list s3://bucket/run --endpoint http://127.0.0.1:9000 --json`,
    )
    .action(context.action(async (location: string, options: ListOptions) => {
      await context.prepare([location], options);
      const { where, entries } = await catalog(location, { monitor: options.monitor, mode: options.mode as never });
      const checks: CheckResult[] = [];
      for (const entry of entries) checks.push(options.verify ? await fullCheck(entry.url) : await quickCheck(entry));
      if (options.json) context.out(JSON.stringify(listJson(where, entries, checks), null, 2));
      else context.out(renderList(where, entries, checks, context.paint(), context.now()));
      return checks.every((c) => c.ok) ? EXIT_OK : EXIT_FOUND_PROBLEMS;
    }));
}
