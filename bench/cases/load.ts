/**
 * Loading a full-model checkpoint. 'load-prep' builds the model once and writes both layouts plus the
 * expected checksums; each loader then runs in its own fresh process against those files.
 * 'load-ceiling' reads our checkpoint's shard files into fresh memory, under the same conditions: the
 * least any loader must do.
 */
import * as tf from '@tensorflow/tfjs';
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel, saveModel } from '../../src/index.js';
import { buildModel, weightChecksums } from '../lib/model.js';
import { naiveSave } from '../lib/naive_save.js';
import { bytesOf, paramsOf } from '../lib/sizes.js';
import { mbPerSec, type CaseContext, type CaseResult, type Rep } from '../lib/result.js';
import { memoryWindow } from '../lib/rss.js';
import { nowMs } from '../lib/stats.js';

export type LoaderCase = 'load-ours' | 'load-stock' | 'load-url';

const OURS = 'ours';
const NAIVE = 'naive';
const EXPECTED = 'expected.json';
/** Written instead of the stock layout when model.save() itself fails (over 4 GiB it cannot concatenate). */
const NAIVE_FAILED = 'naive-failed.txt';

export async function runLoadPrep(ctx: CaseContext): Promise<CaseResult> {
  const { model, params, bytes, buildMs } = buildModel(ctx.size);
  await saveModel(model, join(ctx.dir, OURS));
  mkdirSync(join(ctx.dir, NAIVE), { recursive: true });
  let naiveError = '';
  try {
    await naiveSave(model, join(ctx.dir, NAIVE));
  } catch (e) {
    naiveError = String(e);
    writeFileSync(join(ctx.dir, NAIVE_FAILED), naiveError);
  }
  writeFileSync(join(ctx.dir, EXPECTED), JSON.stringify(weightChecksums(model)));
  model.dispose();
  return { case: 'load-prep', size: ctx.size.key, params, bytes, reps: [], info: { buildMs: Math.round(buildMs), naiveError } };
}

function stockLoad(dir: string): Promise<tf.LayersModel> {
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
  const bin = readFileSync(join(dir, 'weights.bin'));
  // readFileSync of a large file returns an unpooled Buffer that owns its whole ArrayBuffer: no copy here.
  const weightData = bin.byteOffset === 0 && bin.byteLength === bin.buffer.byteLength ? bin.buffer : bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength);
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData }));
}

function loaderFor(which: LoaderCase, dir: string): () => Promise<tf.LayersModel> {
  switch (which) {
    case 'load-ours':
      return () => loadModel(join(dir, OURS));
    case 'load-stock':
      if (existsSync(join(dir, NAIVE_FAILED))) {
        throw new Error(`No stock-layout files to load: model.save() failed: ${readFileSync(join(dir, NAIVE_FAILED), 'utf8')}`);
      }
      return () => stockLoad(join(dir, NAIVE));
    case 'load-url':
      return () => tf.loadLayersModel(`file://${join(dir, OURS, 'model.json')}`);
  }
}

/** ctx.dir is the directory load-prep wrote (shared by the loader processes). */
export async function runLoad(ctx: CaseContext, which: LoaderCase): Promise<CaseResult> {
  const expected = JSON.parse(readFileSync(join(ctx.dir, EXPECTED), 'utf8')) as number[];
  const load = loaderFor(which, ctx.dir);
  const bytes = bytesOf(ctx.size);
  const reps: Rep[] = [];
  // No warm-up: the first load in a fresh process is the one users get; later reps show reuse.
  for (let rep = 0; rep < ctx.reps; rep++) {
    const mem = memoryWindow();
    const t0 = nowMs();
    const model = await load();
    const ms = nowMs() - t0;
    const extra = mem.extra();
    const got = weightChecksums(model);
    const verified = got.length === expected.length && got.every((c, i) => c === expected[i]);
    model.dispose();
    reps.push({ load_ms: ms, mbps: mbPerSec(bytes, ms), extra_peak_mib: extra, verified: verified ? 1 : 0 });
  }
  return { case: which, size: ctx.size.key, params: paramsOf(ctx.size), bytes, reps };
}

/** Reads a whole file into a fresh ArrayBuffer of its size (not Node's pool), as a loader must. */
function readFresh(path: string): ArrayBuffer {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const buffer = new ArrayBuffer(size);
    const view = new Uint8Array(buffer);
    for (let at = 0; at < size; ) {
      const n = readSync(fd, view, at, size - at, at);
      if (n === 0) throw new Error(`${path}: short read at ${at} of ${size}`);
      at += n;
    }
    return buffer;
  } finally {
    closeSync(fd);
  }
}

/** The load ceiling: the shard bytes of the same checkpoint read into fresh ArrayBuffers with fs. */
export async function runLoadCeiling(ctx: CaseContext): Promise<CaseResult> {
  const dir = join(ctx.dir, OURS);
  const shards = readdirSync(dir).filter((f) => f.endsWith('.bin')).sort();
  const bytes = bytesOf(ctx.size);
  const reps: Rep[] = [];
  for (let rep = 0; rep < ctx.reps; rep++) {
    const mem = memoryWindow();
    const t0 = nowMs();
    const buffers = shards.map((f) => readFresh(join(dir, f)));
    const ms = nowMs() - t0;
    const extra = mem.extra();
    const read = buffers.reduce((n, b) => n + b.byteLength, 0);
    if (read < bytes) throw new Error(`read ${read} bytes of shards, fewer than the ${bytes} weight bytes`);
    reps.push({ load_ms: ms, mbps: mbPerSec(bytes, ms), extra_peak_mib: extra });
  }
  return { case: 'load-ceiling', size: ctx.size.key, params: paramsOf(ctx.size), bytes, reps, info: { shards: shards.length } };
}
