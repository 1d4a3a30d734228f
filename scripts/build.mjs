// Dual build: ESM (the source's own module system) and CJS, each with declarations.
// Plain tsc twice keeps the output readable and needs no bundler.
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';

const tsc = (...args) => execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', ...args], { stdio: 'inherit' });

rmSync('dist', { recursive: true, force: true });
tsc('-p', 'tsconfig.json');
// CJS: tsconfig.cjs.json (Node10 resolution cannot see h5wasm's "exports"; it maps the types).
// The command-line tool (src/cli) is ESM only (the `bin` runs dist/esm/cli/main.js): tsconfig.cjs.json excludes it.
tsc('-p', 'tsconfig.cjs.json');
// tsc's CommonJS output turns the browser HDF5 host's `import('h5wasm')` into require('h5wasm'), which
// h5wasm (an ES module exporting only "import") refuses, and which a CJS consumer's bundler could not
// resolve: put the dynamic import back (Node's CJS and bundlers both take import() there).
const memfsHost = 'dist/cjs/hdf5/memfs_host.js';
const required = "Promise.resolve().then(() => __importStar(require('h5wasm')))";
const cjs = readFileSync(memfsHost, 'utf8');
if (cjs.split(required).length !== 2) throw new Error(`${memfsHost}: expected one ${required} to turn back into import('h5wasm'); tsc's output changed`);
writeFileSync(memfsHost, cjs.replace(required, "import('h5wasm')"));
// `import.meta.url` (src/node/module_url.ts) is ESM only: in CJS, the file's URL comes from __filename.
const moduleUrlFile = 'dist/cjs/node/module_url.js';
const moduleUrl = readFileSync(moduleUrlFile, 'utf8');
const esmOnly = 'exports.moduleUrl = import.meta.url;';
if (moduleUrl.split(esmOnly).length !== 2) throw new Error(`${moduleUrlFile}: expected one ${esmOnly} to replace; tsc's output changed`);
writeFileSync(moduleUrlFile, moduleUrl.replace(esmOnly, "exports.moduleUrl = require('node:url').pathToFileURL(__filename).href;"));
// Mark each output tree with its module kind so Node picks the right loader.
writeFileSync('dist/esm/package.json', JSON.stringify({ type: 'module' }) + '\n');
writeFileSync('dist/cjs/package.json', JSON.stringify({ type: 'commonjs' }) + '\n');
// The browser ESM bundle (see browser-bundle.mjs).
const { buildBrowserBundle } = await import('./browser-bundle.mjs');
await buildBrowserBundle();
