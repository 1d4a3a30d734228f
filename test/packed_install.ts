/**
 * The package as a user gets it: `npm pack` of this checkout (built), installed into a new empty
 * project with its dependencies; TF.js (a peer) is linked from this checkout's node_modules when asked.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from './helpers.js';

/** Runs a command outside the test runner's environment (npm would otherwise inherit its hooks). */
export function runOutside(command: string, args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } {
  const env: Record<string, string | undefined> = { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
  delete env['NODE_TEST_CONTEXT'];
  delete env['NODE_OPTIONS'];
  const result = spawnSync(command, args, { cwd, env, encoding: 'utf8', maxBuffer: 1 << 26 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Packs this checkout (dist/ must be built) and installs the tarball into a new empty project; returns the project's folder. */
export async function installPacked(): Promise<string> {
  const packDir = await tempDir('tfjs-ckpt-pack-');
  const packed = runOutside('npm', ['pack', '--pack-destination', packDir, '--silent'], process.cwd());
  assert.equal(packed.status, 0, packed.stderr);
  const tarball = join(packDir, packed.stdout.trim().split('\n').pop()!);
  const project = await tempDir('tfjs-ckpt-project-');
  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'empty-project', version: '1.0.0', private: true, type: 'module' }));
  // The peers come from this checkout (linkTfjs), so npm is told not to fetch them.
  const installed = runOutside('npm', ['install', '--prefer-offline', '--legacy-peer-deps', '--no-package-lock', '--loglevel=error', tarball], project);
  assert.equal(installed.status, 0, installed.stderr);
  return project;
}

/** Links this checkout's @tensorflow packages into `project`'s node_modules. */
export async function linkTfjs(project: string): Promise<void> {
  await mkdir(join(project, 'node_modules/@tensorflow'), { recursive: true });
  for (const name of await readdir('node_modules/@tensorflow')) await symlink(join(process.cwd(), 'node_modules/@tensorflow', name), join(project, 'node_modules/@tensorflow', name), 'dir');
}
