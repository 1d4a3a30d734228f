/**
 * The S3 store's uploader (src/stores/s3_upload.ts) against a real S3 server: every object size
 * around the part boundaries, chunked every way (one chunk, many small ones, chunks that span parts),
 * arrives byte for byte with the right size and CRC-32; a part that fails aborts the upload. The same
 * for a file another store holds (`uploadFile`, a localCache upload): read into at most queueSize + 1
 * reused buffers, its CRC-32 taken from the file's own checksum where it has one.
 * Each along three routes: the SDK sending bodies from the main thread; the upload thread
 * (s3_thread_body.ts, node/s3_send_thread.ts) sending them from shared memory or straight from the
 * file's descriptor, the main thread reading no byte of a file; and a thread that has gone after
 * the upload began (each body then read here and sent by the SDK).
 */
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { crc32 } from '../src/index.js';
import { threadSender } from '../src/node/s3_send_thread.js';
import { sendBodiesOnThread, type BodySender } from '../src/stores/s3_thread_body.js';
import { commandsOnThread, type S3Sender, type ThreadClient } from '../src/stores/s3_thread_calls.js';
import { SharedParts, uploadFile, uploadObject, type UploadTarget } from '../src/stores/s3_upload.js';
import type { StoredFile } from '../src/stores/store.js';
import { assertSameBytes } from './helpers.js';
import { S3RVER_CREDENTIALS, startS3Server, type S3TestServer } from './stores/s3_server.js';

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

type Route = 'main thread' | 'upload thread' | 'SDK on the upload thread' | 'thread gone';
const ROUTES: Route[] = ['main thread', 'upload thread', 'SDK on the upload thread', 'thread gone'];

/** Counts the shared part buffers an upload took. */
class CountedParts extends SharedParts {
  readonly made = new Set<ArrayBufferLike>();
  override take(): Uint8Array {
    const part = super.take();
    this.made.add(part.buffer);
    return part;
  }
}

interface Routed {
  /** What the upload sends its commands through. */
  client: S3Sender;
  /** The main thread's client (on the SDK route, only the fallback). */
  main: S3Client;
  thread?: NonNullable<UploadTarget['thread']> & { parts: CountedParts };
  /** How many bodies the thread sent. */
  sent: () => number;
  /** The commands sent, wherever they went. */
  commands: string[];
}

/**
 * A client and the target's thread for `route`. `failPart`: that UploadPart (counting from 1) is
 * refused (on the main thread by a step of the client's; on the SDK route by the server, the
 * thread's client having been sent to a bucket that does not exist).
 */
function routed(route: Route, queueSize: number, failPart?: number): Routed {
  const main = server.client();
  const commands: string[] = [];
  main.middlewareStack.add(
    (next, context) => async (args) => {
      const name = (context as { commandName?: string }).commandName ?? '';
      commands.push(name);
      if (name === 'UploadPartCommand' && commands.filter((c) => c === name).length === failPart) {
        throw Object.assign(new Error('injected: part refused'), { $metadata: { httpStatusCode: 400 } });
      }
      return next(args);
    },
    { step: 'initialize', name: 'recordAndFail' },
  );
  if (route === 'main thread') return { client: main, main, sent: () => 0, commands };
  let sent = 0;
  const sender: BodySender =
    route === 'thread gone'
      ? { available: () => true, sha256: async () => undefined, crc32: async () => undefined, send: async () => undefined }
      : { available: threadSender.available, sha256: threadSender.sha256, crc32: threadSender.crc32, send: (...a) => (sent++, threadSender.send(...a)) };
  sendBodiesOnThread(main, sender, { connectionMs: 10_000, socketMs: 60_000 });
  const thread = { sender, parts: new CountedParts(PART, queueSize + 2), filePartSize: PART };
  if (route !== 'SDK on the upload thread') return { client: main, main, thread, sent: () => sent, commands };
  const remote = threadSender.openClient!({
    config: { endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED', requestHandler: { connectionTimeout: 10_000, socketTimeout: 60_000 } },
    unsigned: 'https',
  })!;
  const counted: ThreadClient = {
    call: (command, input, credentials) => {
      commands.push(`${command}Command`);
      if (command === 'UploadPart' || command === 'PutObject') sent++;
      const refused = command === 'UploadPart' && commands.filter((c) => c === 'UploadPartCommand').length === failPart;
      return remote.call(command, refused ? { ...input, Bucket: 'no-such-bucket' } : input, credentials);
    },
  };
  return { client: commandsOnThread(main, counted), main, thread, sent: () => sent, commands };
}

async function stored(key: string): Promise<Uint8Array> {
  const r = await server.client().send(new GetObjectCommand({ Bucket: 'up', Key: key }));
  return r.Body!.transformToByteArray();
}

describe('S3 uploads', () => {
  for (const route of ROUTES)
  it(`every size around the part boundaries arrives intact, however it is chunked (${route})`, { timeout: 120_000 }, async () => {
    const { client, thread, sent } = routed(route, 2);
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
        const before = sent();
        await uploadObject({ client, bucket: 'up', key, partSize: PART, queueSize: 2, ...(thread ? { thread } : {}) }, chunked(data, pattern), totals);
        // (The SDK route sends an empty object's PutObject too.)
        if (route === 'upload thread' || route === 'SDK on the upload thread') assert.equal(sent() - before, route === 'upload thread' ? Math.ceil(size / PART) : Math.max(1, Math.ceil(size / PART)), `${label}, ${size} bytes: requests the thread sent`);
        assert.equal(totals.size, size, `${label}, ${size} bytes: size`);
        assert.equal(totals.crc32, crc32(data), `${label}, ${size} bytes: CRC-32`);
        assertSameBytes(await stored(key), data, `${label}, ${size} bytes: the stored object`);
      }
    }
    // Shared part buffers are reused from one upload to the next: at most queueSize + 2 in all.
    if (thread) assert.ok(thread.parts.made.size <= 4, `${thread.parts.made.size} shared part buffers`);
  });

  for (const route of ROUTES)
  it(`a file arrives intact at every size, read into at most queueSize + 1 reused buffers, its CRC-32 from its own checksum where it has one (${route})`, { timeout: 120_000 }, async () => {
    const { client, thread, sent } = routed(route, 2);
    const dir = mkdtempSync(join(tmpdir(), 'upload-file-'));
    let n = 0;
    for (const size of [0, 1, PART - 1, PART, PART + 1, 2 * PART, 5 * PART + 3]) {
      const data = bytes(size, size + 7);
      // The file also exists on disk, open: the upload thread reads it through this descriptor.
      writeFileSync(join(dir, 'f'), data);
      const handle = await open(join(dir, 'f'), 'r');
      for (const offThread of [false, true, 'not now'] as const) {
        const buffers = new Set<ArrayBufferLike>();
        let checksums = 0;
        let reads = 0;
        const file: StoredFile = {
          size,
          read: async (dest, offset, length, position) => {
            reads += 1;
            buffers.add(dest.buffer);
            dest.set(data.subarray(position, position + length), offset);
          },
          descriptor: () => handle.fd,
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
        const before = sent();
        await uploadFile({ client, bucket: 'up', key, partSize: PART, queueSize: 2, ...(thread ? { thread } : {}) }, file, totals);
        const label = `${size} bytes, checksum ${offThread}`;
        assert.deepEqual(totals, { size, crc32: crc32(data) }, label);
        assertSameBytes(await stored(key), data, label);
        assert.equal(checksums, offThread ? 1 : 0, label);
        // (A thread gone mid-upload leaves each part to be read here into its own buffer: a rare fallback.)
        if (size > PART && route !== 'thread gone') assert.ok(buffers.size <= (offThread === 'not now' ? 4 : 3), `${label}: ${buffers.size} buffers`);
        if (route === 'upload thread' || route === 'SDK on the upload thread') {
          assert.equal(sent() - before, Math.max(1, Math.ceil(size / PART)), `${label}: requests the thread sent`);
          // Not one byte of the file read on this thread: its checksum comes from its own off-thread
          // read, or from the upload thread's.
          assert.equal(reads, 0, `${label}: reads on the main thread`);
        }
      }
      await handle.close();
    }
    rmSync(dir, { recursive: true, force: true });
  });

  for (const route of ROUTES)
  for (const source of ['chunks', 'a file'] as const) {
    it(`a part that fails aborts the upload and rejects (from ${source}, ${route})`, { timeout: 60_000 }, async () => {
      const { client, thread, commands: sent } = routed(route, 1, 2);
      const data = bytes(3 * PART, 9);
      const target = { client, bucket: 'up', key: `failing-${source}`, partSize: PART, queueSize: 1, ...(thread ? { thread } : {}) };
      const dir = mkdtempSync(join(tmpdir(), 'upload-fail-'));
      writeFileSync(join(dir, 'f'), data);
      const handle = await open(join(dir, 'f'), 'r');
      const file: StoredFile = { size: data.byteLength, read: async (dest, offset, length, position) => void dest.set(data.subarray(position, position + length), offset), descriptor: () => handle.fd };
      const totals = { size: 0, crc32: 0 };
      try {
        await assert.rejects(
          source === 'chunks' ? uploadObject(target, chunked(data, [PART]), totals) : uploadFile(target, file, totals),
          // On the SDK route, the server's refusal as the thread's SDK reported it, its status kept; or,
          // when the server closed the connection while the body was still going out (s3rver answers
          // 100-continue for everything, then refuses), the SDK handler's write error.
          route === 'SDK on the upload thread'
            ? (e: { name?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number } }) =>
                (e.name === 'NoSuchBucket' && e.$metadata?.httpStatusCode === 404) || /EPIPE|ECONNRESET/.test(`${e.code} ${e.message}`)
            : /part refused/,
        );
      } finally {
        await handle.close();
        rmSync(dir, { recursive: true, force: true });
      }
      assert.ok(sent.includes('AbortMultipartUploadCommand'), sent.join(', '));
      assert.ok(!sent.includes('CompleteMultipartUploadCommand'));
    });
  }

  for (const route of ['upload thread', 'SDK on the upload thread'] as const)
  it(`over http, a body the upload thread sends is hashed into its signature: x-amz-content-sha256 is the SHA-256 of the bytes that arrived (${route})`, { timeout: 60_000 }, async () => {
    // A server that keeps what each PUT carried (s3rver does not check the hash).
    const arrived: { hash: string | undefined; body: Buffer }[] = [];
    const recorder = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        arrived.push({ hash: req.headers['x-amz-content-sha256'] as string | undefined, body: Buffer.concat(chunks) });
        res.writeHead(200, { ETag: '"e"' }).end();
      });
    });
    recorder.listen(0, '127.0.0.1');
    await once(recorder, 'listening');
    const endpoint = `http://127.0.0.1:${(recorder.address() as AddressInfo).port}`;
    const config = { endpoint, forcePathStyle: true, region: 'us-east-1', requestChecksumCalculation: 'WHEN_REQUIRED', maxAttempts: 1 } as const;
    const main = new S3Client({ ...config, credentials: S3RVER_CREDENTIALS });
    sendBodiesOnThread(main, threadSender, { connectionMs: 10_000, socketMs: 60_000 });
    const onThread = (unsigned: 'https' | 'never') => {
      const requestHandler = { connectionTimeout: 10_000, socketTimeout: 60_000 };
      return commandsOnThread(main, threadSender.openClient!({ config: { ...config, requestHandler }, unsigned })!);
    };
    const thread = { sender: threadSender, parts: new SharedParts(PART, 4), filePartSize: PART };
    const dir = mkdtempSync(join(tmpdir(), 'upload-hash-'));
    const data = bytes(PART - 3, 5);
    writeFileSync(join(dir, 'f'), data);
    const handle = await open(join(dir, 'f'), 'r');
    const file: StoredFile = { size: data.byteLength, read: async () => assert.fail('read on the main thread'), checksum: async () => ({ size: data.byteLength, crc32: crc32(data) }), descriptor: () => handle.fd };
    // (The SDK route: also a client whose bodies are never signed, signPayload: false.)
    const clients = route === 'upload thread' ? [main] : [onThread('https'), onThread('never')];
    try {
      for (const client of clients) {
        await uploadObject({ client, bucket: 'up', key: 'a', partSize: PART, queueSize: 2, thread }, chunked(data, [PART]), { size: 0, crc32: 0 });
        await uploadFile({ client, bucket: 'up', key: 'b', partSize: PART, queueSize: 2, thread }, file, { size: 0, crc32: 0 });
      }
    } finally {
      await handle.close();
      rmSync(dir, { recursive: true, force: true });
      main.destroy();
      recorder.close();
    }
    assert.equal(arrived.length, 2 * clients.length);
    for (const [i, { hash, body }] of arrived.entries()) {
      assertSameBytes(new Uint8Array(body), data, `request ${i + 1}`);
      assert.equal(hash, i < 2 ? createHash('sha256').update(data).digest('hex') : 'UNSIGNED-PAYLOAD', `request ${i + 1}`);
    }
  });

  it('through the upload thread, a large body waits for 100-continue: a server that refuses it at once gets no body and its answer is the error; the next upload goes through', { timeout: 60_000 }, async () => {
    let refuse = true;
    let bodiesRefused = 0;
    const take = (req: IncomingMessage, res: ServerResponse) => {
      req.resume();
      req.on('end', () => res.writeHead(200, { ETag: '"e"' }).end());
    };
    const server = createServer(take);
    // As S3 does: a request it refuses is answered at once, without '100 Continue' and without its body.
    server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
      if (!refuse) {
        res.writeContinue();
        return take(req, res);
      }
      bodiesRefused++;
      res.writeHead(403, { 'Content-Type': 'application/xml', Connection: 'close' }).end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>refused by the test</Message></Error>');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const client = new S3Client({ endpoint, forcePathStyle: true, region: 'us-east-1', credentials: S3RVER_CREDENTIALS, requestChecksumCalculation: 'WHEN_REQUIRED', maxAttempts: 1 });
    sendBodiesOnThread(client, threadSender, { connectionMs: 10_000, socketMs: 60_000 });
    const target = { client, bucket: 'up', key: 'refused', partSize: PART, queueSize: 2, thread: { sender: threadSender, parts: new SharedParts(PART, 4), filePartSize: PART } };
    const data = bytes(PART - 1, 11);
    try {
      await assert.rejects(uploadObject(target, chunked(data, [PART]), { size: 0, crc32: 0 }), (e: Error) => e.name === 'AccessDenied' && /refused by the test/.test(e.message));
      assert.equal(bodiesRefused, 1);
      refuse = false;
      const totals = { size: 0, crc32: 0 };
      await uploadObject(target, chunked(data, [PART]), totals);
      assert.equal(totals.crc32, crc32(data));
    } finally {
      client.destroy();
      server.close();
    }
  });

  it('through the upload thread, the query string reaches the server as the SDK signed it: an upload id with spaces, +, ! * \' ( ) and / arrives whole', { timeout: 60_000 }, async () => {
    const uploadId = "id with spaces+plus!*'()/slash%";
    const seen: (string | null)[] = [];
    const server = createServer((req, res) => {
      const url = new URL(req.url!, 'http://x');
      req.resume();
      req.on('end', () => {
        if (req.method === 'POST' && url.searchParams.has('uploads')) {
          res.writeHead(200, { 'Content-Type': 'application/xml' }).end(`<?xml version="1.0" encoding="UTF-8"?><InitiateMultipartUploadResult><Bucket>up</Bucket><Key>q</Key><UploadId>${uploadId.replace(/&/g, '&amp;').replace(/'/g, '&apos;')}</UploadId></InitiateMultipartUploadResult>`);
          return;
        }
        seen.push(url.searchParams.get('uploadId'));
        if (req.method === 'PUT') res.writeHead(200, { ETag: '"e"' }).end();
        else res.writeHead(200, { 'Content-Type': 'application/xml' }).end('<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUploadResult><Bucket>up</Bucket><Key>q</Key><ETag>"e-2"</ETag></CompleteMultipartUploadResult>');
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const client = new S3Client({ endpoint, forcePathStyle: true, region: 'us-east-1', credentials: S3RVER_CREDENTIALS, requestChecksumCalculation: 'WHEN_REQUIRED', maxAttempts: 1 });
    let sent = 0;
    sendBodiesOnThread(client, { ...threadSender, send: (...a) => (sent++, threadSender.send(...a)) }, { connectionMs: 10_000, socketMs: 60_000 });
    const thread = { sender: threadSender, parts: new SharedParts(PART, 4), filePartSize: PART };
    try {
      await uploadObject({ client, bucket: 'up', key: 'q', partSize: PART, queueSize: 2, thread }, chunked(bytes(PART + 1, 4), [PART]), { size: 0, crc32: 0 });
    } finally {
      client.destroy();
      server.close();
    }
    assert.equal(sent, 2);
    // Two parts (through the thread) and the completion (through the SDK's own handler).
    assert.deepEqual(seen, [uploadId, uploadId, uploadId]);
  });
});
