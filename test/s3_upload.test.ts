/**
 * The S3 store's uploader (src/stores/s3_upload.ts) against a real S3 server: every object size
 * around the part boundaries, chunked every way (one chunk, many small ones, chunks that span parts),
 * arrives byte for byte with the right size and CRC-32; a part that fails aborts the upload.
 */
import { GetObjectCommand } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { crc32 } from '../src/index.js';
import { uploadObject } from '../src/stores/s3_upload.js';
import { startS3Server, type S3TestServer } from './stores/s3_server.js';

const PART = 5 * 1024 * 1024;
let server: S3TestServer;
before(async () => {
  server = await startS3Server({ buckets: ['up'] });
});
after(async () => {
  await server.stop();
});

function bytes(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed * 2654435761;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** `data` cut into chunks of the given sizes, repeated until it is used up. */
function* chunked(data: Uint8Array, sizes: number[]): Generator<Uint8Array> {
  let at = 0;
  for (let i = 0; at < data.byteLength; i++) {
    const end = Math.min(data.byteLength, at + sizes[i % sizes.length]!);
    yield data.subarray(at, end);
    at = end;
  }
}

async function stored(key: string): Promise<Uint8Array> {
  const r = await server.client().send(new GetObjectCommand({ Bucket: 'up', Key: key }));
  return r.Body!.transformToByteArray();
}

describe('S3 uploads', () => {
  it('every size around the part boundaries arrives intact, however it is chunked', { timeout: 120_000 }, async () => {
    const client = server.client();
    const sizes = [0, 1, PART - 1, PART, PART + 1, 2 * PART, 2 * PART + 3];
    const chunkings: [string, number[]][] = [
      ['one chunk', [Number.MAX_SAFE_INTEGER]],
      ['small chunks', [65_536]],
      ['a small chunk before each large one', [1000, 3 * PART + 17]],
      ['chunks across part boundaries', [PART - 7, 11, PART + 5]],
    ];
    let n = 0;
    for (const size of sizes) {
      const data = bytes(size, size + 1);
      for (const [label, pattern] of chunkings) {
        const key = `obj-${++n}`;
        const totals = { size: 0, crc32: 0 };
        await uploadObject({ client, bucket: 'up', key, partSize: PART, queueSize: 2 }, chunked(data, pattern), totals);
        assert.equal(totals.size, size, `${label}, ${size} bytes: size`);
        assert.equal(totals.crc32, crc32(data), `${label}, ${size} bytes: CRC-32`);
        assert.deepEqual(await stored(key), data, `${label}, ${size} bytes: the stored object`);
      }
    }
  });

  it('a part that fails aborts the upload and rejects', { timeout: 60_000 }, async () => {
    const client = server.client();
    const sent: string[] = [];
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const name = (context as { commandName?: string }).commandName ?? '';
        sent.push(name);
        if (name === 'UploadPartCommand' && sent.filter((c) => c === name).length === 2) {
          throw Object.assign(new Error('injected: part refused'), { $metadata: { httpStatusCode: 400 } });
        }
        return next(args);
      },
      { step: 'initialize', name: 'failSecondPart' },
    );
    await assert.rejects(uploadObject({ client, bucket: 'up', key: 'failing', partSize: PART, queueSize: 1 }, chunked(bytes(3 * PART, 9), [PART]), { size: 0, crc32: 0 }), /part refused/);
    assert.ok(sent.includes('AbortMultipartUploadCommand'), sent.join(', '));
    assert.ok(!sent.includes('CompleteMultipartUploadCommand'));
  });
});
