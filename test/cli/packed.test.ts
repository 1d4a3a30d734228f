/**
 * The packed package as a user gets it: `npm pack`, installed into an empty project (the tfjs peers
 * linked from this checkout's node_modules), where `npx tfjs-checkpoint --help` works through the
 * package's `bin`.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { installPacked, linkTfjs, runOutside } from '../packed_install.js';
import { ensureBuilt } from './cli_helpers.js';

const run = runOutside;

/** Every .ts file under `dir`. */
async function sources(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(entries.map((e) => (e.isDirectory() ? sources(join(dir, e.name)) : Promise.resolve(e.name.endsWith('.ts') ? [join(dir, e.name)] : []))));
  return nested.flat();
}

describe('the packed package', () => {
  it('the library never imports the CLI (the core stays light for browsers); the bin is the ESM build with its shebang', async () => {
    const offenders: string[] = [];
    for (const file of await sources('src')) {
      if (file.startsWith(join('src', 'cli'))) continue;
      if (/from\s+'[^']*\/cli\/|import\(\s*'[^']*\/cli\//.test(await readFile(file, 'utf8'))) offenders.push(file);
    }
    assert.deepEqual(offenders, []);
    const pkg = JSON.parse(await readFile('package.json', 'utf8')) as { bin: Record<string, string> };
    assert.deepEqual(pkg.bin, { 'tfjs-checkpoint': './dist/esm/cli/main.js' });
    ensureBuilt();
    assert.match(await readFile(pkg.bin['tfjs-checkpoint']!, 'utf8'), /^#!\/usr\/bin\/env node\n/);
  });

  it('npx tfjs-checkpoint --help works from the tarball installed in an empty project', { timeout: 120_000 }, async () => {
    ensureBuilt();
    const project = await installPacked();
    // Without TF.js beside it, one clear line saying what to install.
    const noTfjs = run('npx', ['--no-install', 'tfjs-checkpoint', '--help'], project);
    assert.equal(noTfjs.status, 2);
    assert.match(noTfjs.stderr, /^tfjs-checkpoint: error: @tensorflow\/tfjs-(core|layers) is not installed; .*npm install @tensorflow\/tfjs\n$/);
    await linkTfjs(project);

    const help = run('npx', ['--no-install', 'tfjs-checkpoint', '--help'], project);
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /^Usage: tfjs-checkpoint \[options\] \[command\]/m);
    for (const command of ['list', 'inspect', 'verify', 'prune', 'diff', 'plot', 'export']) assert.match(help.stdout, new RegExp(`^  ${command} `, 'm'));
    assert.equal(help.stderr, '');
    const listHelp = run('npx', ['--no-install', 'tfjs-checkpoint', 'list', '--help'], project);
    assert.equal(listHelp.status, 0, listHelp.stderr);
    assert.match(listHelp.stdout, /Examples:/);
    const empty = run('npx', ['--no-install', 'tfjs-checkpoint', 'list', '.'], project);
    assert.equal(empty.status, 0, empty.stderr);
    assert.match(empty.stdout, /^No checkpoints in /);
  });
});
