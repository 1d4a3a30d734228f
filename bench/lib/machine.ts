/** Machine facts for RESULTS.md: the numbers only mean something next to these. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { version as tfVersion } from '@tensorflow/tfjs';
import { REPO_DIR } from './workdir.js';

function sh(cmd: string, args: string[], cwd = REPO_DIR): string {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

function cpuModel(): string {
  try {
    const m = readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.+)$/m);
    if (m) return m[1]!.trim();
  } catch {
    // not Linux
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

/** Filesystem, device and mount options of the directory the bench writes to. */
function filesystem(dir: string): string {
  const mount = sh('findmnt', ['-n', '-T', dir, '-o', 'SOURCE,FSTYPE,OPTIONS']).replace(/\s+/g, ' ');
  const df = sh('df', ['-h', '--output=size,avail', dir]).split('\n')[1]?.trim().replace(/\s+/g, ' size, ');
  return [mount || 'unknown', df ? `(${df} free)` : ''].filter(Boolean).join(' ');
}

export function machineInfo(workDir: string): [string, string][] {
  const gib = (b: number) => `${(b / 2 ** 30).toFixed(1)} GiB`;
  const head = sh('git', ['rev-parse', '--short', 'HEAD']);
  const dirty = sh('git', ['status', '--porcelain', '--', 'src']).split('\n').filter(Boolean).length;
  return [
    ['date', new Date().toISOString()],
    ['CPU', `${cpuModel()}, ${os.availableParallelism()} cores`],
    ['RAM', `${gib(os.totalmem())} (${gib(os.freemem())} free at start)`],
    ['OS', `${os.type()} ${os.release()} ${os.arch()}`],
    ['Node', process.version],
    ['TF.js', `@tensorflow/tfjs ${tfVersion['tfjs']}, tfjs-core ${tfVersion['tfjs-core']}; backend cpu (pure JS)`],
    ['bench dir filesystem', `${workDir}: ${filesystem(workDir)}`],
    ['repo', head ? `${head}${dirty ? ` + ${dirty} uncommitted file(s) under src/` : ''}` : 'unknown'],
  ];
}
