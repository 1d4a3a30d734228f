/**
 * Large single-file checkpoints: for each format (.safetensors, .h5 full model, .weights.h5, .keras),
 * save a model of the given size (default the 5 GiB bench model) and load it back, each in a fresh
 * process, measuring wall time and the extra peak resident memory beyond the model itself (see
 * lib/rss.ts), and checking every weight's CRC-32 after loading.
 *
 *   npx tsx --expose-gc bench/formats.ts [--size 5gib|1000|100] [--formats safetensors,h5,weights.h5,keras]
 *
 * Prints one JSON line per format and a Markdown table (copied into bench/RESULTS.md by hand).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModel, loadWeights, saveModel, saveWeights } from '../src/index.js';
import { buildModel, initTf, weightChecksums } from './lib/model.js';
import { collectGarbage, memoryWindow, rssMiB } from './lib/rss.js';
import { sizeByKey } from './lib/sizes.js';
import { nowMs } from './lib/stats.js';

const FORMATS: Record<string, { ext: string; weightsOnly: boolean }> = {
  safetensors: { ext: '.safetensors', weightsOnly: false },
  h5: { ext: '.h5', weightsOnly: false },
  'weights.h5': { ext: '.weights.h5', weightsOnly: true },
  keras: { ext: '.keras', weightsOnly: false },
};

const arg = (name: string, fallback: string) => {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1]! : fallback;
};

async function child(role: 'save' | 'load', format: string, sizeKey: string, dir: string): Promise<void> {
  await initTf();
  const size = sizeByKey(sizeKey);
  const { ext, weightsOnly } = FORMATS[format]!;
  const path = join(dir, `model${ext}`);
  const expectedFile = join(dir, 'expected.json');
  if (role === 'load' && !weightsOnly) {
    // A fresh process with no model: the extra peak is everything loadModel needs (the model included).
    collectGarbage();
    const window = memoryWindow();
    const t0 = nowMs();
    const loaded = await loadModel(path);
    const ms = nowMs() - t0;
    const ok = JSON.stringify(weightChecksums(loaded)) === readFileSync(expectedFile, 'utf8');
    console.log(JSON.stringify({ role, format, ms, extraMiB: window.extra(), ok }));
    return;
  }
  const { model } = buildModel(size);
  collectGarbage();
  const before = rssMiB();
  const window = memoryWindow();
  const t0 = nowMs();
  if (role === 'save') {
    await (weightsOnly ? saveWeights(model, path) : saveModel(model, path, { includeOptimizer: false }));
    const ms = nowMs() - t0;
    writeFileSync(expectedFile, JSON.stringify(weightChecksums(model)));
    console.log(JSON.stringify({ role, format, ms, extraMiB: window.extra(), rssBeforeMiB: before, fileBytes: statSync(path).size }));
    return;
  }
  // Weights only: into the model built here, so the peak counts what loading needs beyond it.
  await loadWeights(model, path);
  const ms = nowMs() - t0;
  const ok = JSON.stringify(weightChecksums(model)) === readFileSync(expectedFile, 'utf8');
  console.log(JSON.stringify({ role, format, ms, extraMiB: window.extra(), rssBeforeMiB: before, ok }));
}

function run(role: 'save' | 'load', format: string, size: string, dir: string): Record<string, unknown> {
  const self = fileURLToPath(import.meta.url);
  const r = spawnSync(process.execPath, ['--expose-gc', '--max-old-space-size=8192', '--import', fileURLToPath(new URL('./preload_h5wasm.mjs', import.meta.url)), '--import', 'tsx', self, '--child', role, format, size, dir], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const line = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).at(-1);
  if (r.status !== 0 || !line) return { role, format, error: (r.stderr || r.stdout).trim().split('\n').slice(-5).join(' | ') };
  return JSON.parse(line);
}

async function main(): Promise<void> {
  const at = process.argv.indexOf('--child');
  if (at >= 0) {
    const [role, format, size, dir] = process.argv.slice(at + 1) as ['save' | 'load', string, string, string];
    return child(role, format, size, dir);
  }
  const size = arg('size', '5gib');
  const formats = arg('formats', Object.keys(FORMATS).join(',')).split(',');
  const root = join(process.cwd(), 'bench/.work/formats');
  const rows: string[] = [];
  for (const format of formats) {
    const dir = join(root, format);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const saved = run('save', format, size, dir);
    console.log(JSON.stringify(saved));
    const loaded = 'error' in saved ? { error: 'not saved' } : run('load', format, size, dir);
    console.log(JSON.stringify(loaded));
    const mib = (v: unknown) => (typeof v === 'number' ? v.toFixed(0) : '-');
    const s = (v: unknown) => (typeof v === 'number' ? (v / 1000).toFixed(1) : '-');
    rows.push(
      `| ${FORMATS[format]!.ext} | ${s(saved['ms'])} | ${mib(saved['extraMiB'])} | ${s(loaded['ms'])} | ${mib(loaded['extraMiB'])} | ${loaded['ok'] === true ? 'yes' : String(loaded['error'] ?? loaded['ok'])} |`,
    );
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`\nSize ${sizeByKey(size).label}; save extra: beyond the built model; load extra: loadModel in a fresh process (the model included), loadWeights beyond the built model\n\n| format | save s | save extra MiB | load s | load extra MiB | weights equal |\n|---|---|---|---|---|---|\n${rows.join('\n')}`);
}

await main();
