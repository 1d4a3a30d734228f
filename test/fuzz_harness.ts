/**
 * Fuzzing the loader: valid checkpoints are copied and damaged (truncated, bit-flipped, deleted or
 * hostile files, JSON values replaced with absurd ones), then loaded. Every load must end in a
 * correct load or a typed CheckpointError: never another exception, a crash, a hang or a huge
 * allocation. A load that returns from a checkpoint with checkpoint.json must return exactly the
 * saved weights; from a folder without one nothing can check them, so those loads are counted apart
 * (`unverified`, and `unverifiedWrong` for those that differ). Used by fuzz.test.ts and `npm run stress`.
 */
import * as tf from '@tensorflow/tfjs';
import { cp, lstat, mkdir, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CheckpointError, loadModel, loadWeights, saveModel, saveWeights, verify } from '../src/index.js';
import { seededRandom } from './helpers.js';

export function fuzzModel(): tf.LayersModel {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [6], units: 5, activation: 'relu', name: 'fz_a', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
      tf.layers.batchNormalization({ name: 'fz_bn' }),
      tf.layers.dense({ units: 3, name: 'fz_b', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
    ],
  });
  model.compile({ optimizer: tf.train.adam(0.01), loss: 'meanSquaredError' });
  return model;
}

/** The valid checkpoints that mutations start from, and the model weights they all hold. */
export async function buildCorpus(dir: string): Promise<{ paths: string[]; saved: Float32Array[] }> {
  const model = fuzzModel();
  await model.fit(tf.ones([4, 6]), tf.zeros([4, 3]), { epochs: 1, verbose: 0 });
  const seeds = {
    'weights-meta': () => saveWeights(model, join(dir, 'weights-meta')),
    'model-meta': () => saveModel(model, join(dir, 'model-meta')),
    'model-sharded': () => saveModel(model, join(dir, 'model-sharded'), { maxShardBytes: 24 }),
    'weights-sharded': () => saveWeights(model, join(dir, 'weights-sharded'), { maxShardBytes: 16 }),
  };
  for (const save of Object.values(seeds)) await save();
  for (const name of ['weights-meta', 'model-meta', 'model-sharded']) {
    const bare = join(dir, `${name}-bare`);
    await cp(join(dir, name), bare, { recursive: true });
    await rm(join(bare, 'checkpoint.json'));
  }
  return { paths: (await readdir(dir)).sort().map((n) => join(dir, n)), saved: await weightsOf(model) };
}

const HOSTILE_VALUES: unknown[] = [
  null, true, 0, -1, 1.5, 1e300, -1e300, 2 ** 31, 2 ** 53, 2 ** 64, 'x', '', '../../../etc/passwd', '/etc/passwd', 'a/b', '..', '.',
  'string', 'complex64', 'float16', [], [0], [-1], [2 ** 31 - 1, 2 ** 31 - 1], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33],
  {}, { a: 1 }, 'NaN', 'Infinity', 'x'.repeat(10_000), [[[[[]]]]], { paths: ['weights.bin'], weights: [] }, 1e9, 65536,
];

/** All JSON paths of a value (objects and arrays), for picking a random place to damage. */
function jsonPaths(value: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(prefix);
  if (Array.isArray(value)) value.forEach((v, i) => jsonPaths(v, [...prefix, i], out));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) jsonPaths(v, [...prefix, k], out);
  return out;
}

function setAt(root: unknown, path: (string | number)[], value: unknown, remove: boolean): unknown {
  if (path.length === 0) return value;
  let node = root as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (remove) {
    if (Array.isArray(node)) node.splice(Number(last), 1);
    else delete node[last];
  } else node[last] = value;
  return root;
}

/** Applies 1-3 random mutations to the checkpoint directory; returns a description. */
async function mutate(dir: string, random: () => number): Promise<string> {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const done: string[] = [];
  const count = 1 + Math.floor(random() * 3);
  for (let i = 0; i < count; i++) {
    const files = (await readdir(dir)).filter((f) => !f.startsWith('.'));
    if (files.length === 0) break;
    const file = pick(files);
    const path = join(dir, file);
    const kind = random();
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch {
      continue;
    }
    if (file.endsWith('.json') && kind < 0.55) {
      let json: unknown;
      try {
        json = JSON.parse(bytes.toString('utf8'));
      } catch {
        continue;
      }
      const target = pick(jsonPaths(json));
      const remove = random() < 0.2 && target.length > 0;
      const value = pick(HOSTILE_VALUES);
      await writeFile(path, JSON.stringify(setAt(json, target, value, remove)));
      done.push(`${file}:${remove ? 'delete' : 'set'} ${target.join('.')}${remove ? '' : ` = ${JSON.stringify(value)?.slice(0, 40)}`}`);
    } else if (kind < 0.7) {
      await truncate(path, Math.floor(random() * bytes.length));
      done.push(`${file}: truncated`);
    } else if (kind < 0.85) {
      for (let k = 0; k < 1 + Math.floor(random() * 4) && bytes.length > 0; k++) bytes[Math.floor(random() * bytes.length)]! ^= 1 << Math.floor(random() * 8);
      await writeFile(path, bytes);
      done.push(`${file}: bits flipped`);
    } else if (kind < 0.93) {
      await rm(path);
      done.push(`${file}: deleted`);
    } else if (kind < 0.97) {
      await rm(path);
      await mkdir(path);
      done.push(`${file}: replaced by a directory`);
    } else {
      await writeFile(path, Buffer.concat([bytes, Buffer.alloc(1 + Math.floor(random() * 64), 7)]));
      done.push(`${file}: extended`);
    }
  }
  return done.join('; ');
}

export interface FuzzReport {
  cases: number;
  /** Loads that returned exactly the saved weights from a checkpoint with checkpoint.json (or verify calls that passed on one). */
  loaded: number;
  typedErrors: number;
  /** Loads that returned from a folder without checkpoint.json: nothing could check them (verify says `checksums: 'absent'`). */
  unverified: number;
  /** Of those, loads whose weights differ from the saved ones (damage no checksum was there to catch). */
  unverifiedWrong: number;
  failures: string[];
}

const HANG_MS = 15_000;

/** What a load returned: the weights it loaded, or what verify said about the checksums. */
type Returned = { weights: Float32Array[] } | { checksums: 'verified' | 'absent' };

async function outcome(run: () => Promise<Returned>): Promise<Returned | 'typed' | string> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<string>((resolve) => (timer = setTimeout(() => resolve(`hang (> ${HANG_MS} ms)`), HANG_MS)));
  try {
    return await Promise.race([run(), hang]);
  } catch (e) {
    return e instanceof CheckpointError ? 'typed' : `untyped ${(e as Error)?.name}: ${(e as Error)?.message}`;
  } finally {
    clearTimeout(timer);
  }
}

async function weightsOf(model: tf.LayersModel): Promise<Float32Array[]> {
  return Promise.all(model.getWeights().map(async (t) => Float32Array.from((await t.data()) as Float32Array)));
}

function sameWeights(a: readonly Float32Array[], b: readonly Float32Array[]): boolean {
  return a.length === b.length && a.every((x, k) => x.length === b[k]!.length && x.every((v, i) => Object.is(v, b[k]![i])));
}

async function hasMetadata(dir: string): Promise<boolean> {
  return (await lstat(join(dir, 'checkpoint.json')).catch(() => undefined))?.isFile() ?? false;
}

export async function runFuzz(options: { workDir: string; cases: number; seed: number }): Promise<FuzzReport> {
  const random = seededRandom(options.seed);
  const { paths: corpus, saved } = await buildCorpus(join(options.workDir, 'corpus'));
  const report: FuzzReport = { cases: 0, loaded: 0, typedErrors: 0, unverified: 0, unverifiedWrong: 0, failures: [] };
  const target = fuzzModel();
  const zeros = target.weights.map((w) => tf.zeros(w.shape as number[]));
  /** loadWeights into a target reset first, so a load that skipped a weight cannot pass for a correct one. */
  const loadInto = async (dir: string): Promise<Returned> => {
    target.setWeights(zeros);
    await loadWeights(target, dir);
    return { weights: await weightsOf(target) };
  };
  for (let i = 0; i < options.cases; i++) {
    const source = corpus[i % corpus.length]!;
    const dir = join(options.workDir, `case-${i % 8}`);
    await rm(dir, { recursive: true, force: true });
    await cp(source, dir, { recursive: true });
    const description = await mutate(dir, random);
    const withChecksums = await hasMetadata(dir);
    const loads: [string, () => Promise<Returned>][] = [
      ['loadWeights', () => loadInto(dir)],
      ['verify', async () => ({ checksums: (await verify(dir)).checksums })],
    ];
    if (source.includes('model')) {
      loads.push(['loadModel', async () => {
        const model = await loadModel(dir);
        try {
          return { weights: await weightsOf(model) };
        } finally {
          model.dispose();
        }
      }]);
    }
    for (const [name, run] of loads) {
      report.cases += 1;
      const result = await outcome(run);
      const fail = (why: string) => report.failures.push(`case ${i} (${source.split('/').pop()}; ${description}) ${name}: ${why}`);
      if (result === 'typed') report.typedErrors += 1;
      else if (typeof result === 'string') fail(result);
      else if ('checksums' in result) {
        if (result.checksums !== (withChecksums ? 'verified' : 'absent')) fail(`verify says checksums are ${result.checksums}`);
        else if (!withChecksums) report.unverified += 1;
        else {
          // A checkpoint verify passes must load, and load exactly what was saved.
          const loaded = await outcome(() => loadInto(dir));
          if (typeof loaded === 'string') fail(`verify passed but loadWeights then failed (${loaded})`);
          else if (!('weights' in loaded) || !sameWeights(loaded.weights, saved)) fail('verify passed but loadWeights returned other weights');
          else report.loaded += 1;
        }
      } else if (!withChecksums) {
        report.unverified += 1;
        if (!sameWeights(result.weights, saved)) report.unverifiedWrong += 1;
      } else if (sameWeights(result.weights, saved)) report.loaded += 1;
      else fail('returned weights that differ from the saved ones');
    }
  }
  for (const t of zeros) t.dispose();
  await rm(options.workDir, { recursive: true, force: true });
  return report;
}
