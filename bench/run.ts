/**
 * `npm run bench`: runs every case in its own child process (so peak RSS is per case), aggregates
 * medians (min–max), prints markdown tables and writes bench/RESULTS.md. See `--help`.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs, usage, type BenchArgs } from './lib/args.js';
import { runChild } from './lib/child.js';
import { machineInfo } from './lib/machine.js';
import { writeResults } from './lib/results_file.js';
import { PEER_ENV, PEERS, peerFitResult, peerResult, preparePeers, type PeerName, type PeerSetup } from './lib/peers.js';
import { METHOD, TARGETS_INTRO } from './lib/method.js';
import { FIT_INTRO, fitTable } from './lib/fit_report.js';
import { firstSavesTable, frozenTable, headline, loadsTable, s3Table, savesTable, type Outcomes } from './lib/report.js';
import { targetsTable } from './lib/targets.js';
import type { CaseOutcome, CaseResult } from './lib/result.js';
import { bytesOf, fitRounds, type SizeSpec } from './lib/sizes.js';
import { nowMs } from './lib/stats.js';
import { BENCH_DIR, REPO_DIR, WORK_DIR, freshDir, removeDir } from './lib/workdir.js';

const say = (m: string) => process.stderr.write(`${m}\n`);

const S3_INTRO =
  'Against s3rver 3.7.1 on 127.0.0.1 (a child process on the same disk and the same two cores), weights only, the S3 store\'s defaults ' +
  '(8 MiB parts, 4 at once). Committed in bucket: from the start of `onEpochEnd` until `flush()` resolves with the marker put. ' +
  'Main-thread ms: for ours, blocked plus the `performance.eventLoopUtilization()` active time from the end of `onEpochEnd` until committed (what training running on that thread would lose); for the ceiling, the active time during the awaited upload. ' +
  'The ceiling is one `lib-storage` Upload of the same bytes with the same part size and concurrency, awaited; × ceiling compares the medians.';

/** Flushes what the previous case left dirty (and its deletes, discarded on this mount) before the next one. */
function settleDisk(): void {
  spawnSync('sync', { stdio: 'ignore' });
}

/** Generous: a stuck case must not hang the bench, a slow disk must not fail it. */
function timeoutMs(size: SizeSpec, reps: number): number {
  return (300 + 60 * (bytesOf(size) / 1e9) * (reps + 2)) * 1000;
}

/** The fit cases train 3 × 3 fits of 6 epochs per round (see fitRounds), each epoch up to 10× a save's time to durable. */
function fitTimeoutMs(size: SizeSpec, reps: number): number {
  return (600 + 600 * (bytesOf(size) / 1e8) * reps) * 1000;
}

/** Fit epochs of pure-JS training at 1B parameters would take hours per rep. */
const FIT_SKIPPED_HUGE = 'the fit cases run up to 100M: one training step of a 1B model on the pure-JS CPU backend takes minutes, and a fit is 9 × 6 epochs per round';

function tsCase(name: string, size: SizeSpec, reps: number, dir?: string): Promise<CaseOutcome> {
  settleDisk();
  const args = ['--expose-gc', '--import', 'tsx', join(BENCH_DIR, 'case.ts'), name, size.key, String(reps), ...(dir ? [dir] : [])];
  const timeout = name === 'fit' ? fitTimeoutMs(size, reps) : timeoutMs(size, reps);
  return runChild(process.execPath, args, { cwd: REPO_DIR, timeoutMs: timeout }).then((c) => ({
    result: c.json as CaseResult | undefined,
    error: c.error,
    processMaxRssMiB: c.maxRssMiB,
    wallMs: c.wallMs,
  }));
}

/** One process per load, so every load is the first in a fresh process (RSS included). */
async function loadCases(size: SizeSpec, bench: BenchArgs, out: Map<string, CaseOutcome>): Promise<void> {
  const loaders = bench.cases.filter((c) => c.startsWith('load-'));
  if (loaders.length === 0) return;
  const dir = join(WORK_DIR, `${size.key}-load`);
  freshDir(dir);
  try {
    const prep = await tsCase('load-prep', size, 1, dir);
    for (const name of loaders) {
      if (prep.error) {
        out.set(name, { skipped: `writing the checkpoints to load failed: ${prep.error}`, wallMs: 0 });
        continue;
      }
      const merged: CaseOutcome = { wallMs: 0 };
      for (let rep = 0; rep < bench.reps && !merged.error; rep++) {
        const one = await tsCase(name, size, 1, dir);
        merged.wallMs += one.wallMs;
        merged.processMaxRssMiB = Math.max(merged.processMaxRssMiB ?? 0, one.processMaxRssMiB ?? 0) || undefined;
        if (one.error || !one.result) merged.error = one.error ?? 'no result';
        else if (!merged.result) merged.result = one.result;
        else merged.result.reps.push(...one.result.reps);
      }
      out.set(name, merged);
      say(`  ${name}: ${(merged.wallMs / 1000).toFixed(1)} s${merged.error ? ' FAILED' : ''}`);
    }
  } finally {
    removeDir(dir);
  }
}

async function peerCase(name: PeerName, size: SizeSpec, reps: number, setup: PeerSetup, fit = false): Promise<CaseOutcome> {
  const skipped = setup.skipped[name];
  if (skipped || !setup.python) return { skipped: skipped ?? 'no python', wallMs: 0 };
  const dir = freshDir(join(WORK_DIR, `${size.key}-${name}${fit ? '-fit' : ''}`));
  settleDisk();
  try {
    // Saves: one more than reps, the peer drops its first (warm-up) save. Fit: as many rounds as ours.
    const script = fit ? PEERS[name].fitScript : PEERS[name].script;
    const c = await runChild(setup.python, [script, String(size.width), dir, String(fit ? fitRounds(size, reps) : reps + 1)], {
      cwd: REPO_DIR,
      env: PEER_ENV,
      timeoutMs: (fit ? fitTimeoutMs(size, reps) : timeoutMs(size, reps)) * 2,
    });
    if (c.error) return { error: c.error, processMaxRssMiB: c.maxRssMiB, wallMs: c.wallMs };
    const result = fit ? peerFitResult(name, size.key, c.json) : peerResult(name, size.key, c.json);
    return { result, processMaxRssMiB: c.maxRssMiB, wallMs: c.wallMs };
  } catch (e) {
    return { error: (e as Error).message, wallMs: 0 };
  } finally {
    removeDir(dir);
  }
}

function notes(outcomes: Outcomes, sizes: SizeSpec[], setup: PeerSetup): string[] {
  const lines: string[] = [];
  for (const size of sizes) {
    for (const [name, o] of outcomes.get(size.key) ?? []) {
      if (o.skipped) lines.push(`${size.label} ${name} skipped: ${o.skipped.replace(/\s+/g, ' ')}`);
      else if (o.error) lines.push(`${size.label} ${name} failed: ${o.error.replace(/\s+/g, ' ').slice(0, 600)}`);
    }
  }
  const ours = outcomes.get(sizes[0]?.key ?? '')?.get('ours-full')?.result?.info?.['durableVia'];
  if (ours) lines.push(`Time to durable for ours was awaited via \`${ours}\` after each \`onEpochEnd\`.`);
  const peerInfo = [...outcomes.values()]
    .flatMap((m) => ['keras', 'lightning'].map((p) => m.get(p)?.result?.info))
    .flatMap((i) => (i ? [Object.entries(i).map(([k, v]) => `${k} ${v}`).join(', ')] : []));
  if (peerInfo.length) lines.push(`Peers (Python venv \`bench/.venv\`): ${[...new Set(peerInfo)].join('; ')}.`);
  lines.push(...setup.log);
  return lines;
}


async function main(): Promise<void> {
  let bench: BenchArgs;
  try {
    bench = parseArgs(process.argv.slice(2));
  } catch (e) {
    say((e as Error).message);
    process.exit((e as Error).message === usage() ? 0 : 2);
  }
  const t0 = nowMs();
  mkdirSync(WORK_DIR, { recursive: true });
  const machine = machineInfo(WORK_DIR);
  const wantedPeers = (['keras', 'lightning'] as const).filter((p) => bench.cases.includes(p) || bench.cases.includes(`${p}-fit`));
  const setup = preparePeers([...wantedPeers], say);
  for (const [peer, why] of Object.entries(setup.skipped)) say(`peers: skipping ${peer}: ${why}`);

  const outcomes: Outcomes = new Map();
  for (const size of bench.sizes) {
    const out = new Map<string, CaseOutcome>();
    outcomes.set(size.key, out);
    say(`[${size.label}] ${bytesOf(size) / 1e6} MB of weights`);
    for (const name of bench.cases) {
      if (name.startsWith('load-')) continue;
      const isFit = name === 'fit' || name.endsWith('-fit');
      const o =
        name.startsWith('s3-') && size.huge
          ? { skipped: 'the S3 cases run up to 100M: s3rver writes each object through a single Node stream, so multi-GB uploads time the test server, not the client (1 GiB is covered by test/s3_memory.test.ts)', wallMs: 0 }
          : isFit && size.huge
            ? { skipped: FIT_SKIPPED_HUGE, wallMs: 0 }
            : name === 'keras' || name === 'lightning'
              ? await peerCase(name, size, bench.reps, setup)
              : name === 'keras-fit' || name === 'lightning-fit'
                ? await peerCase(name === 'keras-fit' ? 'keras' : 'lightning', size, bench.reps, setup, true)
                : await tsCase(name, size, bench.reps);
      out.set(name, o);
      say(`  ${name}: ${(o.wallMs / 1000).toFixed(1)} s${o.error ? ' FAILED' : o.skipped ? ' skipped' : ''}`);
    }
    await loadCases(size, bench, out);
  }

  const minutes = (nowMs() - t0) / 60_000;
  const targets = targetsTable(outcomes, bench.sizes);
  const firstSaves = firstSavesTable(outcomes, bench.sizes);
  const fits = fitTable(outcomes, bench.sizes);
  const frozen = frozenTable(outcomes, bench.sizes);
  const command = `npm run bench${bench.argv.length ? ` -- ${bench.argv.join(' ')}` : ''}`;
  const md = [
    '# tfjs-checkpoint benchmark',
    '',
    `Generated by \`${command}\` (${bench.reps} rep${bench.reps === 1 ? '' : 's'}); the whole run took ${minutes.toFixed(1)} min. Targets met: **${targets.met} of ${targets.applicable}** that apply.`,
    '',
    ...headline(outcomes, bench.sizes).map((l, i) => (i === 0 ? l : `- ${l}`)),
    '',
    '## Machine',
    '',
    '| | |\n|---|---|\n' + machine.map(([k, v]) => `| ${k} | ${v} |`).join('\n'),
    '',
    '## Saves',
    '',
    savesTable(outcomes, bench.sizes),
    '',
    ...(firstSaves ? ['First save in a fresh process (the warm-up rep, not in the medians above); ours shows blocked / durable when they differ:', '', firstSaves, ''] : []),
    ...(frozen ? ['Incremental checkpoints, frozen base: layers 1–3 of 4 `trainable: false`, only the head changes between saves (weights only; the checkpoint before the newest is deleted untimed); their shards are reused by hard link:', '', frozen, ''] : []),
    ...(fits ? ['## `fit` overhead', '', FIT_INTRO, '', fits, ''] : []),
    '## Loads',
    '',
    'The ceiling reads our checkpoint\'s shard files into fresh `ArrayBuffer`s with `fs` (synchronous reads, one buffer per file), in a fresh process like every load; × ceiling compares the medians.',
    '',
    loadsTable(outcomes, bench.sizes),
    '',
    '## S3 (local s3rver)',
    '',
    S3_INTRO,
    '',
    s3Table(outcomes, bench.sizes.filter((size) => !size.huge)),
    '',
    '## Targets',
    '',
    TARGETS_INTRO,
    '',
    targets.markdown,
    '',
    '## Method',
    '',
    ...METHOD.map((m) => `- ${m}`),
    '',
    '## Notes',
    '',
    ...notes(outcomes, bench.sizes, setup).map((n) => `- ${n}`),
    '',
  ].join('\n');
  process.stdout.write(md);
  const resultsPath = join(BENCH_DIR, 'RESULTS.md');
  writeResults(resultsPath, md);
  writeFileSync(join(WORK_DIR, 'results.json'), JSON.stringify(Object.fromEntries([...outcomes].map(([k, v]) => [k, Object.fromEntries(v)])), null, 1));
  say(`\nWrote ${relative(REPO_DIR, resultsPath)} (${minutes.toFixed(1)} min).`);
}

await main();
