/**
 * Streams one object into S3 with bounded memory: one PutObject when it fits in a part, else a
 * multipart upload with `queueSize` parts in flight. A part that lies inside one chunk (most of a large
 * tensor) is sent as a view of it, without a copy; a part that spans chunks is assembled in one of
 * at most `queueSize + 2` reused buffers. So extra memory stays under `partSize × (queueSize + 2)` whatever
 * the object's size, and no garbage accumulates between collections. (lib-storage's `Upload` joins
 * chunks with `Buffer.concat`, copying a whole large tensor when it follows a small one.)
 * Every request goes through the SDK client: its retries with backoff apply to each part.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';
import { crc32 } from '../formats/crc32.js';
import type { ByteChunks } from './store.js';

export interface UploadTarget {
  client: S3Client;
  bucket: string;
  key: string;
  /** Bytes per part (S3: at least 5 MiB, except the last). */
  partSize: number;
  /** Parts uploading at once. */
  queueSize: number;
}

/** Uploads `chunks` as one object, adding their size and CRC-32 to `totals`. Chunks stay unchanged until it resolves. */
export async function uploadObject(target: UploadTarget, chunks: ByteChunks, totals: { size: number; crc32: number }): Promise<void> {
  const { client, bucket, key, partSize } = target;
  const queueSize = Math.max(1, target.queueSize);
  const pool: Uint8Array[] = [];
  const takeBuffer = () => pool.pop() ?? new Uint8Array(partSize);
  let uploadId: string | undefined;
  const parts: CompletedPart[] = [];
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  /** The part being assembled in a pooled buffer, and how full it is. */
  let assembling: Uint8Array | undefined;
  let filled = 0;
  /** A part that is a view of a chunk, held until we know whether more follows (the last part may be small). */
  let held: { bytes: Uint8Array; pooled: boolean } | undefined;

  const send = async (bytes: Uint8Array, fromPool: boolean): Promise<void> => {
    uploadId ??= (await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }))).UploadId;
    const partNumber = parts.length + 1;
    const part: CompletedPart = { PartNumber: partNumber };
    parts.push(part);
    const uploading = client
      .send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: partNumber, Body: bytes, ContentLength: bytes.byteLength }))
      .then(
        (r) => {
          part.ETag = r.ETag;
        },
        (e: unknown) => {
          failure ??= e;
        },
      )
      .finally(() => {
        inFlight.delete(uploading);
        if (fromPool) pool.push(bytes.byteLength === partSize ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, partSize));
      });
    inFlight.add(uploading);
    while (inFlight.size >= queueSize) await Promise.race(inFlight);
    if (failure !== undefined) throw failure;
  };

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
    if (uploadId === undefined && (held === undefined || tail === undefined || tail.byteLength === 0)) {
      // It fits in one request.
      const body = held?.bytes ?? tail ?? new Uint8Array(0);
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: body.byteLength }));
      return;
    }
    if (held) await send(held.bytes, held.pooled);
    held = undefined;
    if (tail && tail.byteLength > 0) await send(tail, true);
    while (inFlight.size > 0) await Promise.race(inFlight);
    if (failure !== undefined) throw failure;
    await client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } }));
  } catch (e) {
    await Promise.allSettled(inFlight);
    if (uploadId !== undefined) await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId })).catch(() => undefined);
    throw e;
  }
}
