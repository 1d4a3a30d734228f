/** `diff`: two checkpoints weight by weight; exit 0 when equal within `--atol`. */
import { InvalidArgumentError, type Command } from 'commander';
import { formatMetric, formatShape, table } from '../format.js';
import { EXIT_FOUND_PROBLEMS, EXIT_OK } from '../errors.js';
import { locate } from '../locate.js';
import { loadWeightsOf, type NamedWeight } from '../tensors.js';
import { difference } from '../stats.js';
import type { CommonOptions, Context } from '../context.js';

interface DiffOptions extends CommonOptions {
  atol: number;
}

type Status = 'equal' | 'changed' | 'shape mismatch' | 'dtype mismatch' | 'only in a' | 'only in b';

interface WeightDiff {
  name: string;
  status: Status;
  shapeA: number[] | null;
  shapeB: number[] | null;
  dtypeA: string | null;
  dtypeB: string | null;
  maxAbs: number | null;
  meanAbs: number | null;
}

function nonNegative(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError('Must be a number >= 0, such as 1e-6.');
  return n;
}

/**
 * Pairs weights by name; when no name is shared but both hold as many weights (two builds of one
 * architecture, whose auto-generated layer names differ: dense_Dense1 vs dense_Dense3), by position.
 */
function pairing(a: NamedWeight[], b: NamedWeight[]): { byPosition: boolean; b: NamedWeight[] } {
  const names = new Set(b.map((w) => w.name));
  if (a.length === b.length && a.length > 0 && !a.some((w) => names.has(w.name))) {
    return { byPosition: true, b: b.map((w, i) => ({ name: a[i]!.name, tensor: w.tensor })) };
  }
  return { byPosition: false, b };
}

async function compare(a: NamedWeight[], b: NamedWeight[], atol: number): Promise<WeightDiff[]> {
  const inB = new Map(b.map((w) => [w.name, w]));
  const out: WeightDiff[] = [];
  for (const wa of a) {
    const wb = inB.get(wa.name);
    inB.delete(wa.name);
    const base = { name: wa.name, shapeA: wa.tensor.shape, dtypeA: wa.tensor.dtype, shapeB: wb?.tensor.shape ?? null, dtypeB: wb?.tensor.dtype ?? null, maxAbs: null, meanAbs: null };
    if (!wb) out.push({ ...base, status: 'only in a' });
    else if (wa.tensor.shape.join() !== wb.tensor.shape.join()) out.push({ ...base, status: 'shape mismatch' });
    else if (wa.tensor.dtype !== wb.tensor.dtype) out.push({ ...base, status: 'dtype mismatch' });
    else {
      const d = await difference(wa.tensor, wb.tensor);
      out.push({ ...base, maxAbs: d.maxAbs, meanAbs: d.meanAbs, status: d.maxAbs <= atol ? 'equal' : 'changed' });
    }
  }
  for (const wb of inB.values()) out.push({ name: wb.name, status: 'only in b', shapeA: null, dtypeA: null, shapeB: wb.tensor.shape, dtypeB: wb.tensor.dtype, maxAbs: null, meanAbs: null });
  return out;
}

export function registerDiff(program: Command, context: Context): void {
  program
    .command('diff')
    .description('compare two checkpoints weight by weight: max and mean absolute difference, shape and dtype mismatches')
    .argument('<a>', 'a checkpoint (any format), or its URL')
    .argument('<b>', 'another checkpoint')
    .option('--atol <tolerance>', 'weights whose max absolute difference is at most this are equal', nonNegative, 0)
    .addHelpText(
      'after',
      `
Exit code 0 when every weight is equal within --atol and both have the same weights; 1 otherwise.

Examples:
  $ tfjs-checkpoint diff run/ckpt-00000100 run/ckpt-00000200
  $ tfjs-checkpoint diff best best.safetensors --atol 1e-6`,
    )
    .action(context.action(async (argA: string, argB: string, options: DiffOptions) => {
      await context.prepare([argA, argB], options);
      const a = locate(argA, 'the first checkpoint');
      const b = locate(argB, 'the second checkpoint');
      const [wa, wb] = [await loadWeightsOf(a.url), await loadWeightsOf(b.url)];
      const paired = pairing(wa.weights, wb.weights);
      const diffs = await compare(wa.weights, paired.b, options.atol);
      const differing = diffs.filter((d) => d.status !== 'equal');
      if (options.json) {
        context.out(JSON.stringify({ format: 'tfjs-checkpoint-diff', version: 1, a: a.url, b: b.url, atol: options.atol, matchedBy: paired.byPosition ? 'position' : 'name', equal: differing.length === 0, weights: diffs }, null, 2));
      } else {
        const paint = context.paint();
        const rows = diffs.map((d) => [
          d.name,
          d.shapeA && d.shapeB && d.shapeA.join() !== d.shapeB.join() ? `${formatShape(d.shapeA)} vs ${formatShape(d.shapeB)}` : formatShape(d.shapeA ?? d.shapeB ?? []),
          d.dtypeA && d.dtypeB && d.dtypeA !== d.dtypeB ? `${d.dtypeA} vs ${d.dtypeB}` : (d.dtypeA ?? d.dtypeB ?? ''),
          d.maxAbs === null ? '-' : formatMetric(d.maxAbs),
          d.meanAbs === null ? '-' : formatMetric(d.meanAbs),
          d.status === 'equal' ? paint.green(d.status) : paint.red(d.status),
        ]);
        context.out([
          `a: ${a.url}`,
          `b: ${b.url}`,
          ...(paired.byPosition ? ['(no weight names in common: weights matched by position, named as in a)'] : []),
          table(['weight', 'shape', 'dtype', 'max |a-b|', 'mean |a-b|', ''], rows, new Set([3, 4])),
          differing.length === 0
            ? paint.green(`Equal: all ${diffs.length} weights within --atol ${options.atol}.`)
            : paint.red(`Different: ${differing.length} of ${diffs.length} weights (${[...new Set(differing.map((d) => d.status))].join(', ')}).`),
        ].join('\n'));
      }
      return differing.length === 0 ? EXIT_OK : EXIT_FOUND_PROBLEMS;
    }));
}
