/**
 * Upload bodies sent by another thread: the fallback route, for where the SDK cannot be loaded on the
 * upload thread (see s3_thread_calls.ts, the usual route, where the SDK itself runs there). Every
 * per-byte step of an S3 upload (hashing the body for its signature, its CRC-32, writing it to the
 * socket) costs the main thread, where training runs: about 800 ms per 400 MB here. On this route a
 * part's request is still built, signed, retried and its answer parsed by the SDK on the main thread
 * (a few hundred bytes of headers, about 1 ms a request), but its body is a `ThreadBody`: where the
 * bytes are (a file this process holds open, or shared memory), not the bytes. Two steps on the
 * client see to it:
 *  - before signing, a body to be signed is hashed on the sender's thread and the hash set as
 *    `x-amz-content-sha256` (the signer takes that header as the hash and reads no bytes);
 *  - after signing, where the SDK would send the request, the sender's thread sends it (signed
 *    headers as they are, the body read from its source) and hands back the status, headers and the
 *    few bytes of the answer, which the SDK then parses as its own.
 * Where the sender cannot (no such thread in this runtime, or it died), `bytes()` gives the body here
 * and the SDK does the rest as usual. The sender is installed by the Node entry (node/s3_send_thread.ts);
 * this module itself runs anywhere.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { ThreadClient, ThreadClientOptions } from './s3_thread_calls.js';

/** Where a body's bytes are, in a form another thread of this process can read. */
export type BodySource =
  /** A file this process holds open (threads share descriptors), from `offset`. */
  | { fd: number; offset: number; length: number }
  /** Shared memory. */
  | { shared: SharedArrayBuffer; offset: number; length: number };

/** A signed request as the SDK would send it. */
export interface SignedRequest {
  protocol: string;
  hostname: string;
  port?: number;
  method: string;
  /** Path and query string. */
  path: string;
  headers: Record<string, string>;
}

/** An answer in the form the SDK's own HTTP handler gives it. */
export interface SentResponse {
  statusCode: number;
  reason?: string;
  headers: Record<string, string>;
  body: unknown;
}

export interface SendTimeouts {
  /** Give up on a connection not made within this (ms). */
  connectionMs: number;
  /** Give up on a socket silent for this long (ms). */
  socketMs: number;
}

/** Another thread's steps; each resolves undefined when that thread cannot take it (the caller then does it). */
export interface BodySender {
  /** Whether the thread can take work at all (false: send from the main thread from the start). */
  available(): boolean;
  sha256(source: BodySource): Promise<string | undefined>;
  /** The CRC-32 of the bytes before (`previous`) followed by the source's. */
  crc32(source: BodySource, previous: number): Promise<number | undefined>;
  send(request: SignedRequest, source: BodySource, timeouts: SendTimeouts): Promise<SentResponse | undefined>;
  /** A client of the SDK's own on the thread, for whole requests (see s3_thread_calls.ts); undefined where it cannot load the SDK. */
  openClient?(options: ThreadClientOptions): ThreadClient | undefined;
}

let installed: BodySender | undefined;

/** The runtime's sender (the Node entry installs one); undefined: bodies are sent from the main thread. */
export function bodySender(): BodySender | undefined {
  return installed;
}

export function setBodySender(sender: BodySender | undefined): void {
  installed = sender;
}

/** An upload's body that the sender's thread reads and sends; `bytes()` gives them here when it cannot. */
export class ThreadBody {
  constructor(
    readonly source: BodySource,
    readonly bytes: () => Promise<Uint8Array>,
  ) {}

  get length(): number {
    return this.source.length;
  }
}

const CONTENT_SHA256 = 'x-amz-content-sha256';

interface RequestShape {
  protocol: string;
  hostname: string;
  port?: number;
  method: string;
  path: string;
  query?: Record<string, string | string[] | null | undefined>;
  headers: Record<string, string>;
  body?: unknown;
}

/** As the SDK's query builder escapes: RFC 3986, so `!'()*` too. */
function escape(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function pathWithQuery(request: RequestShape): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(request.query ?? {})) {
    if (value === undefined) continue;
    if (value === null) parts.push(escape(key));
    else for (const v of Array.isArray(value) ? value : [value]) parts.push(`${escape(key)}=${escape(v)}`);
  }
  return parts.length > 0 ? `${request.path}?${parts.join('&')}` : request.path;
}

/**
 * Has `client` send `ThreadBody` bodies through `sender` (other bodies as before). For a client this
 * store made: its requests go out through the sender's own connections, so the client's HTTP
 * settings beyond `timeouts` (a custom agent, a proxy) would not apply.
 */
export function sendBodiesOnThread(client: S3Client, sender: BodySender, timeouts: SendTimeouts): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as RequestShape | undefined;
      if (request?.body instanceof ThreadBody && !Object.keys(request.headers).some((h) => h.toLowerCase() === CONTENT_SHA256)) {
        const hash = await sender.sha256(request.body.source);
        if (hash !== undefined) request.headers[CONTENT_SHA256] = hash;
        else request.body = await request.body.bytes(); // the signer hashes them here
      }
      return next(args);
    },
    // After the request is built and after unsignedPayloads (s3_payload_signing.ts), before signing.
    { step: 'build', priority: 'low', name: 'tfjsCheckpointThreadBodyHash' },
  );
  client.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as RequestShape | undefined;
      if (!(request?.body instanceof ThreadBody)) return next(args);
      const { protocol, hostname, port, method, headers } = request;
      const response = await sender.send({ protocol, hostname, ...(port !== undefined ? { port } : {}), method, path: pathWithQuery(request), headers }, request.body.source, timeouts);
      if (response !== undefined) return { response, output: undefined as never };
      request.body = await request.body.bytes();
      return next(args);
    },
    // Innermost, where the SDK's HTTP handler would be called: after signing, inside each retry.
    { step: 'deserialize', priority: 'low', name: 'tfjsCheckpointThreadBodySend' },
  );
}
