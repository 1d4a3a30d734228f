/**
 * Hostile checkpoints (issue 7): symlinks and special files inside a checkpoint, manifests that would
 * make a reader allocate far more than the checkpoint holds, and files whose content must not be
 * quoted in error messages.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { copyFile, mkdir, readFile, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CheckpointError, CheckpointManager, loadModel, loadWeights, restoreInto, saveModel, saveWeights, verify, type FsOps } from '../src/index.js';
import { maxAbsDiff, smallClassifier, tempDir } from './helpers.js';

const isCode = (code: string, pattern?: RegExp) => (e: unknown) =>
  e instanceof CheckpointError && e.code === code && (pattern === undefined || pattern.test(e.message));

async function fullCheckpoint(dir: string, name = 'm') {
  const model = smallClassifier(5);
  await saveModel(model, join(dir, name));
  return { model, path: join(dir, name) };
}

describe('symlinks inside a checkpoint', () => {
  it('a weight file that links to a file outside the checkpoint is refused, even when its checksum matches', async () => {
    const dir = await tempDir();
    const { model, path } = await fullCheckpoint(dir);
    await copyFile(join(path, 'weights.bin'), join(dir, 'outside.bin'));
    await rm(join(path, 'weights.bin'));
    await symlink(join(dir, 'outside.bin'), join(path, 'weights.bin'));
    const refused = isCode('CORRUPT_CHECKPOINT', /weights\.bin is a symbolic link/);
    await assert.rejects(verify(path), refused);
    await assert.rejects(loadWeights(model, path), refused);
    await assert.rejects(loadModel(path), refused);
    await assert.rejects(restoreInto(model, path), refused);
  });

  it('a manifest or checkpoint.json that is a symlink is refused', async () => {
    const dir = await tempDir();
    const { model, path } = await fullCheckpoint(dir);
    await rm(join(path, 'checkpoint.json'));
    await copyFile(join(path, 'model.json'), join(dir, 'outside.json'));
    await rm(join(path, 'model.json'));
    await symlink(join(dir, 'outside.json'), join(path, 'model.json'));
    await assert.rejects(loadWeights(model, path), isCode('CORRUPT_CHECKPOINT', /model\.json is a symbolic link/));
    await assert.rejects(verify(path), isCode('CORRUPT_CHECKPOINT', /model\.json is a symbolic link/));

    const other = await fullCheckpoint(dir, 'n');
    await copyFile(join(other.path, 'checkpoint.json'), join(dir, 'outside-checkpoint.json'));
    await rm(join(other.path, 'checkpoint.json'));
    await symlink(join(dir, 'outside-checkpoint.json'), join(other.path, 'checkpoint.json'));
    await assert.rejects(verify(other.path), isCode('CORRUPT_CHECKPOINT', /checkpoint\.json is a symbolic link/));
  });

  it('the checkpoint directory itself may be a symlink the user chose', async () => {
    const dir = await tempDir();
    const { model, path } = await fullCheckpoint(dir);
    await symlink(path, join(dir, 'link'));
    const result = await verify(join(dir, 'link'));
    assert.equal(result.checksums, 'verified');
    const fresh = smallClassifier(9);
    await loadWeights(fresh, join(dir, 'link'));
    assert.equal(maxAbsDiff(fresh.getWeights(), model.getWeights()), 0);
    (await loadModel(join(dir, 'link'))).dispose();
  });
});

/** Fails (instead of hanging) when `promise` has not settled within `ms`; then unblocks readers stuck on the FIFOs. */
async function settlesWithin<T>(promise: Promise<T>, ms: number, fifos: readonly string[]): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      // A reader blocked opening a FIFO wakes when a writer opens it; closing it then gives end of file.
      for (const fifo of fifos) {
        try {
          closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
        } catch {
          // nobody was blocked on it
        }
      }
      reject(new Error(`hung for more than ${ms} ms on a FIFO`));
    }, ms);
  });
  try {
    return await Promise.race([promise, hung]);
  } finally {
    clearTimeout(timer);
  }
}

describe('special files inside a checkpoint', () => {
  const HANG_MS = 4000;

  async function withFifo(dir: string, name: string, file: string) {
    const { model, path } = await fullCheckpoint(dir, name);
    await rm(join(path, file));
    execFileSync('mkfifo', [join(path, file)]);
    return { model, path, fifo: join(path, file) };
  }

  for (const file of ['checkpoint.json', 'model.json', 'weights.bin']) {
    it(`a FIFO as ${file}: verify, loadWeights, loadModel and restoreInto refuse it at once, naming it`, { timeout: 60_000 }, async () => {
      const dir = await tempDir();
      const { model, path, fifo } = await withFifo(dir, 'm', file);
      const refused = isCode('CORRUPT_CHECKPOINT', new RegExp(`${file.replace('.', '\\.')} is a FIFO`));
      await assert.rejects(settlesWithin(verify(path), HANG_MS, [fifo]), refused);
      await assert.rejects(settlesWithin(loadWeights(model, path), HANG_MS, [fifo]), refused);
      await assert.rejects(settlesWithin(loadModel(path), HANG_MS, [fifo]), refused);
      await assert.rejects(settlesWithin(restoreInto(model, path), HANG_MS, [fifo]), refused);
    });
  }

  it('a FIFO as checkpoint.json: CheckpointManager.list() skips that checkpoint instead of hanging', { timeout: 60_000 }, async () => {
    const dir = await tempDir();
    const model = smallClassifier(5);
    const manager = new CheckpointManager({ directory: dir, asyncSave: false });
    await manager.save(1, model);
    await manager.save(2, model);
    const fifo = join(dir, 'ckpt-00000002', 'checkpoint.json');
    await rm(fifo);
    execFileSync('mkfifo', [fifo]);
    const records = await settlesWithin(new CheckpointManager({ directory: dir }).list(), HANG_MS, [fifo]);
    assert.deepEqual(records.map((r) => r.metadata.step), [1]);
  });
});

/** FsOps that records every file opened and every byte read through it. */
function recordingFs(): FsOps & { opened: string[]; bytesRead: Map<string, number> } {
  const opened: string[] = [];
  const bytesRead = new Map<string, number>();
  const ops: FsOps = {
    ...(fsp as unknown as FsOps),
    async open(path, flags, mode) {
      opened.push(String(path));
      const handle = await fsp.open(path, flags, mode);
      const read = handle.read.bind(handle) as (...args: unknown[]) => Promise<{ bytesRead: number }>;
      return Object.assign(handle, {
        read: async (...args: unknown[]) => {
          const result = await read(...args);
          bytesRead.set(String(path), (bytesRead.get(String(path)) ?? 0) + result.bytesRead);
          return result;
        },
      });
    },
  };
  return Object.assign(ops, { opened, bytesRead });
}

const GiB = 2 ** 30;

describe('amplification: nothing is allocated beyond what the checkpoint and the model need', () => {
  async function bareWeights(dir: string) {
    const model = smallClassifier(5);
    const path = join(dir, 'w');
    await saveWeights(model, path);
    await rm(join(path, 'checkpoint.json'));
    const manifest = JSON.parse(await readFile(join(path, 'weights.json'), 'utf8'));
    return { model, path, manifest };
  }

  it('a manifest that names one weight file many times (or in two groups) is refused before anything is read', async () => {
    const dir = await tempDir();
    const { model, path, manifest } = await bareWeights(dir);
    const group = manifest.weightsManifest[0];
    const renamed = (k: number) => group.weights.map((w: { name: string }) => ({ ...w, name: `${w.name}_${k}` }));
    manifest.weightsManifest = [{ paths: Array(500).fill('weights.bin'), weights: Array.from({ length: 500 }, (_, k) => renamed(k)).flat() }];
    await writeFile(join(path, 'weights.json'), JSON.stringify(manifest));
    const refused = isCode('CORRUPT_CHECKPOINT', /names a file that an earlier entry already names/);
    const fs = recordingFs();
    await assert.rejects(verify(path, { fs }), refused);
    await assert.rejects(loadWeights(model, path, { fs }), refused);
    assert.deepEqual(fs.opened.filter((p) => p.endsWith('.bin')), []);

    manifest.weightsManifest = [group, { paths: ['weights.bin'], weights: renamed(1) }];
    await writeFile(join(path, 'weights.json'), JSON.stringify(manifest));
    await assert.rejects(verify(path), refused);
  });

  it('a checkpoint that does not fit the model is refused before any weight file is opened', async () => {
    const dir = await tempDir();
    const { path } = await fullCheckpoint(dir);
    const wide = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 9 }), tf.layers.dense({ units: 3 })] });
    wide.compile({ optimizer: 'adam', loss: 'meanSquaredError' });
    for (const load of [(fs: FsOps) => loadWeights(wide, path, { fs }), (fs: FsOps) => restoreInto(wide, path, { fs })]) {
      const fs = recordingFs();
      await assert.rejects(load(fs), isCode('WEIGHT_MISMATCH'));
      assert.deepEqual(fs.opened.filter((p) => p.endsWith('.bin')), []);
    }
  });

  it('loadWeights reads only the weights the model takes: a 3 GiB sparse file of extra state is never read', { timeout: 60_000 }, async () => {
    const dir = await tempDir();
    const { model, path, manifest } = await bareWeights(dir);
    const elements = (3 * GiB) / 4;
    manifest.weightsManifest.push({ paths: ['extra.bin'], weights: [{ name: 'junk', shape: [elements], dtype: 'float32', group: 'optimizer' }] });
    await writeFile(join(path, 'weights.json'), JSON.stringify(manifest));
    await writeFile(join(path, 'extra.bin'), '');
    await truncate(join(path, 'extra.bin'), 3 * GiB);
    const fs = recordingFs();
    const fresh = smallClassifier(9);
    await loadWeights(fresh, path, { fs });
    assert.equal(maxAbsDiff(fresh.getWeights(), model.getWeights()), 0);
    assert.equal(fs.bytesRead.get(join(path, 'extra.bin')) ?? 0, 0);
    // Restoring the optimizer too: optimizer state shaped like none of the model's weights is refused unread.
    await assert.rejects(restoreInto(fresh, path, { fs }), isCode('WEIGHT_MISMATCH', /junk.*fits none of the model's weights/));
    assert.equal(fs.bytesRead.get(join(path, 'extra.bin')) ?? 0, 0);
  });

  it('a 4.5 GiB sparse weight file is a typed error (WEIGHT_MISMATCH or TOO_LARGE), never a RangeError', { timeout: 60_000 }, async () => {
    const dir = await tempDir();
    const { model, path } = await fullCheckpoint(dir);
    await rm(join(path, 'checkpoint.json'));
    const json = JSON.parse(await readFile(join(path, 'model.json'), 'utf8'));
    const bytes = 4.5 * GiB;
    json.weightsManifest = [{ paths: ['weights.bin'], weights: [{ name: 'huge', shape: [bytes / 4], dtype: 'float32' }] }];
    await writeFile(join(path, 'model.json'), JSON.stringify(json));
    await truncate(join(path, 'weights.bin'), bytes);
    await assert.rejects(loadWeights(model, path), isCode('WEIGHT_MISMATCH'));
    await assert.rejects(restoreInto(model, path), isCode('WEIGHT_MISMATCH'));
    await assert.rejects(loadModel(path), isCode('TOO_LARGE', /weights\.bin needs one buffer of 4831838208 bytes/));
    await assert.rejects(tf.loadLayersModel(`file://${path}/model.json`), isCode('TOO_LARGE'));
    // As a weights-only checkpoint restored without a model (all of it is wanted).
    await rm(join(path, 'model.json'));
    await writeFile(join(path, 'weights.json'), JSON.stringify({ format: 'tfjs-checkpoint-weights', formatVersion: 1, weightsManifest: json.weightsManifest }));
    await assert.rejects(new CheckpointManager({ directory: dir }).restore(path), isCode('TOO_LARGE'));
    // Without checksums verify checks sizes only: nothing is allocated or read.
    assert.equal((await verify(path)).checksums, 'absent');
  });
});

describe('errors never quote the files they read', () => {
  const SECRET = 'sk-live-7f3a9c2e51d04b88';

  /** The message of the error and of every cause below it. */
  function messages(e: unknown): string {
    const out: string[] = [];
    for (let at: unknown = e, depth = 0; at && depth < 10; at = (at as { cause?: unknown }).cause, depth++) {
      out.push(String((at as Error).message ?? at), String((at as Error).stack ?? ''));
    }
    return out.join('\n');
  }

  async function rejectsWithoutSecret(promise: Promise<unknown>, what: string) {
    let error: unknown;
    await promise.then(
      () => assert.fail(`${what}: loaded`),
      (e: unknown) => (error = e),
    );
    assert.ok(error instanceof CheckpointError, `${what}: ${String(error)}`);
    assert.ok(!messages(error).includes(SECRET), `${what}: the error quotes the file: ${messages(error)}`);
    assert.ok(!messages(error).includes(SECRET.slice(0, 10)), `${what}: the error quotes part of the file`);
  }

  it('invalid JSON in checkpoint.json, model.json or weights.json', async () => {
    const dir = await tempDir();
    const { model, path } = await fullCheckpoint(dir);
    const broken = `{"token": ${SECRET}, "more": 1}`;
    await writeFile(join(path, 'checkpoint.json'), broken);
    await rejectsWithoutSecret(loadWeights(model, path), 'checkpoint.json');
    await rejectsWithoutSecret(verify(path), 'checkpoint.json (verify)');
    await rm(join(path, 'checkpoint.json'));
    await writeFile(join(path, 'model.json'), broken);
    await rejectsWithoutSecret(loadModel(path), 'model.json');
    await rm(join(path, 'model.json'));
    await writeFile(join(path, 'weights.json'), broken);
    await rejectsWithoutSecret(loadWeights(model, path), 'weights.json');
  });

  it('valid JSON that fails the schema, with the secret as a value or as a key', async () => {
    const dir = await tempDir();
    const { model, path } = await fullCheckpoint(dir);
    const metadata = JSON.parse(await readFile(join(path, 'checkpoint.json'), 'utf8'));
    for (const damaged of [
      { ...metadata, format: SECRET },
      { ...metadata, kind: SECRET },
      { ...metadata, metrics: { [SECRET]: 'not a number' } },
      { ...metadata, files: [{ name: SECRET, size: SECRET, crc32: SECRET }] },
      { private_key: SECRET, client_email: `${SECRET}@example.com` },
    ]) {
      await writeFile(join(path, 'checkpoint.json'), JSON.stringify(damaged));
      await rejectsWithoutSecret(verify(path), `checkpoint.json ${Object.keys(damaged).join(',').slice(0, 40)}`);
    }
    await rm(join(path, 'checkpoint.json'));
    const modelJson = JSON.parse(await readFile(join(path, 'model.json'), 'utf8'));
    await writeFile(join(path, 'model.json'), JSON.stringify({ ...modelJson, weightsManifest: [{ paths: [SECRET + '/x'], weights: [{ name: 'w', shape: [1], dtype: SECRET }] }] }));
    await rejectsWithoutSecret(loadModel(path), 'model.json schema');
    await rm(join(path, 'model.json'));
    await writeFile(join(path, 'weights.json'), JSON.stringify({ format: SECRET, formatVersion: 1, weightsManifest: [] }));
    await rejectsWithoutSecret(loadWeights(model, path), 'weights.json schema');
  });
});

describe('every directory entry kind inside a checkpoint is a typed error', () => {
  it('a directory in place of a weight file', async () => {
    const dir = await tempDir();
    const { model, path } = await fullCheckpoint(dir);
    await rm(join(path, 'weights.bin'));
    await mkdir(join(path, 'weights.bin'));
    await assert.rejects(loadWeights(model, path), isCode('CORRUPT_CHECKPOINT', /weights\.bin is a directory/));
    await assert.rejects(verify(path), isCode('CORRUPT_CHECKPOINT', /weights\.bin is a directory/));
  });
});
