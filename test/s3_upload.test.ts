/**
 * The S3 store's uploader (src/stores/s3_upload.ts) against a real S3 server: every object size
 * around the part boundaries, chunked every way (one chunk, many small ones, chunks that span parts),
 * arrives byte for byte with the right size and CRC-32; a part that fails aborts the upload. The same
 * for a file another store holds (`uploadFile`, a localCache upload): read into at most queueSize + 1
 * reused buffers, its CRC-32 taken from the file's own checksum where it has one.
 */
import { GetObjectCommand } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { crc32 } from '../src/index.js';
import { uploadFile, uploadObject } from '../src/stores/s3_upload.js';
import type { StoredFile } from '../src/stores/store.js';
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

  it('a file arrives intact at every size, read into at most queueSize + 1 reused buffers, its CRC-32 from its own checksum where it has one', { timeout: 120_000 }, async () => {
    const client = server.client();
    let n = 0;
    for (const size of [0, 1, PART - 1, PART, PART + 1, 2 * PART, 5 * PART + 3]) {
      const data = bytes(size, size + 7);
      for (const offThread of [false, true, 'not now'] as const) {
        const buffers = new Set<ArrayBufferLike>();
        let checksums = 0;
        const file: StoredFile = {
          size,
          read: async (dest, offset, length, position) => {
            buffers.add(dest.buffer);
            dest.set(data.subarray(position, position + length), offset);
          },
          ...(offThread
            ? {
                checksum: async () => {
                  checksums += 1;
                  // 'not now': the file cannot be checksummed off this thread after all; the uploader reads it again.
                  return offThread === true ? { size, crc32: crc32(data) } : undefined;
                },
              }
            : {}),
        };
        const key = `file-${++n}`;
        const totals = { size: -1, crc32: -1 };
        await uploadFile({ client, bucket: 'up', key, partSize: PART, queueSize: 2 }, file, totals);
        const label = `${size} bytes, checksum ${offThread}`;
        assert.deepEqual(totals, { size, crc32: crc32(data) }, label);
        assert.deepEqual(await stored(key), data, label);
        assert.equal(checksums, offThread ? 1 : 0, label);
        if (size > PART) assert.ok(buffers.size <= (offThread === 'not now' ? 4 : 3), `${label}: ${buffers.size} buffers`);
      }
    }
  });

  for (const source of ['chunks', 'a file'] as const) {
    it(`a part that fails aborts the upload and rejects (from ${source})`, { timeout: 60_000 }, async () => {
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
      const data = bytes(3 * PART, 9);
      const target = { client, bucket: 'up', key: `failing-${source}`, partSize: PART, queueSize: 1 };
      const file: StoredFile = { size: data.byteLength, read: async (dest, offset, length, position) => void dest.set(data.subarray(position, position + length), offset) };
      const totals = { size: 0, crc32: 0 };
      await assert.rejects(source === 'chunks' ? uploadObject(target, chunked(data, [PART]), totals) : uploadFile(target, file, totals), /part refused/);
      assert.ok(sent.includes('AbortMultipartUploadCommand'), sent.join(', '));
      assert.ok(!sent.includes('CompleteMultipartUploadCommand'));
    });
  }
});
