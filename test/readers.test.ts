/**
 * Readers (issue 7): a fixed-path checkpoint replaced by another process while it is read, and
 * verify() catching every kind of damage to a checkpoint that carries checkpoint.json.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFile, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CheckpointError, CheckpointManager, loadModel, loadWeights, restoreInto, saveModel, saveWeights, verify } from '../src/index.js';
import { replacingModel, shapesOf, whichSet } from './fixtures/weight_sets.js';
import { smallClassifier, tempDir } from './helpers.js';

const isCode = (code: string, pattern?: RegExp) => (e: unknown) =>
  e instanceof CheckpointError && e.code === code && (pattern === undefined || pattern.test(e.message));

const WRITER = fileURLToPath(new URL('./fixtures/replacing_writer.ts', import.meta.url));

/** Starts the writer child; `saves()` is how many replacements it has committed so far. */
function startWriter(path: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, path], { stdio: ['pipe', 'pipe', 'inherit'] });
  let saves = 0;
  const waiters: { count: number; resolve: () => void }[] = [];
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const n = Number(/^saved (\d+)$/.exec(line)?.[1]);
    if (!Number.isInteger(n)) return;
    saves = n;
    for (const w of waiters.filter((w) => saves >= w.count)) w.resolve();
  });
  return {
    saves: () => saves,
    /** Resolves once the child has committed `count` saves; rejects if it exits first. */
    reached: (count: number) =>
      Promise.race([
        new Promise<void>((resolve) => (saves >= count ? resolve() : waiters.push({ count, resolve }))),
        exited.then((code) => Promise.reject(new Error(`the writer exited (${code}) after ${saves} saves`))),
      ]),
    stop: async () => {
      child.kill();
      await exited;
    },
  };
}

async function valuesOf(model: tf.LayersModel): Promise<Float32Array[]> {
  return Promise.all(model.getWeights().map(async (t) => (await t.data()) as Float32Array));
}

describe('a fixed-path checkpoint replaced while it is read', () => {
  it('every reader sees one whole generation (one of the two weight sets), never a false CORRUPT_CHECKPOINT', { timeout: 300_000 }, async () => {
    const dir = await tempDir();
    const path = join(dir, 'ckpt', 'best');
    const writer = startWriter(path);
    try {
      await writer.reached(1);
      const model = replacingModel();
      const shapes = shapesOf(model);
      const manager = new CheckpointManager({ filepath: path });
      const readers: [string, () => Promise<Float32Array[] | 'verified'>][] = [
        ['loadWeights', async () => (await loadWeights(model, path), valuesOf(model))],
        ['loadModel', async () => { const m = await loadModel(path); try { return await valuesOf(m); } finally { m.dispose(); } }],
        ['file:// handler', async () => { const m = await tf.loadLayersModel(`file://${path}/model.json`); try { return await valuesOf(m); } finally { m.dispose(); } }],
        ['verify', async () => { const v = await verify(path); assert.equal(v.checksums, 'verified'); return 'verified' as const; }],
        ['restoreInto', async () => (await restoreInto(model, path), valuesOf(model))],
        ['manager.restore(path, model)', async () => (await manager.restore(path, model), valuesOf(model))],
        ['manager.restore(path)', async () => { const m = (await manager.restore(path)) as tf.LayersModel; try { return await valuesOf(m); } finally { m.dispose(); } }],
      ];
      const errors: string[] = [];
      const seen = [0, 0];
      const startedAt = writer.saves();
      let loads = 0;
      // At least 200 loads, and at least 100 replacements while they ran (bounded either way).
      while (loads < 3000 && (loads < 200 || writer.saves() - startedAt < 100)) {
        const [name, read] = readers[loads % readers.length]!;
        loads += 1;
        try {
          const result = await read();
          if (result === 'verified') continue;
          const which = whichSet(result, shapes);
          if (which === undefined) errors.push(`${name}: weights that are neither set (a mixture of generations)`);
          else seen[which]! += 1;
        } catch (e) {
          errors.push(`${name}: ${(e as Error).name} ${(e as CheckpointError).code ?? ''}: ${(e as Error).message}`);
        }
      }
      const replacements = writer.saves() - startedAt;
      console.log(`readers: ${loads} loads during ${replacements} replacements; sets seen ${seen.join('/')}, ${errors.length} errors`);
      assert.deepEqual(errors.slice(0, 5), [], `${errors.length} of ${loads} loads failed`);
      assert.ok(replacements >= 20, `the writer replaced the checkpoint only ${replacements} times during the loads`);
      assert.ok(seen[0]! > 0 && seen[1]! > 0, `both generations were loaded (${seen.join('/')})`);
    } finally {
      await writer.stop();
    }
  });
});

describe('verify() detects damage to a checkpoint with checkpoint.json', () => {
  /** A full model in several shards and a weights-only checkpoint, with checkpoint.json. */
  async function checkpoints() {
    const dir = await tempDir();
    const model = smallClassifier(3, { batchNorm: true });
    await saveModel(model, join(dir, 'model'), { maxShardBytes: 64 });
    await saveWeights(model, join(dir, 'weights'));
    return [join(dir, 'model'), join(dir, 'weights')];
  }

  async function checkedFiles(path: string): Promise<string[]> {
    return (await readdir(path)).filter((f) => f !== 'checkpoint.json').sort();
  }

  it('intact checkpoints verify, and say their checksums were verified', async () => {
    for (const path of await checkpoints()) {
      const result = await verify(path);
      assert.equal(result.checksums, 'verified');
      assert.ok(result.files >= 1 && result.bytes > 0);
    }
  });

  it('a flipped bit in any file (every shard, model.json, weights.json)', async () => {
    for (const path of await checkpoints()) {
      const files = await checkedFiles(path);
      assert.ok(files.length >= 2, files.join());
      for (const file of files) {
        const original = await readFile(join(path, file));
        for (const at of [0, original.length - 1, original.length >> 1]) {
          const damaged = Buffer.from(original);
          damaged[at]! ^= 0x10;
          await writeFile(join(path, file), damaged);
          await assert.rejects(verify(path), isCode('CORRUPT_CHECKPOINT', new RegExp(`${file.replace('.', '\\.')} fails its checksum`)), `${file} byte ${at}`);
        }
        await writeFile(join(path, file), original);
      }
      await verify(path);
    }
  });

  it('a truncated, an extra-long or a missing file', async () => {
    for (const path of await checkpoints()) {
      for (const file of await checkedFiles(path)) {
        const original = await readFile(join(path, file));
        await truncate(join(path, file), original.length - 1);
        await assert.rejects(verify(path), isCode('CORRUPT_CHECKPOINT', new RegExp(`${file.replace('.', '\\.')} is ${original.length - 1} bytes`)), `${file} truncated`);
        await writeFile(join(path, file), original);
        await appendFile(join(path, file), '\0');
        await assert.rejects(verify(path), isCode('CORRUPT_CHECKPOINT', new RegExp(`${file.replace('.', '\\.')} is ${original.length + 1} bytes`)), `${file} extended`);
        await rm(join(path, file));
        await assert.rejects(verify(path), isCode('CORRUPT_CHECKPOINT', /missing|holds neither/), `${file} missing`);
        await writeFile(join(path, file), original);
      }
      await verify(path);
    }
  });

  it('without checkpoint.json (a stock tfjs folder) verify says the checksums are absent', async () => {
    for (const path of await checkpoints()) {
      await rm(join(path, 'checkpoint.json'));
      const result = await verify(path);
      assert.equal(result.checksums, 'absent');
      assert.equal(result.metadata, undefined);
    }
  });
});
