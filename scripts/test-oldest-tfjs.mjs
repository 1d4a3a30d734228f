// `node scripts/test-oldest-tfjs.mjs`: runs the test suite against the oldest tfjs that package.json's
// peer range allows, so the range claims no more than CI proves. The floor is read from the range
// itself (one place: `peerDependencies`, both tfjs packages `>=X.Y.Z` with the same X.Y.Z). Works in a
// scratch copy of the working tree (tracked and untracked, not ignored files) with its own
// node_modules: the repository's own node_modules is left as it is.
//   --print-floor   print the floor and exit
//   --version X     test against X instead of the floor (for finding a floor; CI never passes it)
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);
const PEERS = ['@tensorflow/tfjs-core', '@tensorflow/tfjs-layers'];
/** Backends the browser tests use, installed at the floor too. */
const BACKENDS = ['@tensorflow/tfjs-backend-wasm'];
const UNRELEASED_AT_FLOOR = ['@tensorflow/tfjs-backend-webgpu'];

/** The floor of the tfjs peer range; throws unless every tfjs peer is `>=X.Y.Z` with one X.Y.Z. */
export function tfjsFloor(pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))) {
  const floors = PEERS.map((name) => {
    const range = pkg.peerDependencies?.[name];
    const match = /^>=(\d+\.\d+\.\d+)$/.exec(range ?? '');
    if (!match) throw new Error(`peerDependencies["${name}"] is ${JSON.stringify(range)}; expected ">=X.Y.Z" (its floor is what CI tests).`);
    return match[1];
  });
  if (new Set(floors).size !== 1) throw new Error(`The tfjs peer ranges have different floors (${floors.join(', ')}).`);
  return floors[0];
}

function run(cmd, args, cwd, capture = false, mayFail = false) {
  const result = spawnSync(cmd, args, { cwd, stdio: capture ? ['ignore', 'pipe', mayFail ? 'ignore' : 'inherit'] : 'inherit', encoding: 'utf8', maxBuffer: 1 << 28 });
  if (result.status !== 0 && !(mayFail && result.stdout)) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${result.status ?? result.signal}) in ${cwd}`);
  return result.stdout;
}

function main(argv) {
  const floor = tfjsFloor();
  if (argv.includes('--print-floor')) {
    console.log(floor);
    return 0;
  }
  const at = argv.indexOf('--version');
  const version = at >= 0 ? argv[at + 1] : floor;
  const dir = mkdtempSync(join(tmpdir(), 'tfjs-ckpt-oldest-'));
  try {
    const files = run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], root, true).split('\0').filter(Boolean);
    for (const file of files) {
      if (!existsSync(join(root, file))) continue; // deleted, not yet staged
      mkdirSync(dirname(join(dir, file)), { recursive: true });
      copyFileSync(join(root, file), join(dir, file));
    }
    // The build as shipped (made against the newest tfjs types, which the floor's do not match), for tests that use the package's exports.
    if (existsSync(join(root, 'dist'))) cpSync(join(root, 'dist'), join(dir, 'dist'), { recursive: true });
    run('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], dir);
    const packages = ['@tensorflow/tfjs', ...PEERS, ...BACKENDS].map((name) => `${name}@${version}`);
    // The WebGPU backend has no release as old as the floor: its browser tests skip there (resume.test.ts).
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    for (const name of UNRELEASED_AT_FLOOR) delete manifest.devDependencies?.[name];
    writeFileSync(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    for (const name of UNRELEASED_AT_FLOOR) rmSync(join(dir, 'node_modules', name), { recursive: true, force: true });
    run('npm', ['install', '--no-save', '--legacy-peer-deps', '--no-audit', '--no-fund', '--loglevel=error', ...packages], dir);
    // Every tfjs package in the tree (core, layers, backends, converter, data) must be that version.
    // (npm ls exits 1 here: @tensorflow/tfjs no longer matches the devDependency's pin.)
    const tree = run('npm', ['ls', '--all', '--parseable', '--long'], dir, true, true);
    const found = [...tree.matchAll(/:(@tensorflow\/[^@:]+)@([^:\s]+)/g)].map((m) => `${m[1]}@${m[2]}`);
    const wrong = [...new Set(found.filter((p) => !p.endsWith(`@${version}`)))];
    if (found.length === 0 || wrong.length > 0) throw new Error(`Not every tfjs package is ${version}: ${wrong.join(', ') || 'none found'}`);
    console.log(`== tfjs packages: ${[...new Set(found)].sort().join(', ')}`);
    // `-- <test files>` runs only those (for checking one change against the floor by hand).
    const only = argv.includes('--') ? argv.slice(argv.indexOf('--') + 1) : [];
    run('npm', ['test', ...(only.length ? ['--', ...only] : [])], dir);
    return 0;
  } catch (e) {
    console.error(`test against tfjs ${version}: ${e.message}`);
    return 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  process.exitCode = main(process.argv.slice(2));
}
