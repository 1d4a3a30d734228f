/**
 * What the browser tests share: a static server on 127.0.0.1 (storage APIs need a secure context, and
 * localhost is one; about:blank and data: are not), and Debian's Chromium driven by playwright-core,
 * never a downloaded browser. Without /usr/bin/chromium (or TFJS_CKPT_CHROMIUM) the tests skip and say
 * so plainly; `.ci/run` installs it.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize } from 'node:path';
import type { AddressInfo } from 'node:net';

export const CHROMIUM = process.env['TFJS_CKPT_CHROMIUM'] ?? '/usr/bin/chromium';
export const NO_CHROMIUM = existsSync(CHROMIUM)
  ? undefined
  : `browser tests did NOT run: no Chromium at ${CHROMIUM} (apt-get install -y --no-install-recommends chromium, or set TFJS_CKPT_CHROMIUM)`;
if (NO_CHROMIUM) console.warn(NO_CHROMIUM);

/** Flags that work on this kind of machine (root, no GPU, closed network). */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Also WebGPU, on SwiftShader (no GPU here). */
export const CHROMIUM_WEBGPU_ARGS = [...CHROMIUM_ARGS, '--enable-unsafe-webgpu', '--use-angle=swiftshader', '--enable-unsafe-swiftshader'];

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.map': 'application/json', '.json': 'application/json', '.wasm': 'application/wasm', '.svg': 'image/svg+xml' };

/** Serves `routes` (URL path → file on disk, or inline text) on 127.0.0.1; nothing else. */
export async function serve(routes: Record<string, string | { text: string }>): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer(async (req, res) => {
    const path = normalize(new URL(req.url ?? '/', 'http://x').pathname);
    const route = routes[path];
    if (route === undefined) {
      res.writeHead(404).end();
      return;
    }
    try {
      const body = typeof route === 'string' ? await readFile(route) : route.text;
      const type = TYPES[extname(path)] ?? (typeof route === 'string' ? 'application/octet-stream' : 'text/html');
      res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
    } catch {
      res.writeHead(500).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

export const TFJS_ESM = join(process.cwd(), 'node_modules/@tensorflow/tfjs/dist/tf.fesm.js');
