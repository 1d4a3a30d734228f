// Dual build: ESM (the source's own module system) and CJS, each with declarations.
// Plain tsc twice keeps the output readable and needs no bundler.
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';

const tsc = (...args) => execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', ...args], { stdio: 'inherit' });

rmSync('dist', { recursive: true, force: true });
tsc('-p', 'tsconfig.json');
// CJS: tsconfig.cjs.json (Node10 resolution cannot see h5wasm's "exports"; it maps the types).
// The command-line tool (src/cli) is ESM only (the `bin` runs dist/esm/cli/main.js): tsconfig.cjs.json excludes it.
tsc('-p', 'tsconfig.cjs.json');
// Mark each output tree with its module kind so Node picks the right loader.
writeFileSync('dist/esm/package.json', JSON.stringify({ type: 'module' }) + '\n');
writeFileSync('dist/cjs/package.json', JSON.stringify({ type: 'commonjs' }) + '\n');
// The browser ESM bundle (see browser-bundle.mjs).
const { buildBrowserBundle } = await import('./browser-bundle.mjs');
await buildBrowserBundle();
