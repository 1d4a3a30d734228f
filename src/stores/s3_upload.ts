/**
 * Streams one object into S3 with bounded memory: one PutObject when it fits in a part, else a
 * multipart upload with `queueSize` parts in flight. From chunks (`uploadObject`, a save's tensors)
 * or from a file another store holds (`uploadFile`, a `localCache` upload). A part that lies inside one chunk (most of a large
 * tensor) is sent as a view of it, without a copy; a part that spans chunks is assembled in one of
 * at most `queueSize + 2` reused buffers. So extra memory stays under `partSize × (queueSize + 2)` whatever
 * the object's size, and no garbage accumulates between collections. (lib-storage's `Upload` joins
 * chunks with `Buffer.concat`, copying a whole large tensor when it follows a small one.)
 * Every request goes through the SDK client: its retries with backoff apply to each part.
 * With an upload thread (`target.thread`, see s3_thread_body.ts) the only per-byte work left on the
 * main thread is one copy of each part into a reused shared buffer; a file's parts are sent straight
 * from its descriptor, with none.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { crc32 } from '../formats/crc32.js';
import { ThreadBody, type BodySender } from './s3_thread_body.js';
import type { S3Sender } from './s3_thread_calls.js';
import type { ByteChunks, StoredFile } from './store.js';

export interface UploadTarget {
  /** The store's client, or what sends its commands on the upload thread (s3_thread_calls.ts). */
  client: S3Sender;
  bucket: string;
  key: string;
  /** Bytes per part (S3: at least 5 MiB, except the last). */
  partSize: number;
  /** Parts uploading at once. */
  queueSize: number;
  /** Set when the client sends `ThreadBody` bodies through this sender (sendBodiesOnThread): parts then go as sources, not bytes. */
  thread?: {
    sender: BodySender;
    parts: SharedParts;
    /** Part size for parts sent straight from a file's descriptor: larger, since such a part costs no memory, and each request costs the main thread about 1 ms of SDK work. */
    filePartSize: number;
  };
}

/**
 * Reused part buffers in shared memory, for the upload thread to send from: a save copies each part
 * of its tensors in once (the only per-byte step left on the main thread), and first-touched memory
 * (about 4 s/GiB on this kind of machine) is paid once per store, not per save.
 */
export class SharedParts {
  private readonly free: Uint8Array[] = [];

  constructor(
    readonly partSize: number,
    private readonly keep: number,
  ) {}

  take(): Uint8Array {
    return this.free.pop() ?? new Uint8Array(new SharedArrayBuffer(this.partSize));
  }

  release(part: Uint8Array): void {
    if (this.free.length < this.keep) this.free.push(part);
  }
}

type Body = Uint8Array | ThreadBody;

function lengthOf(body: Body): number {
  return body instanceof ThreadBody ? body.length : body.byteLength;
}

/** The SDK's type for a body; a ThreadBody is sent by the thread, never read by the SDK. */
function asPayload(body: Body): Uint8Array {
  return body as Uint8Array;
}

/**
 * One multipart upload, its parts sent as they come with at most `queueSize` in flight; each part's
 * `done` runs once its request has ended (its buffer may then be reused). The upload is created with
 * the first part.
 */
class MultipartUpload {
  private uploadId: string | undefined;
  private readonly parts: CompletedPart[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private failure: unknown;

  constructor(private readonly target: UploadTarget) {}

  get started(): boolean {
    return this.uploadId !== undefined;
  }

  /** Sends one part; resolves once fewer than `queueSize` are in flight. */
  async send(body: Body, done?: () => void): Promise<void> {
    const { client, bucket, key } = this.target;
    this.uploadId ??= (await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }))).UploadId;
    const partNumber = this.parts.length + 1;
    const part: CompletedPart = { PartNumber: partNumber };
    this.parts.push(part);
    const uploading = client
      .send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: this.uploadId, PartNumber: partNumber, Body: asPayload(body), ContentLength: lengthOf(body) }))
      .then(
        (r) => {
          part.ETag = r.ETag;
        },
        (e: unknown) => {
          this.failure ??= e;
        },
      )
      .finally(() => {
        this.inFlight.delete(uploading);
        done?.();
      });
    this.inFlight.add(uploading);
    while (this.inFlight.size >= Math.max(1, this.target.queueSize)) await Promise.race(this.inFlight);
    if (this.failure !== undefined) throw this.failure;
  }

  /** Resolves once some part in flight has ended (at once when none is). */
  async settleOne(): Promise<void> {
    if (this.inFlight.size > 0) await Promise.race(this.inFlight);
    if (this.failure !== undefined) throw this.failure;
  }

  async complete(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.race(this.inFlight);
    if (this.failure !== undefined) throw this.failure;
    const { client, bucket, key } = this.target;
    await client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: this.uploadId, MultipartUpload: { Parts: this.parts } }));
  }

  /** After a failure: waits for the parts in flight, then aborts the upload (its parts are freed). */
  async abort(): Promise<void> {
    await Promise.allSettled(this.inFlight);
    const { client, bucket, key } = this.target;
    if (this.uploadId !== undefined) await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: this.uploadId })).catch(() => undefined);
  }
}

function putWhole(target: UploadTarget, body: Body): Promise<unknown> {
  return target.client.send(new PutObjectCommand({ Bucket: target.bucket, Key: target.key, Body: asPayload(body), ContentLength: lengthOf(body) }));
}

/** Uploads `chunks` as one object, adding their size and CRC-32 to `totals`. Chunks stay unchanged until it resolves. */
export async function uploadObject(target: UploadTarget, chunks: ByteChunks, totals: { size: number; crc32: number }): Promise<void> {
  if (target.thread?.sender.available()) return uploadObjectFromShared(target, target.thread, chunks, totals);
  const { partSize } = target;
  const pool: Uint8Array[] = [];
  const takeBuffer = () => pool.pop() ?? new Uint8Array(partSize);
  const upload = new MultipartUpload(target);
  /** The part being assembled in a pooled buffer, and how full it is. */
  let assembling: Uint8Array | undefined;
  let filled = 0;
  /** A part that is a view of a chunk, held until we know whether more follows (the last part may be small). */
  let held: { bytes: Uint8Array; pooled: boolean } | undefined;

  const send = (bytes: Uint8Array, fromPool: boolean): Promise<void> =>
    upload.send(bytes, fromPool ? () => pool.push(bytes.byteLength === partSize ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, partSize)) : undefined);

  /** A full part is ready: send the one held before it (it was not the last). */
  const ready = async (bytes: Uint8Array, fromPool: boolean): Promise<void> => {
    if (held) await send(held.bytes, held.pooled);
    held = { bytes, pooled: fromPool };
  };

  try {
    for await (const chunk of chunks) {
      totals.crc32 = crc32(chunk, totals.crc32);
      totals.size += chunk.byteLength;
      let at = 0;
      while (at < chunk.byteLength) {
        if (filled === 0 && chunk.byteLength - at >= partSize) {
          await ready(chunk.subarray(at, at + partSize), false);
          at += partSize;
          continue;
        }
        assembling ??= takeBuffer();
        const take = Math.min(partSize - filled, chunk.byteLength - at);
        assembling.set(chunk.subarray(at, at + take), filled);
        filled += take;
        at += take;
        if (filled === partSize) {
          await ready(assembling, true);
          assembling = undefined;
          filled = 0;
        }
      }
    }
    const tail = assembling?.subarray(0, filled);
    if (!upload.started && (held === undefined || tail === undefined || tail.byteLength === 0)) {
      // It fits in one request.
      await putWhole(target, held?.bytes ?? tail ?? new Uint8Array(0));
      return;
    }
    if (held) await send(held.bytes, held.pooled);
    held = undefined;
    if (tail && tail.byteLength > 0) await send(tail, true);
    await upload.complete();
  } catch (e) {
    await upload.abort();
    throw e;
  }
}

/**
 * `uploadObject` through the upload thread: each part is copied into a shared buffer (the one pass
 * over the bytes left on this thread), then the thread computes the running CRC-32 (in part order:
 * it takes its messages in order) and sends the part. A full part is held until more bytes follow,
 * since an object of one part goes out as a single PutObject.
 */
async function uploadObjectFromShared(
  target: UploadTarget,
  thread: NonNullable<UploadTarget['thread']>,
  chunks: ByteChunks,
  totals: { size: number; crc32: number },
): Promise<void> {
  const { sender, parts } = thread;
  const { partSize } = parts;
  const upload = new MultipartUpload(target);
  let crc: Promise<number> = Promise.resolve(totals.crc32);
  let current: Uint8Array | undefined;
  let filled = 0;
  /** Parts filled and checksummed in order, each released once its request and its CRC are done. */
  interface Filled {
    body: ThreadBody;
    summed: Promise<unknown>;
    buffer: Uint8Array;
  }
  const fill = (buffer: Uint8Array, length: number): Filled => {
    const source = { shared: buffer.buffer as SharedArrayBuffer, offset: 0, length };
    const view = buffer.subarray(0, length);
    crc = crc.then(async (previous) => (await sender.crc32(source, previous)) ?? crc32(view, previous));
    // Awaited at the end; a failure of a part never awaited (the upload failed first) is not unhandled.
    crc.catch(() => undefined);
    // Sent from here only when the thread cannot: a plain copy for the SDK's handler.
    return { body: new ThreadBody(source, async () => view.slice()), summed: crc, buffer };
  };
  const release = (part: Filled) => void part.summed.then(() => parts.release(part.buffer), () => undefined);
  const send = (part: Filled) => upload.send(part.body, () => release(part));
  let held: Filled | undefined;
  try {
    for await (const chunk of chunks) {
      totals.size += chunk.byteLength;
      for (let at = 0; at < chunk.byteLength; ) {
        current ??= parts.take();
        const take = Math.min(partSize - filled, chunk.byteLength - at);
        current.set(chunk.subarray(at, at + take), filled);
        filled += take;
        at += take;
        if (filled === partSize) {
          const full = fill(current, filled);
          current = undefined;
          filled = 0;
          if (held) await send(held);
          held = full;
        }
      }
    }
    const tail = current && filled > 0 ? fill(current, filled) : undefined;
    if (current && !tail) parts.release(current);
    current = undefined;
    if (!upload.started && (held === undefined || tail === undefined)) {
      // It fits in one request.
      const only = held ?? tail;
      try {
        await putWhole(target, only?.body ?? new Uint8Array(0));
      } finally {
        if (only) release(only);
      }
    } else {
      if (held) await send(held);
      held = undefined;
      if (tail) await send(tail);
      await upload.complete();
    }
    totals.crc32 = await crc;
  } catch (e) {
    await upload.abort();
    if (held) release(held);
    if (current) parts.release(current);
    throw e;
  }
}

/**
 * Uploads `file` as one object and sets `totals` to its size and CRC-32. Through the upload thread,
 * each part is sent straight from the file's descriptor; else each part is read here into one of
 * `queueSize + 1` reused buffers (no fresh memory per part: on this kind of machine first-touched
 * memory costs about 4 s/GiB, on the thread that touches it). The CRC-32 comes from `file.checksum()`
 * where the file has one (the fs store: its helper thread reads the file from the page cache beside
 * the upload), else from the upload thread's read of the descriptor, so no per-byte work runs on this
 * thread; only without either is it computed here.
 */
export async function uploadFile(target: UploadTarget, file: StoredFile, totals: { size: number; crc32: number }): Promise<void> {
  const offThread = file.checksum?.();
  offThread?.catch(() => undefined); // awaited below
  // Through the upload thread, straight from the file: no byte of it on this thread.
  const fd = target.thread?.sender.available() ? file.descriptor?.() : undefined;
  const partSize = fd !== undefined ? target.thread!.filePartSize : target.partSize;
  const fromFile = (position: number, length: number): ThreadBody =>
    new ThreadBody({ fd: fd!, offset: position, length }, async () => {
      const bytes = new Uint8Array(length);
      await file.read(bytes, 0, length, position);
      return bytes;
    });
  let crc = 0;
  const upload = new MultipartUpload(target);
  try {
    if (fd !== undefined && file.size <= partSize) {
      await putWhole(target, fromFile(0, file.size));
    } else if (fd !== undefined) {
      for (let position = 0; position < file.size; position += partSize) await upload.send(fromFile(position, Math.min(partSize, file.size - position)));
      await upload.complete();
    } else if (file.size <= partSize) {
      const body = new Uint8Array(file.size);
      await file.read(body, 0, body.byteLength, 0);
      if (!offThread) crc = crc32(body);
      await putWhole(target, body);
    } else {
      const free: Uint8Array[] = [];
      let made = 0;
      for (let position = 0; position < file.size; position += partSize) {
        while (free.length === 0 && made > target.queueSize) await upload.settleOne();
        const buffer = free.pop() ?? (made++, new Uint8Array(partSize));
        const part = buffer.subarray(0, Math.min(partSize, file.size - position));
        await file.read(part, 0, part.byteLength, position);
        if (!offThread) crc = crc32(part, crc);
        await upload.send(part, () => free.push(buffer));
      }
      await upload.complete();
    }
  } catch (e) {
    await upload.abort();
    throw e;
  }
  const checked = offThread ? await offThread : undefined;
  totals.size = checked?.size ?? file.size;
  if (checked) totals.crc32 = checked.crc32;
  else if (!offThread && fd === undefined) totals.crc32 = crc;
  // Sent from its descriptor, or its own checksum was not possible after all: read again, on the
  // upload thread where it can.
  else totals.crc32 = (fd !== undefined ? await target.thread!.sender.crc32({ fd, offset: 0, length: file.size }, 0) : undefined) ?? (await crcHere(file));
}

/** The file's CRC-32 read here, one reused buffer at a time (when its off-thread checksum was not possible after all). */
async function crcHere(file: StoredFile): Promise<number> {
  const buffer = new Uint8Array(Math.min(file.size, 8 * 1024 * 1024));
  let crc = 0;
  for (let position = 0; position < file.size; position += buffer.byteLength) {
    const part = buffer.subarray(0, Math.min(buffer.byteLength, file.size - position));
    await file.read(part, 0, part.byteLength, position);
    crc = crc32(part, crc);
  }
  return crc;
}
