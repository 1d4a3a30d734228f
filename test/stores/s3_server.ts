/**
 * An S3 test server: s3rver 3.7.1 in a child process, for the S3 store's tests.
 *
 * Why a child process: s3rver builds ListObjectsV2 continuation tokens with DES
 * (`crypto.createCipheriv('des', …)`), which Node 20's OpenSSL 3 refuses unless the legacy
 * provider is loaded (`error:0308010C:digital envelope routines::unsupported`). The failure is
 * not limited to requests that send a ContinuationToken: any list response that is truncated
 * must *generate* a NextContinuationToken, so the first page of a paginated listing already
 * fails (500 InternalError). Providers can only be loaded at process start, so the server runs
 * as `node --openssl-legacy-provider -e <script>`; the test process itself needs no flag.
 * The child is also what makes `pause()` realistic: it is SIGKILLed, so in-flight requests see a
 * dropped connection, and nothing of the server lingers in the test process's event loop.
 *
 * Quirks of s3rver with the AWS SDK v3 are recorded as tests in s3_server.test.ts.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface S3TestServer {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  port: number;
  /** s3rver's storage directory (one sub-directory per bucket); removed by `stop()`. */
  directory: string;
  /** A new S3Client for this server: path-style, dummy credentials, checksums only when required. */
  client(): S3Client;
  /** Kills the server and removes its directory. Idempotent. */
  stop(): Promise<void>;
  /** Kills the server abruptly (SIGKILL: open connections drop); the directory is kept. */
  pause(): Promise<void>;
  /** Restarts a paused server on the same port and directory. */
  resume(): Promise<void>;
}

/** Credentials s3rver knows. It checks only the access key id (V4 signatures are not verified). */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

const S3RVER_MAIN = createRequire(import.meta.url).resolve('s3rver');
const START_TIMEOUT_MS = 15_000;

/**
 * Runs in the child (CommonJS, `node --openssl-legacy-provider -e`). argv: s3rver's main file,
 * directory, port, JSON list of buckets. Prints `{"port":N}` once listening; exits when its
 * stdin closes (so it cannot outlive the test process) or on a listen error.
 */
const CHILD_SCRIPT = `
'use strict';
const http = require('http');
const [main, directory, port, buckets] = process.argv.slice(1);
const S3rver = require(main);
const app = new S3rver({
  address: '127.0.0.1',
  port: Number(port),
  silent: true,
  directory,
  configureBuckets: JSON.parse(buckets).map((name) => ({ name })),
});
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
app.configureBuckets().then(() => {
  const server = http.createServer(app.callback());
  app.httpServer = server;
  server.on('error', (err) => { console.error(err && err.stack || err); process.exit(2); });
  server.listen(Number(port), '127.0.0.1', () => {
    process.stdout.write(JSON.stringify({ port: server.address().port }) + '\\n');
  });
}, (err) => { console.error(err && err.stack || err); process.exit(2); });
`;

interface Running {
  child: ChildProcess;
  port: number;
  exited: Promise<void>;
}

async function spawnServer(directory: string, port: number, buckets: string[]): Promise<Running> {
  const env = { ...process.env };
  delete env['NODE_TEST_CONTEXT']; // set by node --test for its children; not ours to inherit
  delete env['NODE_OPTIONS']; // e.g. tsx's --import: the child is plain CommonJS
  const child = spawn(
    process.execPath,
    ['--openssl-legacy-provider', '-e', CHILD_SCRIPT, S3RVER_MAIN, directory, String(port), JSON.stringify(buckets)],
    { stdio: ['pipe', 'pipe', 'pipe'], env },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
  });
  const actualPort = await new Promise<number>((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => fail(new Error(`s3rver did not start within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
    const fail = (err: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(err);
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
      fail(new Error(`s3rver exited during start (${code ?? signal}): ${stderr.trim()}`));
    child.once('error', fail);
    child.once('exit', onExit);
    child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
      const nl = stdout.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      child.removeListener('exit', onExit);
      child.removeListener('error', fail);
      try {
        resolve((JSON.parse(stdout.slice(0, nl)) as { port: number }).port);
      } catch (err) {
        fail(err as Error);
      }
    });
  });
  // From here on the child must not keep the test process alive: a test that forgets stop()
  // still ends, its stdin pipe closes, and the child exits.
  child.on('error', () => {});
  child.unref();
  for (const s of [child.stdin, child.stdout, child.stderr]) (s as unknown as { unref?: () => void }).unref?.();
  return { child, port: actualPort, exited };
}

/** Servers not yet stopped: a test process that ends without stop() still kills them and removes their directories. */
const live = new Map<string, () => ChildProcess | undefined>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const [directory, child] of live) {
      child()?.kill('SIGKILL');
      rmSync(directory, { recursive: true, force: true, maxRetries: 3 });
    }
  });
}

async function kill(running: Running): Promise<void> {
  if (running.child.exitCode === null && running.child.signalCode === null) {
    running.child.ref(); // an unref'd child would let the test process end before 'exit' arrives
    running.child.kill('SIGKILL');
  }
  await running.exited;
}

/** Starts s3rver on 127.0.0.1 (a free port) in a fresh temporary directory, with the given buckets. */
export async function startS3Server(options: { buckets?: string[] } = {}): Promise<S3TestServer> {
  const buckets = options.buckets ?? ['bucket'];
  const directory = await mkdtemp(join(tmpdir(), 's3rver-'));
  let running: Running | undefined;
  try {
    running = await spawnServer(directory, 0, buckets);
  } catch (err) {
    await rm(directory, { recursive: true, force: true });
    throw err;
  }
  installExitHook();
  live.set(directory, () => running?.child);
  const port = running.port;
  const endpoint = `http://127.0.0.1:${port}`;
  let stopped = false;
  const clients: S3Client[] = [];
  // stop/pause/resume run one at a time, in call order (e.g. a pause() fired from a stream callback).
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = queue.then(fn);
    queue = p.catch(() => undefined);
    return p;
  };

  return {
    endpoint,
    port,
    directory,
    client() {
      // The SDK nags once per process on Node < 22 (NodeVersionSupportWarning); not news in tests.
      process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
      const client = new S3Client({
        endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { ...S3RVER_CREDENTIALS },
        // s3rver understands neither aws-chunked uploads nor flexible checksums (see the tests).
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      });
      clients.push(client);
      return client;
    },
    stop: () =>
      serial(async () => {
        if (stopped) return;
        stopped = true;
        for (const c of clients.splice(0)) c.destroy();
        if (running) await kill(running);
        running = undefined;
        await rm(directory, { recursive: true, force: true });
        live.delete(directory);
      }),
    pause: () =>
      serial(async () => {
        if (stopped) throw new Error('S3 test server is stopped');
        if (running) await kill(running);
        running = undefined;
      }),
    resume: () =>
      serial(async () => {
        if (stopped) throw new Error('S3 test server is stopped');
        if (running) return;
        // The buckets already exist in the directory; configuring them again is harmless.
        running = await spawnServer(directory, port, buckets);
      }),
  };
}
