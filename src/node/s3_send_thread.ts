/**
 * Node: the S3 store's upload thread (see stores/s3_thread_body.ts). It reads each part's bytes from
 * their source (a descriptor of this process's, or shared memory), hashes or checksums them, and
 * sends a request the SDK has signed over its own keep-alive connections, so no byte of an upload
 * passes through the main thread. At the lowest priority: training comes first.
 */
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import { setBodySender, type BodySender, type BodySource, type SendTimeouts, type SentResponse, type SignedRequest } from '../stores/s3_thread_body.js';
import type { ThreadClient, ThreadClientOptions } from '../stores/s3_thread_calls.js';
import { HelperThread } from './helper_thread.js';
import { moduleUrl } from './module_url.js';

const SOURCE = `
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const { createHash } = require('node:crypto');
const { crc32 } = require('node:zlib');
const agents = { 'http:': new http.Agent({ keepAlive: true }), 'https:': new https.Agent({ keepAlive: true }) };
// Reused 1 MiB read buffers: fresh memory costs as much as the copy it holds on some machines.
const PIECE = 1024 * 1024;
const free = [];
function readAt(fd, buffer, length, position) {
  return new Promise((resolve, reject) => fs.read(fd, buffer, 0, length, position, (e, n) => (e ? reject(e) : resolve(n))));
}
// Hands the source's bytes to take(piece), in order, until it answers false; a piece's memory is
// reused once take's promise settles.
async function eachPiece(source, take) {
  if (source.shared) return void (await take(Buffer.from(source.shared, source.offset, source.length)));
  const buffer = free.pop() || Buffer.allocUnsafeSlow(PIECE);
  try {
    for (let at = 0; at < source.length; ) {
      const n = await readAt(source.fd, buffer, Math.min(PIECE, source.length - at), source.offset + at);
      if (n === 0) throw Object.assign(new Error('the file ended before the part did'), { code: 'EOF' });
      if ((await take(buffer.subarray(0, n))) === false) return;
      at += n;
    }
  } finally {
    free.push(buffer);
  }
}
function timeout(message) {
  return Object.assign(new Error(message), { name: 'TimeoutError' });
}
function send({ request, source, timeouts }) {
  return new Promise((resolve, reject) => {
    const headers = request.headers;
    const lib = request.protocol === 'https:' ? https : http;
    // An IPv6 host comes bracketed, as in URLs; Node wants it bare (so does the SDK's handler).
    const hostname = /^\\[.*\\]$/.test(request.hostname) ? request.hostname.slice(1, -1) : request.hostname;
    const req = lib.request({ protocol: request.protocol, hostname, port: request.port, method: request.method, path: request.path, headers, agent: agents[request.protocol] });
    let done = false;
    // Whether the whole body went out.
    let sent = false;
    const connecting = setTimeout(() => fail(timeout('Socket timed out without establishing a connection within ' + timeouts.connectionMs + ' ms')), timeouts.connectionMs);
    function fail(e) {
      if (done) return;
      done = true;
      clearTimeout(connecting);
      req.destroy();
      reject(e);
    }
    req.on('socket', (socket) => {
      if (!socket.connecting) clearTimeout(connecting);
      else socket.once('connect', () => clearTimeout(connecting));
    });
    req.setTimeout(timeouts.socketMs, () => fail(timeout('Connection timed out after ' + timeouts.socketMs + ' ms')));
    // A server may answer (say, 403) and close before taking the whole body: writing then fails, but
    // its answer is what the SDK must see. So an error counts only if the request closes unanswered.
    let error;
    req.on('error', (e) => void (error ??= e));
    req.on('close', () => fail(error || Object.assign(new Error('the connection closed before an answer came'), { code: 'ECONNRESET' })));
    req.on('response', (res) => {
      const body = [];
      res.on('data', (c) => body.push(c));
      res.on('error', fail);
      res.on('end', () => {
        if (done) return;
        done = true;
        clearTimeout(connecting);
        // Answered before the whole body went out (an error): this connection cannot carry another request.
        if (!sent) req.destroy();
        const flat = {};
        for (const [k, v] of Object.entries(res.headers)) flat[k] = Array.isArray(v) ? v.join(',') : String(v);
        const bytes = Buffer.concat(body);
        const out = new Uint8Array(bytes.byteLength);
        out.set(bytes);
        resolve({ statusCode: res.statusCode, reason: res.statusMessage, headers: flat, body: out });
      });
    });
    const sendBody = () => eachPiece(source, (piece) => done ? false : new Promise((written, failed) => req.write(piece, (e) => (e ? failed(e) : written(true)))))
      .then(
        () => {
          if (done) return;
          sent = true;
          req.end();
        },
        (e) => {
          // A file that cannot be read is ours to report; a write that failed waits for the close (above).
          if (e && (e.code === 'EOF' || e.syscall === 'read')) fail(e);
          else error ??= e;
        },
      );
    // As the SDK's own handler does: with 'Expect: 100-continue' (large bodies), the body goes once the
    // server says continue (or has not answered in 6 s); a server that answers at once (a refusal)
    // gets no body, and its answer is the response.
    const expect = Object.keys(headers).find((k) => k.toLowerCase() === 'expect');
    if (!expect || String(headers[expect]).toLowerCase() !== '100-continue') return void sendBody();
    let decided = false;
    const decide = (go) => {
      if (decided) return;
      decided = true;
      clearTimeout(waiting);
      if (go) sendBody();
    };
    const waiting = setTimeout(() => decide(true), 6000);
    req.once('continue', () => decide(true));
    req.once('response', () => decide(false));
    req.once('error', () => decide(false));
  });
}
// Whole S3 requests on this thread (see stores/s3_thread_calls.ts): a client per store, made with
// the SDK the main thread resolved, from the store's plain options.
let sdk;
const clients = new Map();
// A body read from a file this process holds open, one fresh stream per attempt (a retry resends it whole).
class FileRange {
  constructor(source) {
    this.source = source;
  }
}
function bodyFrom(body) {
  if (!body || !body.$source) return body;
  const source = body.$source;
  if (source.shared) return Buffer.from(source.shared, source.offset, source.length);
  return source.length > 0 ? new FileRange(source) : Buffer.alloc(0);
}
function hasHeader(headers, name) {
  return Object.keys(headers).some((h) => h.toLowerCase() === name);
}
function openClient({ id, sdkPath, config, unsigned }) {
  // The main thread's client has said it once already.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  sdk ??= require(sdkPath);
  const state = { credentials: undefined };
  const client = new sdk.S3Client({ ...config, credentials: async () => state.credentials });
  client.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request;
      if (request && request.headers && request.body !== undefined && request.body !== null && !hasHeader(request.headers, 'x-amz-content-sha256')) {
        // As the main thread's client would (stores/s3_payload_signing.ts); a file's range is hashed
        // here (the signer hashes only bytes in memory).
        if (unsigned === 'never' || (unsigned === 'https' && request.protocol === 'https:')) request.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
        else if (request.body instanceof FileRange) request.headers['x-amz-content-sha256'] = await ops.sha256({ source: request.body.source });
      }
      return next(args);
    },
    { step: 'build', priority: 'low', name: 'tfjsCheckpointPayloadHash' },
  );
  client.middlewareStack.add(
    (next) => async (args) => {
      // The signed copy of this attempt's request: the original keeps the FileRange for a retry.
      const request = args.request;
      if (request && request.body instanceof FileRange) {
        const { fd, offset, length } = request.body.source;
        request.body = fs.createReadStream('', { fd, start: offset, end: offset + length - 1, autoClose: false, highWaterMark: PIECE });
      }
      return next(args);
    },
    { step: 'deserialize', priority: 'low', name: 'tfjsCheckpointFileBody' },
  );
  clients.set(id, { client, state });
  return true;
}
async function call({ client: id, command, input, credentials }) {
  const opened = clients.get(id);
  opened.state.credentials = credentials;
  const output = await opened.client.send(new sdk[command + 'Command']('Body' in input ? { ...input, Body: bodyFrom(input.Body) } : input));
  return { output };
}
const ops = {
  open: async (args) => openClient(args),
  call,
  async sha256({ source }) {
    const hash = createHash('sha256');
    await eachPiece(source, (piece) => void hash.update(piece));
    return hash.digest('hex');
  },
  async crc32({ source, previous }) {
    let crc = previous;
    await eachPiece(source, (piece) => void (crc = crc32(piece, crc)));
    return crc;
  },
  send,
};
parentPort.on('message', ({ id, op, args }) => {
  ops[op](args)
    .then((result) => parentPort.postMessage({ id, result }, result && result.body ? [result.body.buffer] : []))
    // (A result that cannot be posted, too.)
    .catch((e) => parentPort.postMessage({ id, error: errorReply(e) }));
});
`;

const thread = new HelperThread(SOURCE, {
  lowPriority: true,
  available: typeof (zlib as { crc32?: unknown }).crc32 === 'function',
  // The SDK, sockets, TLS and a few 1 MiB buffers.
  resourceLimits: { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: 192 },
});

/** The SDK's CommonJS entry as installed beside this library (the thread `require`s it), or undefined. */
function sdkPath(): string | undefined {
  try {
    return createRequire(moduleUrl).resolve('@aws-sdk/client-s3');
  } catch {
    return undefined;
  }
}

let clients = 0;

function openClient(options: ThreadClientOptions): ThreadClient | undefined {
  const path = sdkPath();
  if (path === undefined || !thread.available) return undefined;
  const id = clients++;
  // Resolves false where the SDK could not load there: every command is then sent from the main thread.
  const opened = (thread.run('open', { id, sdkPath: path, ...options }) as Promise<boolean | undefined>).then(
    (ok) => ok === true,
    () => false,
  );
  return {
    async call(command, input, credentials) {
      if (!(await opened)) return undefined;
      return (await thread.run('call', { client: id, command, input, credentials })) as { output: unknown } | undefined;
    },
  };
}

interface ThreadResponse {
  statusCode: number;
  reason?: string;
  headers: Record<string, string>;
  body: Uint8Array;
}

export const threadSender: BodySender = {
  available: () => thread.available,
  sha256: (source: BodySource) => thread.run('sha256', { source }) as Promise<string | undefined>,
  crc32: (source: BodySource, previous: number) => thread.run('crc32', { source, previous }) as Promise<number | undefined>,
  async send(request: SignedRequest, source: BodySource, timeouts: SendTimeouts): Promise<SentResponse | undefined> {
    const r = (await thread.run('send', { request, source, timeouts })) as ThreadResponse | undefined;
    if (r === undefined) return undefined;
    // A stream, as the SDK's own handler gives it.
    return { statusCode: r.statusCode, ...(r.reason !== undefined ? { reason: r.reason } : {}), headers: r.headers, body: Readable.from(r.body.byteLength > 0 ? [Buffer.from(r.body.buffer, r.body.byteOffset, r.body.byteLength)] : []) };
  },
  openClient,
};

/** Installs the thread as the S3 store's sender (the Node entry calls this). */
export function useS3SendThread(): void {
  setBodySender(threadSender);
}
