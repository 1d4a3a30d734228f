/** Command line of `npm run bench -- [--sizes 1,25,100] [--reps 3] [--only ours,naive,…] [--huge]`. */
import { SIZES, sizeByKey, type SizeSpec } from './sizes.js';

/** Names accepted by --only, and the case processes each stands for (in run order). */
export const GROUPS: Record<string, readonly string[]> = {
  raw: ['raw'],
  snapshot: ['snapshot'],
  ours: ['ours-full', 'ours-weights'],
  'ours-full': ['ours-full'],
  'ours-weights': ['ours-weights'],
  frozen: ['ours-frozen'],
  naive: ['naive'],
  load: ['load-ceiling', 'load-ours', 'load-stock', 'load-url'],
  keras: ['keras'],
  lightning: ['lightning'],
  peers: ['keras', 'lightning'],
  s3: ['s3-ceiling', 's3-ours', 's3-tier'],
  fit: ['fit', 'keras-fit', 'lightning-fit'],
  'fit-ours': ['fit'],
  'fit-peers': ['keras-fit', 'lightning-fit'],
};
const DEFAULT_GROUPS = ['raw', 'snapshot', 'ours', 'frozen', 'naive', 'load', 'peers', 's3', 'fit'];

export interface BenchArgs {
  sizes: SizeSpec[];
  reps: number;
  cases: string[];
  huge: boolean;
  argv: string[];
}

function value(argv: string[], i: number, flag: string): string {
  const v = argv[i + 1];
  if (v === undefined || v.startsWith('--')) throw new Error(`${flag} needs a value`);
  return v;
}

export function parseArgs(argv: string[]): BenchArgs {
  let sizes: SizeSpec[] | undefined;
  let reps = 3;
  let groups = DEFAULT_GROUPS;
  let huge = false;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const [name, inline] = flag.includes('=') ? [flag.slice(0, flag.indexOf('=')), flag.slice(flag.indexOf('=') + 1)] : [flag, undefined];
    const take = (): string => inline ?? value(argv, i++, name);
    if (name === '--sizes') sizes = take().split(',').filter(Boolean).map(sizeByKey);
    else if (name === '--reps') reps = Number(take());
    else if (name === '--only') groups = take().split(',').filter(Boolean);
    else if (name === '--huge') huge = true;
    else if (name === '--help' || name === '-h') throw new Error(usage());
    else throw new Error(`Unknown option ${flag}\n${usage()}`);
  }
  if (!Number.isInteger(reps) || reps < 1) throw new Error('--reps must be a positive integer');
  for (const g of groups) if (!GROUPS[g]) throw new Error(`Unknown case '${g}' in --only; known: ${Object.keys(GROUPS).join(', ')}`);
  sizes ??= SIZES.filter((s) => huge || !s.huge);
  const tooBig = sizes.filter((s) => s.huge && !huge);
  if (tooBig.length) throw new Error(`Sizes ${tooBig.map((s) => s.key).join(', ')} write many GB; add --huge to run them.`);
  const cases = [...new Set(groups.flatMap((g) => GROUPS[g]!))];
  return { sizes, reps, cases, huge, argv };
}

export function usage(): string {
  return [
    'Usage: npm run bench -- [--sizes 1,25,100] [--reps 3] [--only ours,naive,…] [--huge]',
    `  --sizes  model sizes: ${SIZES.map((s) => `${s.key} (${s.label})`).join(', ')}`,
    '  --reps   reported repetitions per case (default 3; saves add one unreported warm-up; for fit, rounds of with/without fits, at most 3 below 100M and 2 at 100M)',
    `  --only   cases: ${Object.keys(GROUPS).join(', ')}`,
    '  --huge   also run the 1B (4 GB) and 5 GiB models',
  ].join('\n');
}
