/**
 * Reading `.safetensors` files written by the Python `safetensors` library (test/fixtures/interop,
 * made by make_fixtures.py with real Keras 3): `loadWeights` into the same architecture built in TF.js
 * predicts what Keras predicted; float16 files widen exactly; hostile files and mismatched models are
 * clear errors that leave the model unchanged; the file is read through any store (s3:// too).
 */
import * as tf from '@tensorflow/tfjs';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CheckpointError, loadWeights, registerStore } from '../src/index.js';
import { S3Store } from '../src/stores/s3.js';
import { tempDir } from './helpers.js';
import { BUILD, expected, FIXTURES, predict } from './interop_models.js';
import { startS3Server } from './stores/s3_server.js';

const isCode = (code: string, pattern?: RegExp) => (e: unknown) => e instanceof CheckpointError && e.code === code && (!pattern || pattern.test(e.message));

describe('safetensors files from Python', () => {
  for (const name of Object.keys(BUILD)) {
    it(`${name}: loadWeights matches by name and predicts what Keras predicted`, async () => {
      const e = await expected(name);
      const model = BUILD[name]!();
      assert.deepEqual(
        model.weights.map((w) => w.originalName).sort(),
        e.weights.map((w) => w.name).sort(),
      );
      await loadWeights(model, join(FIXTURES, `${name}.safetensors`));
      const got = predict(model, e);
      assert.equal(got.length, e.output.values.length);
      const diff = Math.max(...e.output.values.map((v, i) => Math.abs(v - got[i]!)));
      assert.ok(diff <= 1e-5, `max abs diff ${diff}`);
    });
  }

  it('float16 files widen to float32 exactly', async () => {
    const full = BUILD['dense_bn']!();
    await loadWeights(full, join(FIXTURES, 'dense_bn.safetensors'));
    const half = BUILD['dense_bn']!();
    await loadWeights(half, join(FIXTURES, 'dense_bn.f16.safetensors'));
    for (const [i, w] of half.weights.entries()) {
      const h = w.read().dataSync();
      const f = full.weights[i]!.read().dataSync();
      // float16 keeps 11 significant bits: each value within half an ulp of the float32 one.
      h.forEach((v, k) => assert.ok(Math.abs(v - f[k]!) <= Math.abs(f[k]!) * 2 ** -11 + 2 ** -25, `${w.originalName}[${k}]: ${v} vs ${f[k]}`));
      assert.ok(h.some((v, k) => v !== f[k]) || h.every((v) => v === 0 || v === 1), `${w.originalName} was not rounded at all`);
    }
  });

  it('a model that does not fit is a WEIGHT_MISMATCH naming the weight, and nothing is loaded', async () => {
    const model = BUILD['conv']!();
    const before = model.getWeights().map((w) => w.dataSync().slice());
    await assert.rejects(loadWeights(model, join(FIXTURES, 'dense_bn.safetensors')), isCode('WEIGHT_MISMATCH'));
    model.getWeights().forEach((w, i) => assert.deepEqual(w.dataSync(), before[i]));
  });

  it('names are required: the same architecture under other names is a clear error, never a load by order; strict: false loads the names that match', async () => {
    // Two same-shaped hidden layers: by the file's (name-sorted) order they could swap unnoticed.
    const build = (names: string[]) =>
      tf.sequential({
        layers: [
          tf.layers.dense({ units: 3, inputShape: [3], name: names[0]! }),
          tf.layers.dense({ units: 3, name: names[1]! }),
        ],
      });
    const source = build(['b_layer', 'a_layer']);
    const dir = await tempDir('tfjs-ckpt-st-');
    const tensors = source.weights.map((w) => ({ name: w.originalName, values: w.read().dataSync() as Float32Array, shape: w.shape as number[] }));
    // A safetensors file as the Python writer lays it out: data sorted by name.
    tensors.sort((a, b) => (a.name < b.name ? -1 : 1));
    let offset = 0;
    const header: Record<string, unknown> = {};
    for (const t of tensors) header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, (offset += t.values.byteLength)] };
    const json = Buffer.from(JSON.stringify(header));
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(json.length));
    await writeFile(join(dir, 'two.safetensors'), Buffer.concat([length, json, ...tensors.map((t) => Buffer.from(t.values.buffer, t.values.byteOffset, t.values.byteLength))]));

    const same = build(['b_layer', 'a_layer']);
    await loadWeights(same, join(dir, 'two.safetensors'));
    same.weights.forEach((w, i) => assert.deepEqual(w.read().dataSync(), source.weights[i]!.read().dataSync()));

    const renamed = build(['first', 'second']);
    const before = renamed.getWeights().map((w) => w.dataSync().slice());
    await assert.rejects(loadWeights(renamed, join(dir, 'two.safetensors')), isCode('WEIGHT_MISMATCH', /matched by name only.*missing from the file: first\/kernel/));
    renamed.getWeights().forEach((w, i) => assert.deepEqual(w.dataSync(), before[i]));

    const half = build(['b_layer', 'other']);
    await loadWeights(half, join(dir, 'two.safetensors'), { strict: false });
    assert.deepEqual(half.weights[0]!.read().dataSync(), source.weights[0]!.read().dataSync());
  });

  it('hostile files are clear CORRUPT_CHECKPOINT errors; unsupported dtypes say what loads', async () => {
    const dir = await tempDir('tfjs-ckpt-st-');
    const good = await readFile(join(FIXTURES, 'dense_bn.safetensors'));
    const headerLength = Number(good.readBigUInt64LE(0));
    const header = JSON.parse(good.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: number[] }>;
    const file = (h: unknown, data: Uint8Array) => {
      const json = Buffer.from(JSON.stringify(h));
      const length = Buffer.alloc(8);
      length.writeBigUInt64LE(BigInt(json.length));
      return Buffer.concat([length, json, data]);
    };
    const data = good.subarray(8 + headerLength);
    const first = Object.keys(header).find((k) => k !== '__metadata__')!;
    const cases: [string, Uint8Array, string, RegExp][] = [
      ['short.safetensors', good.subarray(0, 5), 'CORRUPT_CHECKPOINT', /shorter than the 8-byte header length/],
      ['truncated.safetensors', good.subarray(0, good.length - 3), 'CORRUPT_CHECKPOINT', /the tensors cover/],
      ['huge-header.safetensors', Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]), good.subarray(8)]), 'CORRUPT_CHECKPOINT', /header length/],
      ['not-json.safetensors', file('x', data).fill(0x7b, 8, 9), 'CORRUPT_CHECKPOINT', /not UTF-8 JSON|not a JSON object/],
      ['overlap.safetensors', file({ ...header, [first]: { ...header[first]!, data_offsets: [4, header[first]!.data_offsets[1]! + 4] } }, data), 'CORRUPT_CHECKPOINT', /do not tile|needs/],
      ['f64.safetensors', file({ ...header, [first]: { ...header[first]!, dtype: 'F64' } }, data), 'WEIGHT_MISMATCH', /F64.*F32, I32, BOOL, F16 and BF16/],
    ];
    for (const [name, bytes, code, pattern] of cases) {
      await writeFile(join(dir, name), bytes);
      const model = BUILD['dense_bn']!();
      await assert.rejects(loadWeights(model, join(dir, name)), isCode(code, pattern), name);
    }
    await assert.rejects(loadWeights(BUILD['dense_bn']!(), join(dir, 'absent.safetensors')), isCode('NOT_FOUND'));
  });

  it('reads through any store: s3://', { timeout: 60_000 }, async () => {
    const server = await startS3Server({ buckets: ['models'] });
    try {
      const client = server.client();
      await client.send(new PutObjectCommand({ Bucket: 'models', Key: 'hub/dense_bn.safetensors', Body: await readFile(join(FIXTURES, 'dense_bn.safetensors')) }));
      const scheme = `stinterop${process.pid}`;
      registerStore(scheme, new S3Store({ client }));
      const model = BUILD['dense_bn']!();
      await loadWeights(model, `${scheme}://models/hub/dense_bn.safetensors`);
      const e = await expected('dense_bn');
      const got = predict(model, e);
      assert.ok(Math.max(...e.output.values.map((v, i) => Math.abs(v - got[i]!))) <= 1e-5);
    } finally {
      await server.stop();
    }
  });
});
