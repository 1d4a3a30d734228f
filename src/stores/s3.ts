/**
 * The S3 store (`s3://bucket/prefix/…`): checkpoints on any S3-compatible object store (AWS S3,
 * Cloudflare R2, MinIO, Ceph, GCS's S3 interface) through the official AWS SDK v3. A store key is
 * `/<bucket>/<object key>`.
 *
 * Object stores have no rename, so a commit is one PUT of a marker:
 * - Stage: every file is uploaded (multipart, streamed, bounded memory) under a fresh generation
 *   beside the checkpoint, `<dir>/.<name>.g-<id>/<file>`, where no reader looks; sizes and CRC-32s are
 *   computed on the way.
 * - Commit: one PutObject of `<dir>/<name>/checkpoint.json` (the format's own metadata, written last)
 *   whose user metadata `tfjs-generation` names the generation (so a name claimed at commit, `-v1`,
 *   points to the same uploaded objects). That PUT is atomic: readers see the old
 *   checkpoint or the new one. A replaced generation is deleted after the new marker is in place.
 * - Read: the marker is read once (its ETag pins the generation); `confirm()` checks the ETag again.
 * - Delete: the marker first (invisible at once), then the generation's objects.
 * - Leftovers: generations no marker names, older than `orphanAgeSeconds` (default 24 h) and not
 *   being written by this process, are deleted by the next writer of that prefix (`recover`).
 * - Pointers: one PutObject each. A folder without a marker (a stock TF.js upload) is read in place.
 * Claiming a name (versionOnClash) is a HEAD, then the marker PUT with `If-None-Match: *`: where the
 * server honours it (AWS S3 since 2024, R2, MinIO), two writers can never both take one name; the
 * loser gets 412 and claims the next. Where a server answers 501 to it, the store stops sending it.
 * Where a server ignores it (s3rver), the HEAD just before the PUT narrows the race to one round trip.
 */
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  UploadPartCopyCommand,
  CompleteMultipartUploadCommand,
  AbortMultipartUploadCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { CheckpointError, CorruptCheckpointError } from '../errors.js';
import { bytesFile, collectChunks } from './bytes.js';
import { keyBasename, keyDirname, type StoreKey } from './keys.js';
import { GenerationChanged, type ByteChunks, type CheckpointReader, type CheckpointStore, type ListedCheckpoint, type ListOptions, type OpenedFile, type StagedCheckpoint, type StagedFile, type StageOptions, type StoredFile, type WrittenFile } from './store.js';
import { bodySender, sendBodiesOnThread } from './s3_thread_body.js';
import { commandsOnThread, type S3Sender } from './s3_thread_calls.js';
import { SharedParts, uploadFile, uploadObject, type UploadTarget } from './s3_upload.js';
import { unsignedPayloads } from './s3_payload_signing.js';

const MARKER = 'checkpoint.json';
/** Reads of a marker before its failure, or its bytes as they are, is final (see readMarker). */
const MARKER_READS = 4;

function isJson(bytes: Uint8Array): boolean {
  try {
    JSON.parse(new TextDecoder().decode(bytes));
    return true;
  } catch {
    return false;
  }
}
const GENERATION_MARK = '.g-';

/** `.<name>.g-<id>`: the folder of one generation of checkpoint `name`, beside it. */
function generationDir(name: string, id: string): string {
  return `.${name}${GENERATION_MARK}${id}`;
}

/** For `.<name>.g-<id>`, `<name>`; otherwise undefined. */
function generationOwner(segment: string): string | undefined {
  if (!segment.startsWith('.')) return undefined;
  const at = segment.lastIndexOf(GENERATION_MARK);
  return at > 1 ? segment.slice(1, at) : undefined;
}
const GENERATION_META = 'tfjs-generation';
const CONNECTION_TIMEOUT_MS = 10_000;
const SOCKET_TIMEOUT_MS = 60_000;

export interface S3StoreOptions {
  /** A client of your own (credentials, region, endpoint, retries all as you set them). */
  client?: S3Client;
  /** Custom endpoint (R2, MinIO, …). Default: `TFJS_CHECKPOINT_S3_ENDPOINT`, else the SDK's own (`AWS_ENDPOINT_URL_S3`, AWS). */
  endpoint?: string;
  /** Credentials. Default: the SDK's standard chain (environment, shared config and credentials files, SSO, instance roles). */
  credentials?: S3ClientConfig['credentials'];
  /** Region. Default: the SDK's chain (`AWS_REGION`, config files), else `us-east-1`. */
  region?: string;
  /** Path-style addressing (`host/bucket/key`), which MinIO and s3rver need. Default: `TFJS_CHECKPOINT_S3_FORCE_PATH_STYLE=1`, else false. */
  forcePathStyle?: boolean;
  /** Attempts per request, with the SDK's backoff, for throttling (503 SlowDown), 5xx and timeouts. Default 5. */
  maxAttempts?: number;
  /**
   * Multipart part size in bytes (S3's minimum is 5 MiB). Default 8 MiB; 32 MiB for parts the upload
   * thread sends straight from a `localCache` file (they take no memory, and fewer requests cost the
   * main thread less).
   */
  partSize?: number;
  /** Parts uploaded at once per file. Peak extra memory per file being written stays under partSize × (queueSize + 2) (see s3_upload.ts). Default 4. */
  queueSize?: number;
  /** A generation no marker names is a crashed writer's once it is this old (seconds); then the next writer removes it. Default 86,400. */
  orphanAgeSeconds?: number;
  /**
   * Whether each request's body is hashed into its signature (SigV4). Default: over plain http only;
   * over https TLS guards the bytes and our CRC-32s check them on every load, so the body is sent as
   * `UNSIGNED-PAYLOAD` (as boto3 does), sparing a SHA-256 pass over every byte on the main thread. `true`:
   * always; `false`: never. Not applied to a `client` of your own.
   */
  signPayload?: boolean;
  /**
   * Whether a helper thread (Node) does the store's S3 work: it runs the SDK itself, with a client
   * made from these same options, for every request but reads (`GetObject`) and conditional puts,
   * and reads, hashes, checksums and sends the uploads' bytes. The main thread, where training runs,
   * then only posts each request (credentials still resolved there, by the store's client) and copies
   * each part of a save once into shared memory (with `localCache`, no byte at all). Where the SDK
   * cannot load on the thread, the SDK here builds and signs each request and the thread sends its
   * body. Default true; not applied to a `client` of your own, whose HTTP settings (agents, proxies,
   * middleware) the thread could not follow.
   */
  uploadThread?: boolean;
}

interface ObjectRef {
  bucket: string;
  key: string;
}

function env(name: string): string | undefined {
  return (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[name];
}

/** `/bucket/a/b` → bucket `bucket`, object key `a/b` (and `sub` appended). */
function objectOf(key: StoreKey, sub?: string): ObjectRef {
  const [, bucket, ...rest] = key.split('/');
  if (!bucket) throw new CheckpointError('INVALID_ARGUMENT', `s3:// locations need a bucket: s3://<bucket>/<prefix>/…; got s3:/${key}.`);
  const path = [...rest, ...(sub === undefined ? [] : [sub])].join('/');
  return { bucket, key: path };
}

function within(ref: ObjectRef): string {
  return ref.key === '' ? '' : `${ref.key}/`;
}

function show(ref: ObjectRef): string {
  return `s3://${ref.bucket}/${ref.key}`;
}

function statusOf(e: unknown): number | undefined {
  return (e as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

function isMissing(e: unknown): boolean {
  const name = (e as { name?: string })?.name;
  return statusOf(e) === 404 && name !== 'NoSuchBucket';
}

/** An SDK failure as a CheckpointError that names the bucket and key and says what to check. */
export function s3Error(action: string, ref: ObjectRef, e: unknown): CheckpointError {
  if (e instanceof CheckpointError) return e;
  const name = (e as { name?: string; code?: string })?.name ?? '';
  const code = (e as { code?: string })?.code ?? '';
  const message = (e as Error)?.message ?? String(e);
  const hint =
    name === 'NoSuchBucket'
      ? ` The bucket "${ref.bucket}" does not exist at this endpoint: create it, or fix the bucket name, endpoint or region.`
      : name === 'AccessDenied' || name === 'InvalidAccessKeyId' || name === 'SignatureDoesNotMatch' || name === 'ExpiredToken' || statusOf(e) === 403
        ? ' The credentials were refused: check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or your profile) and the bucket policy.'
        : name === 'PermanentRedirect' || name === 'AuthorizationHeaderMalformed' || statusOf(e) === 301
          ? ' The bucket is in another region: set AWS_REGION (or the `region` option) to the bucket\'s region.'
          : // A server that refuses a request may close the connection before reading its body.
            code === 'EPIPE' || /\bEPIPE\b/.test(message)
            ? ' The server closed the connection while the request was being sent, which is how some servers refuse one: check the bucket name, the credentials and the endpoint.'
            : ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET', 'ETIMEDOUT'].includes(code) || name === 'TimeoutError'
              ? ' The endpoint could not be reached: check the endpoint URL (TFJS_CHECKPOINT_S3_ENDPOINT) and the network.'
              : '';
  return new CheckpointError('IO_ERROR', `Could not ${action} ${show(ref)}: ${name ? `${name}: ` : ''}${message}.${hint} Earlier checkpoints are untouched.`, { cause: e });
}

function randomGeneration(): string {
  const bytes = new Uint8Array(6);
  globalThis.crypto.getRandomValues(bytes);
  return `${Date.now().toString(36)}-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

export class S3Store implements CheckpointStore {
  readonly scheme = 's3';
  readonly client: S3Client;
  private readonly partSize: number;
  private readonly queueSize: number;
  private readonly orphanAgeMs: number;
  /** Generations this process is writing (never leftovers). */
  private readonly live = new Set<string>();
  /** Whether the server may honour `If-None-Match: *` on PUT (false once it answered 501 to it). */
  private conditionalPuts = true;
  /** The upload thread, when this store's client sends through it (see s3_thread_body.ts). */
  private readonly thread: UploadTarget['thread'];
  /** Where commands are sent: the client, or a client of the upload thread's with the client as fallback (see s3_thread_calls.ts). */
  private readonly calls: S3Sender;

  constructor(options: S3StoreOptions = {}) {
    const endpoint = options.endpoint ?? env('TFJS_CHECKPOINT_S3_ENDPOINT');
    const pathStyle = options.forcePathStyle ?? env('TFJS_CHECKPOINT_S3_FORCE_PATH_STYLE') === '1';
    const config: S3ClientConfig = {
      ...(endpoint ? { endpoint } : {}),
      ...(pathStyle ? { forcePathStyle: true } : {}),
      ...(options.credentials ? { credentials: options.credentials } : {}),
      region: options.region ?? env('AWS_REGION') ?? env('AWS_DEFAULT_REGION') ?? 'us-east-1',
      maxAttempts: options.maxAttempts ?? 5,
      // The SDK waits forever by default: a blackholed endpoint would hold a save for the OS's TCP
      // timeouts times the attempts. Give up on a connection after 10 s and a silent socket after 60 s (then retry).
      requestHandler: { connectionTimeout: CONNECTION_TIMEOUT_MS, socketTimeout: SOCKET_TIMEOUT_MS },
      // Our CRC-32s cover every byte; the SDK's default request checksums break many S3-compatible servers.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    };
    this.client = options.client ?? new S3Client(config);
    if (!options.client && options.signPayload !== true) unsignedPayloads(this.client, options.signPayload === false ? 'never' : 'https');
    this.partSize = Math.max(options.partSize ?? 8 * 1024 * 1024, 5 * 1024 * 1024);
    this.queueSize = options.queueSize ?? 4;
    const sender = bodySender();
    let calls: S3Sender = this.client;
    if (!options.client && options.uploadThread !== false && sender) {
      sendBodiesOnThread(this.client, sender, { connectionMs: CONNECTION_TIMEOUT_MS, socketMs: SOCKET_TIMEOUT_MS });
      this.thread = { sender, parts: new SharedParts(this.partSize, this.queueSize + 2), filePartSize: Math.max(options.partSize ?? 32 * 1024 * 1024, this.partSize) };
      const { credentials: _resolvedHere, ...plain } = config;
      const unsigned = options.signPayload === true ? undefined : options.signPayload === false ? 'never' : 'https';
      const remote = sender.openClient?.({ config: { ...plain, requestHandler: { connectionTimeout: CONNECTION_TIMEOUT_MS, socketTimeout: SOCKET_TIMEOUT_MS } }, unsigned });
      if (remote) calls = commandsOnThread(this.client, remote);
    }
    this.calls = calls;
    this.orphanAgeMs = (options.orphanAgeSeconds ?? 86_400) * 1000;
  }

  private async head(ref: ObjectRef): Promise<{ etag: string; size: number; generation: string | undefined; modified: number } | undefined> {
    try {
      const r = await this.calls.send(new HeadObjectCommand({ Bucket: ref.bucket, Key: ref.key }));
      return { etag: r.ETag ?? '', size: r.ContentLength ?? 0, generation: r.Metadata?.[GENERATION_META], modified: r.LastModified?.getTime() ?? 0 };
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw s3Error('inspect', ref, e);
    }
  }

  /** A whole (small) object: a marker or a pointer. Weight files are read by `readRange`. */
  private async getBytes(ref: ObjectRef): Promise<{ bytes: Uint8Array; etag: string; generation: string | undefined } | undefined> {
    try {
      const r = await this.calls.send(new GetObjectCommand({ Bucket: ref.bucket, Key: ref.key }));
      const bytes = r.Body ? await r.Body.transformToByteArray() : new Uint8Array(0);
      return { bytes, etag: r.ETag ?? '', generation: r.Metadata?.[GENERATION_META] };
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw s3Error('read', ref, e);
    }
  }

  /**
   * The marker's bytes, ETag and generation. A body cut off mid-transfer (a server rewriting the
   * object in place, as s3rver does, or a dropped connection) is read again, a few times, with backoff.
   * So is a body that is not JSON (the marker is the format's JSON metadata): a server that rewrites
   * objects in place can serve part of the new one under its final ETag and size. After the last
   * attempt the bytes are returned as they are, and the reader reports them as damaged.
   */
  private async readMarker(key: StoreKey): Promise<{ bytes: Uint8Array; etag: string; generation: string | undefined } | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        const marker = await this.getBytes(objectOf(key, MARKER));
        if (!marker || attempt >= MARKER_READS || isJson(marker.bytes)) return marker;
      } catch (e) {
        if (attempt >= MARKER_READS) throw e;
      }
      await new Promise((resolve) => setTimeout(resolve, 25 * 2 ** attempt));
    }
  }

  /**
   * Streams bytes `position…` of an object straight into `dest` (no intermediate buffer: loading
   * costs one copy of the weights, whatever the range size); returns how many bytes came.
   */
  private async readRange(ref: ObjectRef, dest: Uint8Array, position: number, ifMatch?: string): Promise<number> {
    let filled = 0;
    try {
      const r = await this.calls.send(
        new GetObjectCommand({ Bucket: ref.bucket, Key: ref.key, Range: `bytes=${position}-${position + dest.byteLength - 1}`, ...(ifMatch ? { IfMatch: ifMatch } : {}) }),
      );
      // Servers without If-Match (s3rver) answer with what is there now: its ETag tells.
      if (ifMatch && r.ETag !== undefined && r.ETag !== ifMatch) {
        await r.Body?.transformToWebStream().cancel().catch(() => undefined);
        throw new GenerationChanged(show(ref));
      }
      if (!r.Body) return 0;
      const reader = r.Body.transformToWebStream().getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        const take = Math.min(value.byteLength, dest.byteLength - filled);
        dest.set(take === value.byteLength ? value : value.subarray(0, take), filled);
        filled += take;
      }
      return filled;
    } catch (e) {
      if (e instanceof GenerationChanged) throw e;
      if (isMissing(e)) return filled;
      if (ifMatch && statusOf(e) === 412) throw new GenerationChanged(show(ref));
      throw s3Error('read', ref, e);
    }
  }

  /** Every object under a prefix (all pages). */
  private async listAll(bucket: string, prefix: string, ref: ObjectRef): Promise<{ key: string; modified: number; size: number }[]> {
    const out: { key: string; modified: number; size: number }[] = [];
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.calls.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }));
      } catch (e) {
        throw s3Error('list', ref, e);
      }
      for (const o of page.Contents ?? []) if (o.Key) out.push({ key: o.Key, modified: o.LastModified?.getTime() ?? 0, size: o.Size ?? 0 });
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  /** Names of (up to 1,000) objects directly or deeper under `ref/`, relative to it. */
  private async firstPage(ref: ObjectRef): Promise<string[]> {
    try {
      const page = await this.calls.send(new ListObjectsV2Command({ Bucket: ref.bucket, Prefix: within(ref) }));
      return (page.Contents ?? []).flatMap((o) => (o.Key ? [o.Key.slice(within(ref).length)] : []));
    } catch (e) {
      throw s3Error('list', ref, e);
    }
  }

  private async anyUnder(ref: ObjectRef): Promise<string | undefined> {
    try {
      const page = await this.calls.send(new ListObjectsV2Command({ Bucket: ref.bucket, Prefix: within(ref), MaxKeys: 1 }));
      return page.Contents?.[0]?.Key;
    } catch (e) {
      throw s3Error('list', ref, e);
    }
  }

  private async deleteKeys(bucket: string, keys: readonly string[], ref: ObjectRef): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      try {
        if (batch.length === 1) await this.calls.send(new DeleteObjectCommand({ Bucket: bucket, Key: batch[0]! }));
        else await this.calls.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }));
      } catch (e) {
        throw s3Error('delete objects of', ref, e);
      }
    }
  }

  /** Deletes the generation folder `generation` (a name in the directory of `key`). */
  private async deleteGeneration(key: StoreKey, generation: string): Promise<void> {
    const dir = objectOf(keyDirname(key));
    const prefix = `${within(dir)}${generation}/`;
    await this.deleteKeys(dir.bucket, (await this.listAll(dir.bucket, prefix, dir)).map((o) => o.key), dir);
  }

  async stage(key: StoreKey, options: StageOptions = {}): Promise<StagedCheckpoint> {
    const ref = objectOf(key);
    if (await this.head(ref)) throw new CheckpointError('PATH_CONFLICT', `Cannot write a checkpoint to ${show(ref)}: an object with that name exists. Remove it or choose another filepath.`);
    for (let dir = keyDirname(key); dir.split('/').length > 2; dir = keyDirname(dir)) {
      const parent = objectOf(dir);
      if (await this.head(parent)) throw new CheckpointError('PATH_CONFLICT', `Cannot write a checkpoint to ${show(ref)}: ${show(parent)} is an object, not a folder. Choose another filepath.`);
    }
    // Objects under the name: fine when it is a checkpoint (ours, or a stock TF.js folder), else a folder of other things.
    const under = await this.firstPage(ref);
    if (under.length > 0 && !under.some((name) => [MARKER, 'model.json', 'weights.json'].includes(name))) {
      {
        throw new CheckpointError(
          'PATH_CONFLICT',
          `Please specify a non-directory filepath: ${show(ref)} holds other objects and is not a checkpoint, and replacing it would hide them. ` +
            'Choose a filepath that names the checkpoint itself (e.g. add {epoch:02d}).',
        );
      }
    }
    return new S3Staged(this, key, generationDir(keyBasename(key), randomGeneration()), options.claim);
  }

  private target(ref: ObjectRef): UploadTarget {
    return { client: this.calls, bucket: ref.bucket, key: ref.key, partSize: this.partSize, queueSize: this.queueSize, ...(this.thread ? { thread: this.thread } : {}) };
  }

  /** @internal Uploads one file of a staged generation (see s3_upload.ts), adding its size and CRC-32 to `totals`. */
  async upload(ref: ObjectRef, chunks: ByteChunks, totals: { size: number; crc32: number }): Promise<void> {
    try {
      await uploadObject(this.target(ref), chunks, totals);
    } catch (e) {
      throw s3Error('upload', ref, e);
    }
  }

  /** @internal Uploads a file another store holds (see uploadFile), setting `totals` to its size and CRC-32. */
  async uploadFrom(ref: ObjectRef, file: StoredFile, totals: { size: number; crc32: number }): Promise<void> {
    try {
      await uploadFile(this.target(ref), file, totals);
    } catch (e) {
      throw s3Error('upload', ref, e);
    }
  }

  /** @internal */
  async putObject(ref: ObjectRef, bytes: Uint8Array, generation?: string): Promise<void> {
    try {
      await this.calls.send(new PutObjectCommand({ Bucket: ref.bucket, Key: ref.key, Body: bytes, ...(generation ? { Metadata: { [GENERATION_META]: generation } } : {}) }));
    } catch (e) {
      throw s3Error('write', ref, e);
    }
  }

  /**
   * @internal Puts a marker only where none is: 'put', or 'taken' when the server refused because one
   * appeared since the HEAD (412), or 'retry' on a conflicting concurrent conditional write (409).
   */
  async putMarkerIfAbsent(ref: ObjectRef, bytes: Uint8Array, generation: string): Promise<'put' | 'taken' | 'retry'> {
    if (this.conditionalPuts) {
      try {
        await this.calls.send(new PutObjectCommand({ Bucket: ref.bucket, Key: ref.key, Body: bytes, IfNoneMatch: '*', Metadata: { [GENERATION_META]: generation } }));
        return 'put';
      } catch (e) {
        const status = statusOf(e);
        if (status === 412) return 'taken';
        if (status === 409) return 'retry';
        if (status !== 501 && (e as { name?: string })?.name !== 'NotImplemented') throw s3Error('write', ref, e);
        this.conditionalPuts = false;
      }
    }
    await this.putObject(ref, bytes, generation);
    return 'put';
  }

  /** @internal Whether `key` has a marker (is a committed checkpoint). */
  async hasMarker(key: StoreKey): Promise<boolean> {
    return (await this.head(objectOf(key, MARKER))) !== undefined;
  }

  /** @internal The generation the marker at `key` names, or undefined when there is none. */
  async markerOf(key: StoreKey): Promise<string | undefined> {
    return (await this.head(objectOf(key, MARKER)))?.generation;
  }

  /** @internal */
  hold(generation: string): () => void {
    this.live.add(generation);
    return () => this.live.delete(generation);
  }

  /** @internal A commit with no marker (a stock folder): its files are copied into place, not atomic (as stock saves never are). */
  async publishInPlace(key: StoreKey, generation: string, names: readonly string[]): Promise<void> {
    const dir = objectOf(keyDirname(key));
    for (const name of names) {
      const to = objectOf(key, name);
      try {
        await this.calls.send(new CopyObjectCommand({ Bucket: dir.bucket, Key: to.key, CopySource: encodeURI(`${dir.bucket}/${within(dir)}${generation}/${name}`) }));
      } catch (e) {
        throw s3Error('write', to, e);
      }
    }
    await this.deleteGeneration(key, generation);
  }

  /** @internal */
  async dropGeneration(key: StoreKey, generation: string): Promise<void> {
    await this.deleteGeneration(key, generation);
  }

  /** @internal Where a staged generation's file goes. */
  generationObject(key: StoreKey, generation: string, name: string): ObjectRef {
    const dir = objectOf(keyDirname(key));
    return { bucket: dir.bucket, key: `${within(dir)}${generation}/${name}` };
  }

  async stageFile(key: StoreKey, options: StageOptions = {}): Promise<StagedFile> {
    const ref = objectOf(key);
    if ((await this.anyUnder(ref)) !== undefined) {
      throw new CheckpointError('PATH_CONFLICT', `Cannot write a checkpoint file to ${show(ref)}: a folder or checkpoint with that name exists. Remove it or choose another filepath.`);
    }
    for (let dir = keyDirname(key); dir.split('/').length > 2; dir = keyDirname(dir)) {
      const parent = objectOf(dir);
      if (await this.head(parent)) throw new CheckpointError('PATH_CONFLICT', `Cannot write a checkpoint to ${show(ref)}: ${show(parent)} is an object, not a folder. Choose another filepath.`);
    }
    return new S3StagedFile(this, key, generationDir(keyBasename(key), randomGeneration()), options.claim);
  }

  /**
   * @internal Copies `from` to `to` on the server (no bytes through this process): 'put', or 'taken'
   * when `ifAbsent` and an object appeared at `to` meanwhile. Objects over 5 GiB, the limit of one
   * copy request, are copied in parts.
   */
  async copyObject(from: ObjectRef, to: ObjectRef, size: number, ifAbsent: boolean): Promise<'put' | 'taken'> {
    const source = encodeURI(`${from.bucket}/${from.key}`);
    const condition = ifAbsent && this.conditionalPuts ? { IfNoneMatch: '*' } : {};
    try {
      if (size <= MAX_COPY_BYTES) await this.calls.send(new CopyObjectCommand({ Bucket: to.bucket, Key: to.key, CopySource: source, ...condition }));
      else await copyInParts(this.calls, source, to, size, condition);
      return 'put';
    } catch (e) {
      const status = statusOf(e);
      if ('IfNoneMatch' in condition && status === 412) return 'taken';
      if ('IfNoneMatch' in condition && (status === 501 || (e as { name?: string })?.name === 'NotImplemented')) {
        this.conditionalPuts = false;
        return this.copyObject(from, to, size, ifAbsent);
      }
      throw s3Error('write', to, e);
    }
  }

  /**
   * @internal For reuse: copies `from` (of `size` bytes) to `to` on the server; false, copying nothing,
   * when `from` is not there at that size (replaced or deleted meanwhile: the caller uploads instead).
   */
  async copyIfPresent(from: ObjectRef, to: ObjectRef, size: number): Promise<boolean> {
    if ((await this.head(from))?.size !== size) return false;
    try {
      await this.copyObject(from, to, size, false);
      return true;
    } catch (e) {
      if (isMissing((e as { cause?: unknown })?.cause)) return false;
      throw e;
    }
  }

  /** @internal Whether an object is at `key`. */
  async objectExists(key: StoreKey): Promise<boolean> {
    return (await this.head(objectOf(key))) !== undefined;
  }

  async openFile(key: StoreKey): Promise<OpenedFile | undefined> {
    const ref = objectOf(key);
    const found = ref.key === '' ? undefined : await this.head(ref);
    if (!found) {
      if ((await this.anyUnder(ref)) !== undefined) throw new CheckpointError('PATH_CONFLICT', `${show(ref)} is a folder, not a single-file checkpoint.`);
      return undefined;
    }
    const where = show(ref);
    return {
      where,
      size: found.size,
      // Every range is asked of the version first seen: a replacement makes the read fail, never mix.
      read: async (dest, offset, length, position) => {
        if (length === 0) return;
        const got = await this.readRange(ref, dest.subarray(offset, offset + length), position, found.etag || undefined);
        if (got !== length) throw new CorruptCheckpointError(`${where} ended early while being read: the object is truncated or was replaced.`);
      },
      close: async () => undefined,
    };
  }

  async open(key: StoreKey): Promise<CheckpointReader | undefined> {
    const ref = objectOf(key);
    if (ref.key !== '' && (await this.head(ref))) throw new CheckpointError('PATH_CONFLICT', `${show(ref)} is an object, not a checkpoint.`);
    const marker = await this.readMarker(key);
    if (!marker && (await this.anyUnder(ref)) === undefined) return undefined;
    const etag = marker?.etag;
    // With a marker, files are in its generation; without (a stock folder), in place.
    const base = marker?.generation !== undefined ? this.generationObject(key, marker.generation, '').key : within(ref);
    const where = show(ref);
    // An object of the pinned generation that vanished while being read: it may be a replacement's
    // cleanup, which servers that report a PUT before its metadata settles (s3rver) show before the new marker.
    let sawMissing = false;
    const changed = (now: Awaited<ReturnType<S3Store['head']>>) =>
      now?.etag !== etag || now?.generation !== marker?.generation || (marker !== undefined && now?.size !== marker.bytes.byteLength);
    return {
      where,
      open: async (name): Promise<StoredFile | undefined> => {
        if (name === MARKER && marker) return bytesFile(marker.bytes, `${where}/${name}`);
        const object = { bucket: ref.bucket, key: `${base}${name}` };
        const found = await this.head(object);
        if (!found) return undefined; // absent, as optional files are (weights.json beside model.json)
        return {
          size: found.size,
          read: async (dest, offset, length, position) => {
            if (length === 0) return; // (s3rver never answers a range over nothing)
            const got = await this.readRange(object, dest.subarray(offset, offset + length), position);
            if (got !== length) sawMissing = true;
            if (got !== length) throw new CorruptCheckpointError(`${where}/${name} ended early while being read: the object is truncated or was replaced.`);
          },
        };
      },
      confirm: async () => {
        // ETag, generation and size: a server that writes objects in place (s3rver) can serve a marker
        // half-written under its old ETag; the size it ends with tells. After a missing object, the
        // marker is asked again a few times before the checkpoint is called damaged.
        for (let attempt = 0; ; attempt++) {
          if (changed(await this.head(objectOf(key, MARKER)))) throw new GenerationChanged(where);
          if (!sawMissing || attempt >= 3) return;
          await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt));
        }
      },
      close: async () => undefined,
    };
  }

  async list(prefix: StoreKey, { depth, accept = () => true, files }: ListOptions): Promise<ListedCheckpoint[]> {
    const ref = objectOf(prefix);
    const start = within(ref);
    const out: ListedCheckpoint[] = [];
    for (const object of await this.listAll(ref.bucket, start, ref)) {
      const segments = object.key.slice(start.length).split('/');
      if (files && segments.length === depth && files(segments[depth - 1]!)) {
        if (segments.every((s, level) => s !== '' && generationOwner(s) === undefined && accept(level, s))) {
          out.push({ key: `${prefix === '/' ? '' : prefix}/${segments.join('/')}`, file: true, modifiedNs: BigInt(object.modified) * 1_000_000n });
        }
        continue;
      }
      if (segments.length !== depth + 1 || segments[depth] !== MARKER) continue;
      const names = segments.slice(0, depth);
      if (names.some((s) => s === '' || generationOwner(s) !== undefined) || !names.every((s, level) => accept(level, s))) continue;
      out.push({ key: `${prefix === '/' ? '' : prefix}/${names.join('/')}`, modifiedNs: BigInt(object.modified) * 1_000_000n });
    }
    return out;
  }

  async exists(key: StoreKey): Promise<boolean> {
    const ref = objectOf(key);
    // Both at once: a checkpoint's name is checked while fit waits, and one round trip costs less
    // than two (an object of that name, or anything under it as a folder).
    const [object, under] = await Promise.all([ref.key !== '' ? this.head(ref) : undefined, this.anyUnder(ref)]);
    return object !== undefined || under !== undefined;
  }

  async namesIn(dir: StoreKey): Promise<Set<string>> {
    const ref = objectOf(dir);
    const prefix = within(ref);
    // Every key under the prefix, cut to its first segment: objects (single files, small objects) and
    // folders (checkpoints, anything under a name). Not a Delimiter listing: s3rver leaves out the
    // folders whose keys lie two or more levels down.
    const names = new Set<string>();
    for (const object of await this.listAll(ref.bucket, prefix, ref)) {
      const name = object.key.slice(prefix.length).split('/')[0];
      if (name) names.add(name);
    }
    return names;
  }

  async remove(key: StoreKey): Promise<void> {
    const ref = objectOf(key, MARKER);
    const marker = await this.head(ref);
    if (!marker) {
      // A single-file checkpoint: one object, deleted in one request.
      const file = objectOf(key);
      if (file.key !== '' && (await this.head(file))) {
        try {
          await this.calls.send(new DeleteObjectCommand({ Bucket: file.bucket, Key: file.key }));
        } catch (e) {
          if (!isMissing(e)) throw s3Error('delete', file, e);
        }
      }
      return;
    }
    const generation = marker.generation;
    try {
      await this.calls.send(new DeleteObjectCommand({ Bucket: ref.bucket, Key: ref.key })); // invisible from here on
    } catch (e) {
      throw s3Error('delete', ref, e);
    }
    if (generation !== undefined) await this.deleteGeneration(key, generation).catch(() => undefined); // else recover() finishes it
  }

  async readSmall(key: StoreKey, maxBytes: number): Promise<Uint8Array | undefined> {
    const ref = objectOf(key);
    const found = await this.head(ref);
    if (!found) return undefined;
    if (found.size > maxBytes) throw new CorruptCheckpointError(`${show(ref)} is ${found.size} bytes, more than the ${maxBytes} it may have.`);
    return (await this.getBytes(ref))?.bytes;
  }

  async writeSmall(key: StoreKey, bytes: Uint8Array): Promise<void> {
    const ref = objectOf(key);
    if ((await this.anyUnder(ref)) !== undefined) throw new CheckpointError('PATH_CONFLICT', `Cannot write ${show(ref)}: a checkpoint or folder has that name. Choose another path.`);
    await this.putObject(ref, bytes);
  }

  async removeSmall(key: StoreKey): Promise<void> {
    const ref = objectOf(key);
    try {
      await this.calls.send(new DeleteObjectCommand({ Bucket: ref.bucket, Key: ref.key }));
    } catch (e) {
      if (!isMissing(e)) throw s3Error('delete', ref, e);
    }
  }

  /**
   * Generations in `dir` of checkpoints `isOurs` accepts that no marker names, that this process is not
   * writing, and whose newest object is older than orphanAgeSeconds: a crashed writer's. Removed.
   */
  async recover(dir: StoreKey, isOurs: (name: string) => boolean): Promise<StoreKey[]> {
    const ref = objectOf(dir);
    const start = within(ref);
    const now = Date.now();
    const generations = new Map<string, number>();
    const markers: string[] = [];
    for (const object of await this.listAll(ref.bucket, start, ref)) {
      const [first, second, third] = object.key.slice(start.length).split('/');
      if (!first) continue;
      if (second === MARKER && third === undefined) markers.push(first);
      const owner = generationOwner(first);
      if (owner === undefined || !isOurs(owner)) continue;
      generations.set(first, Math.max(generations.get(first) ?? 0, object.modified));
    }
    const orphans = [...generations].filter(([generation, newest]) => !this.live.has(generation) && now - newest >= this.orphanAgeMs).map(([g]) => g);
    if (orphans.length === 0) return [];
    // A generation is in use while any marker in the directory names it (a claimed name points to another's generation).
    const named = new Set<string>();
    for (const name of markers) {
      const generation = await this.markerOf(`${dir === '/' ? '' : dir}/${name}`);
      if (generation !== undefined) named.add(generation);
    }
    const removed: StoreKey[] = [];
    for (const generation of orphans) {
      if (named.has(generation)) continue;
      const key = `${dir === '/' ? '' : dir}/${generation}`;
      await this.deleteGeneration(key, generation);
      removed.push(key);
    }
    return removed;
  }
}

class S3Staged implements StagedCheckpoint {
  private readonly files: WrittenFile[] = [];
  private marker: Uint8Array | undefined;
  private readonly release: () => void;
  private done = false;
  private committed = false;
  /** Where the generation was uploaded (the key before any claim). */
  private readonly originalKey: StoreKey;

  constructor(
    private readonly store: S3Store,
    public key: StoreKey,
    private readonly generation: string,
    private readonly claim: ((taken: StoreKey) => StoreKey) | undefined,
  ) {
    this.release = store.hold(generation);
    this.originalKey = key;
  }

  async write(name: string, chunks: ByteChunks): Promise<WrittenFile> {
    if (this.done) throw new Error('This staged checkpoint was committed or aborted already.');
    const totals = { size: 0, crc32: 0 };
    if (name === MARKER) {
      // The marker is put at commit, in one request; it is small (the format's metadata).
      const collected = await collectChunks(chunks);
      Object.assign(totals, { size: collected.size, crc32: collected.crc32 });
      this.marker = collected.bytes;
    } else {
      await this.store.upload(this.store.generationObject(this.originalKey, this.generation, name), chunks, totals);
    }
    const file = { name, ...totals };
    this.files.push(file);
    return file;
  }

  /** A file another store holds (a `localCache` upload), read into reused part buffers. */
  async writeFile(name: string, file: StoredFile): Promise<WrittenFile> {
    if (this.done) throw new Error('This staged checkpoint was committed or aborted already.');
    if (name === MARKER) throw new Error(`${MARKER} is written with write(), not writeFile().`);
    const totals = { size: 0, crc32: 0 };
    await this.store.uploadFrom(this.store.generationObject(this.originalKey, this.generation, name), file, totals);
    const written = { name, ...totals };
    this.files.push(written);
    return written;
  }

  /** A file of the committed checkpoint at `from`, copied on the server into this generation: no bytes through this process. */
  async reuse(name: string, from: StoreKey, expected: { size: number; crc32: number }): Promise<WrittenFile | undefined> {
    if (this.done) throw new Error('This staged checkpoint was committed or aborted already.');
    if (name === MARKER) return undefined;
    const generation = await this.store.markerOf(from);
    if (generation === undefined) return undefined;
    const copied = await this.store.copyIfPresent(this.store.generationObject(from, generation, name), this.store.generationObject(this.originalKey, this.generation, name), expected.size);
    if (!copied) return undefined;
    const file = { name, size: expected.size, crc32: expected.crc32 };
    this.files.push(file);
    return file;
  }

  written(): readonly WrittenFile[] {
    return this.files;
  }

  async commit(): Promise<StoreKey> {
    if (this.done) throw new Error('This staged checkpoint was committed or aborted already.');
    this.done = true;
    try {
      const names = this.files.map((f) => f.name);
      if (!this.marker) {
        await this.store.publishInPlace(this.key, this.generation, names);
        this.committed = true;
        return this.key;
      }
      // A claimed name stays in the same directory, so the marker there can name this generation as it is.
      if (this.claim) {
        for (;;) {
          while (await this.store.hasMarker(this.key)) this.key = this.claim(this.key);
          const outcome = await this.store.putMarkerIfAbsent(objectOf(this.key, MARKER), this.marker, this.generation);
          if (outcome === 'put') break;
          if (outcome === 'taken') this.key = this.claim(this.key);
        }
        this.committed = true;
        return this.key;
      }
      const previous = await this.store.markerOf(this.key);
      await this.store.putObject(objectOf(this.key, MARKER), this.marker, this.generation);
      this.committed = true;
      // Committed: removing the replaced generation is tidying; recover() finishes it if this fails.
      if (previous !== undefined && previous !== this.generation) await this.store.dropGeneration(this.key, previous).catch(() => undefined);
      return this.key;
    } catch (e) {
      if (!this.committed) await this.abortUploads();
      throw e;
    } finally {
      this.release();
    }
  }

  private async abortUploads(): Promise<void> {
    await this.store.dropGeneration(this.originalKey, this.generation).catch(() => undefined);
  }

  async abort(): Promise<void> {
    if (this.committed) return;
    this.done = true;
    try {
      await this.abortUploads();
    } finally {
      this.release();
    }
  }
}


/** The largest object one CopyObject request may copy (S3's limit); larger ones are copied in parts. */
const MAX_COPY_BYTES = 5 * 1024 ** 3;
const COPY_PART_BYTES = 1024 ** 3;

/** A server-side copy of an object over 5 GiB: a multipart upload whose parts are copied ranges. */
async function copyInParts(client: S3Sender, source: string, to: ObjectRef, size: number, condition: { IfNoneMatch?: string }): Promise<void> {
  const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: to.bucket, Key: to.key }));
  try {
    const parts: { ETag: string; PartNumber: number }[] = [];
    for (let start = 0, n = 1; start < size; start += COPY_PART_BYTES, n++) {
      const end = Math.min(size, start + COPY_PART_BYTES) - 1;
      const r = await client.send(new UploadPartCopyCommand({ Bucket: to.bucket, Key: to.key, UploadId, PartNumber: n, CopySource: source, CopySourceRange: `bytes=${start}-${end}` }));
      parts.push({ ETag: r.CopyPartResult?.ETag ?? '', PartNumber: n });
    }
    await client.send(new CompleteMultipartUploadCommand({ Bucket: to.bucket, Key: to.key, UploadId, MultipartUpload: { Parts: parts }, ...condition }));
  } catch (e) {
    await client.send(new AbortMultipartUploadCommand({ Bucket: to.bucket, Key: to.key, UploadId })).catch(() => undefined);
    throw e;
  }
}

/**
 * A single-file checkpoint on S3: uploaded to a temporary object in a generation folder beside its
 * name (invisible to listings; `recover` removes it if its writer dies), then copied to its name on
 * the server, which makes it appear all at once. Claims use `If-None-Match: *` on the copy.
 */
class S3StagedFile implements StagedFile {
  private readonly release: () => void;
  private readonly temp: ObjectRef;
  private readonly originalKey: StoreKey;
  private written: WrittenFile | undefined;
  private done = false;

  constructor(
    private readonly store: S3Store,
    public key: StoreKey,
    private readonly generation: string,
    private readonly claim: ((taken: StoreKey) => StoreKey) | undefined,
  ) {
    this.release = store.hold(generation);
    this.originalKey = key;
    this.temp = store.generationObject(key, generation, keyBasename(key));
  }

  async write(chunks: ByteChunks): Promise<WrittenFile> {
    if (this.done || this.written) throw new Error('This staged file was written, committed or aborted already.');
    const totals = { size: 0, crc32: 0 };
    await this.store.upload(this.temp, chunks, totals);
    this.written = { name: keyBasename(this.key), ...totals };
    return this.written;
  }

  async commit(): Promise<StoreKey> {
    if (this.done || !this.written) throw new Error('This staged file was not written, or was committed or aborted already.');
    this.done = true;
    try {
      const size = this.written.size;
      if (this.claim) {
        for (;;) {
          while (await this.store.objectExists(this.key)) this.key = this.claim(this.key);
          if ((await this.store.copyObject(this.temp, objectOf(this.key), size, true)) === 'put') break;
          this.key = this.claim(this.key);
        }
      } else {
        await this.store.copyObject(this.temp, objectOf(this.key), size, false);
      }
      return this.key;
    } finally {
      await this.store.dropGeneration(this.originalKey, this.generation).catch(() => undefined);
      this.release();
    }
  }

  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    try {
      await this.store.dropGeneration(this.originalKey, this.generation).catch(() => undefined);
    } finally {
      this.release();
    }
  }
}
