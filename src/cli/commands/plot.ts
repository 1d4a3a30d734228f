/**
 * `plot`: the monitored metric and the loss over epochs, as recorded by the saved checkpoints, with
 * the best one marked: a compact chart in the terminal and, with `--out`, an SVG file.
 */
import type { Command } from 'commander';
import * as asciichart from 'asciichart';
import { writeFile } from 'node:fs/promises';
import { catalog, type CatalogEntry } from '../catalog.js';
import { formatMetric, metricNumber } from '../format.js';
import { EXIT_OK, UsageError } from '../errors.js';
import { renderSvg, type ChartSeries } from '../svg_chart.js';
import { modeOption, type CommonOptions, type Context } from '../context.js';

interface PlotOptions extends CommonOptions {
  out?: string;
  monitor?: string;
  mode?: string;
  metric?: string[];
}

const COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#9467bd', '#8c564b'];

/** The entries of the template with the most checkpoints (a directory may hold several). */
function mainGroup(entries: CatalogEntry[]): CatalogEntry[] {
  const groups = new Map<string, CatalogEntry[]>();
  for (const e of entries) if (e.metadata) groups.set(e.group ?? '', [...(groups.get(e.group ?? '') ?? []), e]);
  return [...groups.values()].sort((a, b) => b.length - a.length)[0] ?? [];
}

function xOf(e: CatalogEntry): number | null {
  return e.metadata?.epoch ?? e.metadata?.step ?? null;
}

export function registerPlot(program: Command, context: Context): void {
  program
    .command('plot')
    .description('chart the monitored metric and the loss over epochs, with the saved checkpoints and the best marked')
    .argument('<location>', 'a directory or template of checkpoints, or its URL')
    .option('--out <file.svg>', 'also write the chart as an SVG image')
    .option('--monitor <metric>', 'the metric to chart and rank by (default: the one the checkpoints recorded)')
    .addOption(modeOption())
    .option('--metric <name...>', 'more metrics to chart (default: the monitored metric and loss)')
    .addHelpText(
      'after',
      `
Examples:
  $ tfjs-checkpoint plot checkpoints/
  $ tfjs-checkpoint plot checkpoints/ --out metrics.svg
  $ tfjs-checkpoint plot s3://bucket/run --metric acc val_acc`,
    )
    .action(context.action(async (location: string, options: PlotOptions) => {
      await context.prepare([location], options);
      const { where, entries } = await catalog(location, { monitor: options.monitor, mode: options.mode as never }, { allowSingle: false });
      const group = mainGroup(entries).filter((e) => xOf(e) !== null).sort((a, b) => xOf(a)! - xOf(b)!);
      if (group.length === 0) throw new UsageError(`${where}: no checkpoints with an epoch or step to plot.`);
      const monitor = options.monitor ?? group.find((e) => e.monitor)?.monitor?.name;
      const names = [...new Set([...(monitor ? [monitor] : []), 'loss', ...(options.metric ?? [])])].filter((m) =>
        group.some((e) => (m === monitor && e.monitor ? e.monitor.value : metricNumber(e.metadata!.metrics[m])) !== null),
      );
      if (names.length === 0) throw new UsageError(`${where}: the checkpoints record neither ${monitor ?? 'a monitored metric'} nor loss; name one with --metric.`);
      const valueOf = (e: CatalogEntry, m: string) => (m === monitor && e.monitor ? e.monitor.value : metricNumber(e.metadata!.metrics[m]));
      const series: ChartSeries[] = names.map((m, i) => ({
        label: m === monitor ? `${m} (monitored)` : m,
        colour: COLOURS[i % COLOURS.length]!,
        points: group.flatMap((e) => {
          const y = valueOf(e, m);
          return y === null ? [] : [{ x: xOf(e)!, y }];
        }),
      }));
      const xLabel = group.every((e) => e.metadata!.epoch !== null) ? 'epoch' : 'step';
      const best = group.find((e) => e.best);
      const bestInfo = best && monitor ? { x: xOf(best)!, y: valueOf(best, monitor) ?? NaN, seriesLabel: series[0]!.label, label: `best: ${best.name}` } : undefined;
      if (options.out) await writeFile(options.out, renderSvg({ title: `${names.join(' and ')} over ${xLabel}s`, xLabel, series, ...(bestInfo ? { best: bestInfo } : {}) }));
      if (options.json) {
        context.out(JSON.stringify({
          format: 'tfjs-checkpoint-plot',
          version: 1,
          location: where,
          x: xLabel,
          series: names.map((metric, i) => ({ metric, monitored: metric === monitor, points: series[i]!.points })),
          checkpoints: group.map((e) => ({ path: e.url, x: xOf(e) })),
          best: best && monitor ? { path: best.url, x: xOf(best), value: valueOf(best, monitor) } : null,
          svg: options.out ?? null,
        }, null, 2));
        return EXIT_OK;
      }
      const paint = context.paint();
      const lines: string[] = [`${paint.bold(`Metrics of ${group.length} checkpoints`)} in ${where}`];
      const colours = [asciichart.blue, asciichart.yellow, asciichart.green, asciichart.magenta, asciichart.cyan];
      const plotted = series.map((s) => group.map((e) => valueOf(e, names[series.indexOf(s)]!) ?? NaN));
      if (group.length > 1) {
        lines.push(asciichart.plot(plotted, { height: 10, ...(paint.enabled ? { colors: colours.slice(0, plotted.length) } : {}), format: (v: number) => formatMetric(v).padStart(9) }));
      }
      lines.push(`${xLabel}s: ${group.map((e) => xOf(e)).join(' ')}  (one point per saved checkpoint)`);
      lines.push(series.map((s, i) => `${paint.enabled ? `\u001b[${[34, 33, 32, 35, 36][i % 5]}m──\u001b[39m` : `[${i + 1}]`} ${s.label}`).join('   '));
      if (best && monitor) lines.push(`best: ${monitor} ${formatMetric(valueOf(best, monitor))} at ${xLabel} ${xOf(best)} (${best.name})`);
      if (options.out) lines.push(`Wrote ${options.out}`);
      context.out(lines.join('\n'));
      return EXIT_OK;
    }));
}
