/**
 * The S3 test server (s3_server.ts) and the quirks of s3rver 3.7.1 with the AWS SDK v3, each
 * recorded as a test. "Quirk" tests assert what s3rver does today, including where real S3
 * differs (the comment says how), so an s3rver upgrade that changes behaviour shows up here.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type GetObjectCommandOutput,
  type ListObjectsV2CommandOutput,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import assert from 'node:assert/strict';
import { createCipheriv, createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, afterEach, before, describe, it } from 'node:test';
import { S3RVER_CREDENTIALS, startS3Server, type S3TestServer } from './s3_server.js';

const B = 'bucket';
const MiB = 1024 * 1024;

type SdkError = Error & {
  Code?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number; attempts?: number; totalRetryDelay?: number };
};

async function rejection(p: Promise<unknown>): Promise<SdkError> {
  try {
    await p;
  } catch (err) {
    return err as SdkError;
  }
  assert.fail('expected the request to fail');
}

const md5 = (b: Uint8Array | string) => createHash('md5').update(b).digest('hex');

async function getBytes(client: S3Client, Key: string, Range?: string): Promise<Buffer> {
  const out = await client.send(new GetObjectCommand({ Bucket: B, Key, Range }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

/** Deterministic pseudo-random bytes. */
function bytes(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

/** A stream of `count` chunks of `size` bytes of `fill`, `delayMs` apart; `onChunk(i)` after chunk i is handed over. */
function slowStream(count: number, size: number, fill: number, delayMs: number, onChunk?: (i: number) => void): Readable {
  return Readable.from(
    (async function* () {
      for (let i = 0; i < count; i++) {
        yield Buffer.alloc(size, fill);
        onChunk?.(i);
        await new Promise((r) => setTimeout(r, delayMs));
      }
    })(),
  );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs fn with console.warn captured (the SDK warns there when it has no logger). */
async function withWarnings<T>(fn: () => Promise<T>): Promise<{ result: T; warnings: unknown[] }> {
  const warnings: unknown[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => void warnings.push(args[0]);
  try {
    return { result: await fn(), warnings };
  } finally {
    console.warn = warn;
  }
}

const NON_RETRYABLE_STREAM_WARNING = 'An error was encountered in a non-retryable streaming request.';

describe('S3 test server harness', () => {
  it('starts on a free port with the default bucket, and stop() removes its directory (idempotently)', async () => {
    const t0 = Date.now();
    const server = await startS3Server();
    const startMs = Date.now() - t0;
    try {
      assert.ok(server.port > 0);
      assert.equal(server.endpoint, `http://127.0.0.1:${server.port}`);
      assert.ok(statSync(join(server.directory, 'bucket')).isDirectory());
      const c = server.client();
      await c.send(new PutObjectCommand({ Bucket: 'bucket', Key: 'k', Body: 'v' }));
      assert.equal((await c.send(new ListObjectsV2Command({ Bucket: 'bucket' }))).KeyCount, 1);
      assert.ok(startMs < 10_000, `start took ${startMs} ms`);
    } finally {
      await server.stop();
      await server.stop();
    }
    assert.equal(existsSync(server.directory), false);
  });

  it('creates the given buckets, and two servers run side by side', async () => {
    const [one, two] = await Promise.all([startS3Server({ buckets: ['a', 'b'] }), startS3Server({ buckets: [] })]);
    try {
      assert.notEqual(one.port, two.port);
      assert.deepEqual(readdirSync(one.directory).sort(), ['a', 'b']);
      assert.deepEqual(readdirSync(two.directory), []);
      const err = await rejection(two.client().send(new PutObjectCommand({ Bucket: 'a', Key: 'k', Body: 'v' })));
      assert.equal(err.name, 'NoSuchBucket');
      await one.client().send(new PutObjectCommand({ Bucket: 'b', Key: 'k', Body: 'v' }));
    } finally {
      await Promise.all([one.stop(), two.stop()]);
    }
  });
});

describe('s3rver 3.7.1 with the AWS SDK v3', { timeout: 60_000 }, () => {
  let server: S3TestServer;
  let c: S3Client;
  before(async () => {
    server = await startS3Server();
    c = server.client();
  });
  after(() => server.stop());

  it('put/get round-trips bytes exactly; missing keys are NoSuchKey 404', async () => {
    const data = bytes(100_000, 7);
    const put = await c.send(new PutObjectCommand({ Bucket: B, Key: 'rt/one', Body: data }));
    assert.equal(put.ETag, `"${md5(data)}"`);
    assert.ok((await getBytes(c, 'rt/one')).equals(data));
    const err = await rejection(c.send(new GetObjectCommand({ Bucket: B, Key: 'rt/missing' })));
    assert.equal(err.name, 'NoSuchKey');
    assert.equal(err.$metadata?.httpStatusCode, 404);
  });

  it('user metadata comes back on HeadObject and GetObject (keys lower-cased, as on S3)', async () => {
    await c.send(
      new PutObjectCommand({ Bucket: B, Key: 'meta', Body: 'x', Metadata: { generation: 'abc', MixedCase: 'V' }, ContentType: 'application/json' }),
    );
    const head = await c.send(new HeadObjectCommand({ Bucket: B, Key: 'meta' }));
    assert.deepEqual(head.Metadata, { generation: 'abc', mixedcase: 'V' });
    assert.equal(head.ContentType, 'application/json');
    const get = await c.send(new GetObjectCommand({ Bucket: B, Key: 'meta' }));
    await get.Body!.transformToString();
    assert.deepEqual(get.Metadata, { generation: 'abc', mixedcase: 'V' });
  });

  it('ranged GET: bytes=5-9, open-ended and clamped ranges; unsatisfiable is InvalidRange 416', async () => {
    await c.send(new PutObjectCommand({ Bucket: B, Key: 'range', Body: '0123456789abcdef' }));
    const r = await c.send(new GetObjectCommand({ Bucket: B, Key: 'range', Range: 'bytes=5-9' }));
    assert.equal(r.$metadata.httpStatusCode, 206);
    assert.equal(r.ContentRange, 'bytes 5-9/16');
    assert.equal(r.ContentLength, 5);
    assert.equal(await r.Body!.transformToString(), '56789');
    assert.equal((await getBytes(c, 'range', 'bytes=10-')).toString(), 'abcdef');
    assert.equal((await getBytes(c, 'range', 'bytes=10-100')).toString(), 'abcdef');
    const err = await rejection(c.send(new GetObjectCommand({ Bucket: B, Key: 'range', Range: 'bytes=20-30' })));
    assert.equal(err.name, 'InvalidRange');
    assert.equal(err.$metadata?.httpStatusCode, 416);
  });

  it('QUIRK: a suffix range (bytes=-N) is read as bytes=0-N (S3: the last N bytes)', async () => {
    await c.send(new PutObjectCommand({ Bucket: B, Key: 'range', Body: '0123456789abcdef' }));
    const r = await c.send(new GetObjectCommand({ Bucket: B, Key: 'range', Range: 'bytes=-4' }));
    assert.equal(r.ContentRange, 'bytes 0-4/16');
    assert.equal(await r.Body!.transformToString(), '01234'); // S3 would give 'cdef'
  });

  it('QUIRK: a range on an empty object gives 206 "bytes 0-0/0" with ContentLength 1 (S3: 416)', async () => {
    await c.send(new PutObjectCommand({ Bucket: B, Key: 'empty', Body: Buffer.alloc(0) }));
    assert.equal((await getBytes(c, 'empty')).length, 0);
    const r = await c.send(new GetObjectCommand({ Bucket: B, Key: 'empty', Range: 'bytes=0-9' }));
    assert.equal(r.$metadata.httpStatusCode, 206);
    assert.equal(r.ContentRange, 'bytes 0-0/0');
    assert.equal(r.ContentLength, 1);
    (r.Body as Readable).destroy(); // the body is shorter than announced: reading it would hang
  });

  it('HeadObject on a missing key: name NotFound, 404, no S3 error code (HEAD has no body); same for a missing bucket', async () => {
    const err = await rejection(c.send(new HeadObjectCommand({ Bucket: B, Key: 'no/such/key' })));
    assert.equal(err.name, 'NotFound');
    assert.equal(err.$metadata?.httpStatusCode, 404);
    assert.equal(err.$metadata?.attempts, 1);
    const bucketErr = await rejection(c.send(new HeadObjectCommand({ Bucket: 'nobucket', Key: 'k' })));
    assert.equal(bucketErr.name, 'NotFound'); // indistinguishable from a missing key
    assert.equal(bucketErr.$metadata?.httpStatusCode, 404);
  });

  it('a missing bucket is NoSuchBucket 404 for GET, PUT and LIST (not retried)', async () => {
    for (const cmd of [
      new GetObjectCommand({ Bucket: 'nobucket', Key: 'k' }),
      new PutObjectCommand({ Bucket: 'nobucket', Key: 'k', Body: 'v' }),
      new ListObjectsV2Command({ Bucket: 'nobucket' }),
    ]) {
      const err = await rejection(c.send(cmd as GetObjectCommand));
      assert.equal(err.name, 'NoSuchBucket');
      assert.equal(err.Code, 'NoSuchBucket');
      assert.equal(err.$metadata?.httpStatusCode, 404);
      assert.equal(err.$metadata?.attempts, 1);
    }
  });

  describe('ListObjectsV2', () => {
    const keys = ['list/a', 'list/b', 'list/c/1', 'list/c/2', 'list/d/1'];
    before(async () => {
      for (const Key of [...keys, 'listing-other', 'lisz']) await c.send(new PutObjectCommand({ Bucket: B, Key, Body: Key }));
    });

    it('with Prefix and no Delimiter: every key under the prefix, in order, with ETag/Size/LastModified', async () => {
      const out = await c.send(new ListObjectsV2Command({ Bucket: B, Prefix: 'list/' }));
      assert.deepEqual(out.Contents?.map((o) => o.Key), keys);
      assert.equal(out.IsTruncated, false);
      assert.equal(out.KeyCount, 5);
      const first = out.Contents![0]!;
      assert.equal(first.ETag, `"${md5('list/a')}"`);
      assert.equal(first.Size, 6);
      assert.ok(first.LastModified instanceof Date);
      assert.equal(out.CommonPrefixes, undefined);
    });

    it('with Prefix and Delimiter: direct keys plus CommonPrefixes', async () => {
      const out = await c.send(new ListObjectsV2Command({ Bucket: B, Prefix: 'list/', Delimiter: '/' }));
      assert.deepEqual(out.Contents?.map((o) => o.Key), ['list/a', 'list/b']);
      assert.deepEqual(out.CommonPrefixes?.map((p) => p.Prefix), ['list/c/', 'list/d/']);
    });

    it('QUIRK: with Delimiter, a folder whose keys all lie two or more levels down is left out of CommonPrefixes (S3: listed)', async () => {
      await c.send(new PutObjectCommand({ Bucket: B, Key: 'deep/x/y/z', Body: 'z' }));
      await c.send(new PutObjectCommand({ Bucket: B, Key: 'deep/w/v', Body: 'v' }));
      const out = await c.send(new ListObjectsV2Command({ Bucket: B, Prefix: 'deep/', Delimiter: '/' }));
      assert.deepEqual(out.CommonPrefixes?.map((p) => p.Prefix), ['deep/w/']); // S3: ['deep/w/', 'deep/x/']
    });

    it('paginates with MaxKeys: 2 over 5 keys via ContinuationToken (needs the legacy OpenSSL provider, which the harness child has)', async () => {
      const pages: string[][] = [];
      let token: string | undefined;
      do {
        const out: ListObjectsV2CommandOutput = await c.send(
          new ListObjectsV2Command({ Bucket: B, Prefix: 'list/', MaxKeys: 2, ContinuationToken: token }),
        );
        pages.push((out.Contents ?? []).map((o) => o.Key!));
        assert.equal(out.IsTruncated, out.NextContinuationToken !== undefined);
        token = out.NextContinuationToken;
      } while (token && pages.length < 10);
      assert.deepEqual(pages, [
        ['list/a', 'list/b'],
        ['list/c/1', 'list/c/2'],
        ['list/d/1'],
      ]);
    });

    it('QUIRK: with Delimiter and MaxKeys, CommonPrefixes do not count toward MaxKeys and repeat on later pages', async () => {
      for (const Key of ['dl/a', 'dl/b', 'dl/c/1', 'dl/d/1', 'dl/e']) await c.send(new PutObjectCommand({ Bucket: B, Key, Body: Key }));
      const first = await c.send(new ListObjectsV2Command({ Bucket: B, Prefix: 'dl/', Delimiter: '/', MaxKeys: 2 }));
      assert.deepEqual(first.Contents?.map((o) => o.Key), ['dl/a', 'dl/b']);
      assert.deepEqual(first.CommonPrefixes?.map((p) => p.Prefix), ['dl/c/', 'dl/d/']); // S3: at most MaxKeys entries in all
      assert.equal(first.KeyCount, 2);
      assert.equal(first.IsTruncated, true);
      const second = await c.send(
        new ListObjectsV2Command({ Bucket: B, Prefix: 'dl/', Delimiter: '/', MaxKeys: 2, ContinuationToken: first.NextContinuationToken }),
      );
      assert.deepEqual(second.Contents?.map((o) => o.Key), ['dl/e']);
      assert.deepEqual(second.CommonPrefixes?.map((p) => p.Prefix), ['dl/c/', 'dl/d/']); // again (S3: each prefix once)
      assert.equal(second.IsTruncated, false);
      // Which page carries a prefix depends on where the walk stopped: with MaxKeys 1 page 1 has none.
      const one = await c.send(new ListObjectsV2Command({ Bucket: B, Prefix: 'dl/', Delimiter: '/', MaxKeys: 1 }));
      assert.deepEqual(one.Contents?.map((o) => o.Key), ['dl/a']);
      assert.equal(one.CommonPrefixes, undefined);
    });

    it('without the legacy OpenSSL provider, any truncated listing fails: 500 InternalError, retried 3 times', async (t) => {
      let desWorks = true;
      try {
        createCipheriv('des', Buffer.alloc(8), Buffer.alloc(8));
      } catch {
        desWorks = false;
      }
      if (desWorks) {
        t.skip('this process has the legacy OpenSSL provider (NODE_OPTIONS?), so it cannot show the failure');
        return;
      }
      // s3rver in this process, which was started without --openssl-legacy-provider.
      const S3rver = createRequire(import.meta.url)('s3rver') as new (o: object) => {
        run(): Promise<{ port: number }>;
        close(): Promise<void>;
      };
      const directory = await mkdtemp(join(tmpdir(), 's3rver-inproc-'));
      const inproc = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: [{ name: B }] });
      const { port } = await inproc.run();
      const ic = new S3Client({
        endpoint: `http://127.0.0.1:${port}`,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { ...S3RVER_CREDENTIALS },
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      });
      try {
        for (const Key of keys) await ic.send(new PutObjectCommand({ Bucket: B, Key, Body: Key }));
        // Untruncated listings and StartAfter work ...
        assert.equal((await ic.send(new ListObjectsV2Command({ Bucket: B, MaxKeys: 5 }))).KeyCount, 5);
        assert.equal((await ic.send(new ListObjectsV2Command({ Bucket: B, StartAfter: 'list/c/2' }))).KeyCount, 1);
        // ... but the first page of a paginated listing must mint a token (DES) and fails.
        const err = await rejection(ic.send(new ListObjectsV2Command({ Bucket: B, MaxKeys: 2 })));
        assert.equal(err.name, 'InternalError');
        assert.equal(err.$metadata?.httpStatusCode, 500);
        assert.equal(err.$metadata?.attempts, 3);
        // A token from elsewhere (the harness server, which has the provider) cannot be read either.
        const token = (await c.send(new ListObjectsV2Command({ Bucket: B, Prefix: 'list/', MaxKeys: 2 }))).NextContinuationToken;
        const err2 = await rejection(ic.send(new ListObjectsV2Command({ Bucket: B, ContinuationToken: token })));
        assert.equal(err2.name, 'InternalError');
      } finally {
        ic.destroy();
        await inproc.close();
        await rm(directory, { recursive: true, force: true });
      }
    });
  });

  it('DeleteObject (also of a missing key: 204) and DeleteObjects in a batch (missing keys reported as Deleted)', async () => {
    for (const Key of ['del/1', 'del/2', 'del/3']) await c.send(new PutObjectCommand({ Bucket: B, Key, Body: Key }));
    const one = await c.send(new DeleteObjectCommand({ Bucket: B, Key: 'del/1' }));
    assert.equal(one.$metadata.httpStatusCode, 204);
    const missing = await c.send(new DeleteObjectCommand({ Bucket: B, Key: 'del/none' }));
    assert.equal(missing.$metadata.httpStatusCode, 204);
    const batch = await c.send(
      new DeleteObjectsCommand({ Bucket: B, Delete: { Objects: [{ Key: 'del/2' }, { Key: 'del/3' }, { Key: 'del/none' }] } }),
    );
    assert.deepEqual(batch.Deleted?.map((d) => d.Key).sort(), ['del/2', 'del/3', 'del/none']);
    assert.equal(batch.Errors, undefined);
    assert.equal((await c.send(new ListObjectsV2Command({ Bucket: B, Prefix: 'del/' }))).KeyCount, 0);
  });

  it('multipart Upload (lib-storage) of 12 MiB in 5 MiB parts from a stream reads back byte-exact; QUIRK: the ETag is the plain MD5', async (t) => {
    const data = bytes(12 * MiB, 3);
    const body = Readable.from(
      (function* () {
        for (let i = 0; i < data.length; i += 64 * 1024) yield data.subarray(i, i + 64 * 1024);
      })(),
    );
    const t0 = Date.now();
    const parts: number[] = [];
    const upload = new Upload({ client: c, params: { Bucket: B, Key: 'mp/big', Body: body }, partSize: 5 * MiB });
    upload.on('httpUploadProgress', (p) => {
      if (p.part !== undefined) parts.push(p.part);
    });
    const result = await upload.done();
    t.diagnostic(`12 MiB multipart upload: ${Date.now() - t0} ms`);
    assert.deepEqual([...new Set(parts)].sort(), [1, 2, 3]);
    // S3 gives "<md5 of the part md5s>-3"; s3rver the MD5 of the whole object.
    assert.equal(result.ETag, `"${md5(data)}"`);
    const back = await getBytes(c, 'mp/big');
    assert.equal(back.length, data.length);
    assert.ok(back.equals(data));
  });

  it('QUIRK: AbortMultipartUpload and ListParts are 405 MethodNotAllowed; the "aborted" upload can still be completed', async () => {
    const { UploadId } = await c.send(new CreateMultipartUploadCommand({ Bucket: B, Key: 'mp/aborted' }));
    const part = await c.send(new UploadPartCommand({ Bucket: B, Key: 'mp/aborted', UploadId, PartNumber: 1, Body: Buffer.alloc(100, 1) }));
    for (const cmd of [
      new AbortMultipartUploadCommand({ Bucket: B, Key: 'mp/aborted', UploadId }),
      new ListPartsCommand({ Bucket: B, Key: 'mp/aborted', UploadId }),
    ]) {
      const err = await rejection(c.send(cmd as AbortMultipartUploadCommand));
      assert.equal(err.name, 'MethodNotAllowed');
      assert.equal(err.$metadata?.httpStatusCode, 405);
    }
    assert.ok(existsSync(join(server.directory, B, '._S3rver_uploads', UploadId!)), 'parts stay on disk');
    // Part ETags are not checked on completion either.
    await c.send(
      new CompleteMultipartUploadCommand({
        Bucket: B,
        Key: 'mp/aborted',
        UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: '"not-the-etag"' }] },
      }),
    );
    assert.equal(part.ETag, `"${md5(Buffer.alloc(100, 1))}"`);
    assert.ok((await getBytes(c, 'mp/aborted')).equals(Buffer.alloc(100, 1)));
  });

  it("QUIRK: lib-storage Upload.abort() rejects done() with AbortError at once; its AbortMultipartUpload fails (405), parts stay", { timeout: 60_000 }, async () => {
    // A client that reports the status lib-storage's AbortMultipartUpload got (it is sent after done() rejects).
    const client = server.client();
    let abortAnswered!: (status: number | undefined) => void;
    const abortStatus = new Promise<number | undefined>((r) => (abortAnswered = r));
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'AbortMultipartUploadCommand') return next(args);
        try {
          const out = await next(args);
          abortAnswered((out.output as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode);
          return out;
        } catch (e) {
          abortAnswered((e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode);
          throw e;
        }
      },
      { step: 'initialize', name: 'abortStatus' },
    );
    const upload = new Upload({ client, params: { Bucket: B, Key: 'mp/abort-me', Body: slowStream(12, MiB, 9, 30) }, partSize: 5 * MiB });
    // Once a part is in (so the multipart upload exists), however slow the machine.
    upload.once('httpUploadProgress', () => void upload.abort());
    const err = await rejection(upload.done());
    assert.equal(err.name, 'AbortError');
    assert.equal(err.message, 'Upload aborted.');
    assert.equal(await abortStatus, 405);
    const uploads = join(server.directory, B, '._S3rver_uploads');
    const left = readdirSync(uploads).filter((id) => existsSync(join(uploads, id, 'key')));
    assert.ok(left.length >= 1, 'the multipart upload is still there');
    await assert.rejects(c.send(new HeadObjectCommand({ Bucket: B, Key: 'mp/abort-me' })), { name: 'NotFound' });
  });

  it('QUIRK: conditional writes are ignored: PutObject with IfNoneMatch "*" or a wrong IfMatch overwrites (S3: 412)', async () => {
    await c.send(new PutObjectCommand({ Bucket: B, Key: 'cond', Body: 'v1' }));
    const p2 = await c.send(new PutObjectCommand({ Bucket: B, Key: 'cond', Body: 'v2', IfNoneMatch: '*' }));
    assert.equal(p2.$metadata.httpStatusCode, 200);
    assert.equal((await getBytes(c, 'cond')).toString(), 'v2');
    const p3 = await c.send(new PutObjectCommand({ Bucket: B, Key: 'cond', Body: 'v3', IfMatch: '"0123456789abcdef0123456789abcdef"' }));
    assert.equal(p3.$metadata.httpStatusCode, 200);
    assert.equal((await getBytes(c, 'cond')).toString(), 'v3');
    // Reads: If-Match is ignored too; If-None-Match "*" gives a 304 the SDK reports as name "Unknown".
    const g = await c.send(new GetObjectCommand({ Bucket: B, Key: 'cond', IfMatch: '"0123456789abcdef0123456789abcdef"' }));
    assert.equal(await g.Body!.transformToString(), 'v3');
    const notModified = await rejection(c.send(new GetObjectCommand({ Bucket: B, Key: 'cond', IfNoneMatch: '*' })));
    assert.equal(notModified.$metadata?.httpStatusCode, 304);
  });

  it('QUIRK: credentials: only the access key id is checked (V4 signatures are not verified)', async () => {
    const client = (credentials: { accessKeyId: string; secretAccessKey: string }) =>
      new S3Client({
        endpoint: server.endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials,
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      });
    await c.send(new PutObjectCommand({ Bucket: B, Key: 'cred', Body: 'v' }));
    const wrongSecret = client({ accessKeyId: 'S3RVER', secretAccessKey: 'wrong' });
    const unknownKey = client({ accessKeyId: 'AKIANOTKNOWN', secretAccessKey: 'S3RVER' });
    try {
      assert.equal((await getBytes(wrongSecret, 'cred')).toString(), 'v');
      const err = await rejection(unknownKey.send(new GetObjectCommand({ Bucket: B, Key: 'cred' })));
      assert.equal(err.name, 'InvalidAccessKeyId');
      assert.equal(err.$metadata?.httpStatusCode, 403);
      const headErr = await rejection(unknownKey.send(new HeadObjectCommand({ Bucket: B, Key: 'cred' })));
      assert.equal(headErr.name, 'Unknown'); // no body on HEAD: only the 403 is left
      assert.equal(headErr.$metadata?.httpStatusCode, 403);
    } finally {
      wrongSecret.destroy();
      unknownKey.destroy();
    }
  });

  it("QUIRK: with the SDK's default checksums, a streamed PutObject stores the aws-chunked framing as the object", async () => {
    const defaults = new S3Client({ endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { ...S3RVER_CREDENTIALS } });
    try {
      const stream = () => Readable.from([Buffer.from('hello world')]);
      await defaults.send(new PutObjectCommand({ Bucket: B, Key: 'chunked', Body: stream(), ContentLength: 11 }));
      const got = await c.send(new GetObjectCommand({ Bucket: B, Key: 'chunked' }));
      assert.equal(got.ContentEncoding, 'aws-chunked');
      const text = await got.Body!.transformToString();
      assert.match(text, /^b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:[A-Za-z0-9+/=]+\r\n\r\n$/);
      // A Buffer body is sent with a checksum header instead and stored intact, even by the default client.
      await defaults.send(new PutObjectCommand({ Bucket: B, Key: 'chunked-buf', Body: Buffer.from('hello world') }));
      assert.equal((await getBytes(defaults, 'chunked-buf')).toString(), 'hello world');
      // With WHEN_REQUIRED (the harness client) a stream is stored intact.
      await c.send(new PutObjectCommand({ Bucket: B, Key: 'plain', Body: stream(), ContentLength: 11 }));
      const plain = await c.send(new GetObjectCommand({ Bucket: B, Key: 'plain' }));
      assert.equal(plain.ContentEncoding, undefined);
      assert.equal(await plain.Body!.transformToString(), 'hello world');
    } finally {
      defaults.destroy();
    }
  });

  it('ETag is the MD5 hex: identical bytes give the same ETag, different bytes a new one; LastModified has 1 s resolution', async () => {
    const a1 = await c.send(new PutObjectCommand({ Bucket: B, Key: 'etag', Body: 'same' }));
    const h1 = await c.send(new HeadObjectCommand({ Bucket: B, Key: 'etag' }));
    const a2 = await c.send(new PutObjectCommand({ Bucket: B, Key: 'etag', Body: 'same' }));
    const a3 = await c.send(new PutObjectCommand({ Bucket: B, Key: 'etag', Body: 'different' }));
    const h3 = await c.send(new HeadObjectCommand({ Bucket: B, Key: 'etag' }));
    assert.equal(a1.ETag, `"${md5('same')}"`);
    assert.equal(a2.ETag, a1.ETag);
    assert.equal(a3.ETag, `"${md5('different')}"`);
    assert.equal(h3.ETag, a3.ETag);
    assert.equal(h1.LastModified!.getTime() % 1000, 0);
    assert.equal(h3.LastModified!.getTime() % 1000, 0);
    assert.ok(h3.LastModified!.getTime() >= h1.LastModified!.getTime()); // often equal: not an order
    await sleep(1100 - (Date.now() % 1000)); // into the next second
    await c.send(new PutObjectCommand({ Bucket: B, Key: 'etag', Body: 'different' }));
    const h4 = await c.send(new HeadObjectCommand({ Bucket: B, Key: 'etag' }));
    assert.equal(h4.ETag, a3.ETag); // same bytes, same ETag ...
    assert.ok(h4.LastModified!.getTime() > h3.LastModified!.getTime()); // ... but a newer LastModified
  });

  it('QUIRK: a PUT the client aborts leaves a truncated object behind, with the old ETag (S3: the old object stays)', async () => {
    const old = Buffer.alloc(MiB, 1);
    const { ETag: oldETag } = await c.send(new PutObjectCommand({ Bucket: B, Key: 'torn', Body: old }));
    const ac = new AbortController();
    const body = slowStream(16, 64 * 1024, 2, 20, (i) => {
      if (i === 7) setTimeout(() => ac.abort(), 50);
    });
    const { result: err, warnings } = await withWarnings(() =>
      rejection(c.send(new PutObjectCommand({ Bucket: B, Key: 'torn', Body: body, ContentLength: MiB }), { abortSignal: ac.signal })),
    );
    assert.equal(err.name, 'AbortError');
    assert.deepEqual(warnings, [NON_RETRYABLE_STREAM_WARNING]);
    // Until the server has finished with the aborted request (its file no longer the old object's bytes).
    let got: GetObjectCommandOutput;
    let content: Buffer;
    for (let tries = 0; ; tries++) {
      got = await c.send(new GetObjectCommand({ Bucket: B, Key: 'torn' }));
      content = Buffer.from(await got.Body!.transformToByteArray());
      if (!content.equals(old) || tries === 200) break;
      await sleep(50);
    }
    assert.ok(content.length > 0 && content.length < MiB, `length ${content.length}`);
    assert.ok(content.every((x) => x === 2), 'only new bytes');
    assert.equal(got.ETag, oldETag); // stale: not the MD5 of what is served
    assert.notEqual(got.ETag, `"${md5(content)}"`);
  });

  it('QUIRK: concurrent PUTs to one key interleave in one file (S3: one of them wins whole)', async () => {
    let startB!: () => void;
    const bStarts = new Promise<void>((r) => (startB = r));
    const aBody = slowStream(32, 64 * 1024, 0x41, 10, (i) => {
      if (i === 15) startB();
    });
    const putA = c.send(new PutObjectCommand({ Bucket: B, Key: 'race', Body: aBody, ContentLength: 2 * MiB }));
    await bStarts;
    await sleep(30);
    const bData = Buffer.alloc(512 * 1024, 0x42);
    await c.send(new PutObjectCommand({ Bucket: B, Key: 'race', Body: bData }));
    await putA;
    const got = await c.send(new GetObjectCommand({ Bucket: B, Key: 'race' }));
    const content = Buffer.from(await got.Body!.transformToByteArray());
    assert.equal(content[0], 0x42, 'starts with B');
    assert.equal(content[content.length - 1], 0x41, 'ends with A');
    assert.equal(got.ETag, `"${md5(Buffer.alloc(2 * MiB, 0x41))}"`); // A finished last: its MD5, not the content's
    assert.notEqual(got.ETag, `"${md5(content)}"`);
  });

  it("QUIRK: a key with an empty path segment ('a//b') is a bare 404 the SDK cannot parse", async () => {
    const err = await rejection(c.send(new PutObjectCommand({ Bucket: B, Key: 'a//b', Body: 'v' })));
    assert.equal(err.$metadata?.httpStatusCode, 404);
    assert.match(err.message, /XML parse error|Deserialization/);
  });
});

describe('s3rver down (pause/resume)', { timeout: 60_000 }, () => {
  let server: S3TestServer;
  let c: S3Client;
  before(async () => {
    server = await startS3Server();
    c = server.client();
  });
  afterEach(() => server.resume()); // a no-op when running; keeps a failed test from taking the next ones down
  after(() => server.stop());

  it('a stopped server: ECONNREFUSED (name "Error"), 3 attempts within well under a second; resume() brings the data back on the same port', async (t) => {
    await c.send(new PutObjectCommand({ Bucket: B, Key: 'kept', Body: 'v' }));
    const port = server.port;
    await server.pause();
    const fresh = server.client();
    const t0 = Date.now();
    const err = await rejection(fresh.send(new HeadObjectCommand({ Bucket: B, Key: 'kept' })));
    const ms = Date.now() - t0;
    t.diagnostic(`ECONNREFUSED after ${ms} ms, attempts ${err.$metadata?.attempts}, totalRetryDelay ${err.$metadata?.totalRetryDelay} ms`);
    assert.equal(err.code, 'ECONNREFUSED');
    assert.equal(err.name, 'Error');
    assert.equal(err.$metadata?.attempts, 3);
    assert.equal(err.$metadata?.httpStatusCode, undefined);
    assert.ok(ms < 2000, `${ms} ms`);
    const r0 = Date.now();
    await server.resume();
    t.diagnostic(`resume: ${Date.now() - r0} ms`);
    assert.equal(server.port, port);
    assert.equal((await getBytes(c, 'kept')).toString(), 'v'); // the old client reconnects by itself
  });

  it("the SDK's retry quota runs out: after ~17 failed requests a client stops retrying (attempts 1)", async (t) => {
    await server.pause();
    const q = server.client();
    const attempts: number[] = [];
    const t0 = Date.now();
    for (let i = 0; i < 30; i++) attempts.push((await rejection(q.send(new HeadObjectCommand({ Bucket: B, Key: 'kept' })))).$metadata?.attempts ?? -1);
    t.diagnostic(`attempts per request: ${attempts.join(',')} (${Date.now() - t0} ms)`);
    assert.equal(attempts[0], 3);
    assert.equal(attempts[attempts.length - 1], 1);
    await server.resume();
  });

  it('QUIRK: killing the server during a PUT: the client sees ECONNRESET named "TimeoutError" (a streamed body is not retried); the object is left truncated with its old ETag', async () => {
    const old = Buffer.alloc(MiB, 1);
    const { ETag: oldETag } = await c.send(new PutObjectCommand({ Bucket: B, Key: 'torn', Body: old }));
    let paused: Promise<void> | undefined;
    const body = slowStream(16, 64 * 1024, 2, 20, (i) => {
      if (i === 7) paused = sleep(50).then(() => server.pause());
    });
    const { result: err, warnings } = await withWarnings(() =>
      rejection(c.send(new PutObjectCommand({ Bucket: B, Key: 'torn', Body: body, ContentLength: MiB }))),
    );
    await paused;
    assert.ok(['ECONNRESET', 'EPIPE'].includes(err.code!), `code ${err.code}`);
    assert.equal(err.name, 'TimeoutError');
    assert.equal(err.$metadata?.attempts, undefined); // thrown before the retry loop records attempts
    assert.deepEqual(warnings, [NON_RETRYABLE_STREAM_WARNING]);
    await server.resume();
    const got = await c.send(new GetObjectCommand({ Bucket: B, Key: 'torn' }));
    const content = Buffer.from(await got.Body!.transformToByteArray());
    assert.ok(content.length > 0 && content.length < MiB, `length ${content.length}`);
    assert.equal(got.ETag, oldETag);
  });

  it('killing the server during a lib-storage Upload: done() rejects with ECONNREFUSED after retries; the parts stay behind', async () => {
    const upload = new Upload({ client: c, params: { Bucket: B, Key: 'big', Body: slowStream(12, MiB, 5, 20) }, partSize: 5 * MiB });
    let sent = 0;
    let paused: Promise<void> | undefined;
    upload.on('httpUploadProgress', (p) => {
      sent = p.loaded ?? sent;
      if (!paused && sent > 2 * MiB) paused = server.pause();
    });
    const err = await rejection(upload.done());
    await paused;
    // Either the part's error or that of the AbortMultipartUpload lib-storage sends after it.
    assert.ok(['ECONNREFUSED', 'ECONNRESET', 'EPIPE'].includes(err.code!), `${err.name} ${err.code} ${err.message}`);
    await server.resume();
    await assert.rejects(c.send(new HeadObjectCommand({ Bucket: B, Key: 'big' })), { name: 'NotFound' });
    assert.ok(readdirSync(join(server.directory, B, '._S3rver_uploads')).length >= 1);
  });
});
