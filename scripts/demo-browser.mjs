// `npm run demo:browser`: serves examples/browser/ on http://127.0.0.1:<port> (PORT, default 8080) with
// TF.js and the library's browser bundle (built first, so the page runs the current sources). Storage
// APIs need a secure context, which 127.0.0.1 is.
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { buildBrowserBundle } from './browser-bundle.mjs';

const root = (path) => fileURLToPath(new URL(`../${path}`, import.meta.url));

const ROUTES = {
  '/': ['examples/browser/index.html', 'text/html'],
  '/app.js': ['examples/browser/app.js', 'text/javascript'],
  '/tf.js': ['node_modules/@tensorflow/tfjs/dist/tf.fesm.js', 'text/javascript'],
  '/tfjs-checkpoint.js': ['dist/browser/tfjs-checkpoint.js', 'text/javascript'],
  '/tfjs-checkpoint.js.map': ['dist/browser/tfjs-checkpoint.js.map', 'application/json'],
  '/tfjs-checkpoint.h5wasm.js': ['dist/browser/tfjs-checkpoint.h5wasm.js', 'text/javascript'],
};

/** Builds the bundle and serves the example; resolves to its URL and a close function. */
export async function startDemoServer(port = 8080) {
  await buildBrowserBundle(root('dist/browser/tfjs-checkpoint.js'));
  const server = createServer(async (req, res) => {
    const route = ROUTES[new URL(req.url ?? '/', 'http://x').pathname];
    if (!route) return void res.writeHead(404).end();
    try {
      res.writeHead(200, { 'content-type': route[1], 'cache-control': 'no-store' }).end(await readFile(root(route[0])));
    } catch {
      res.writeHead(500).end();
    }
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${server.address().port}/`, close: () => new Promise((resolve) => server.close(resolve)) };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { url } = await startDemoServer(Number(process.env.PORT ?? 8080));
  console.log(`The browser example is at ${url} (Ctrl-C stops it).`);
}
