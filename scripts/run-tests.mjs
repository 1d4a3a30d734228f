// Node 20's test runner takes no globs: find test/**/*.test.ts ourselves and hand them over.
// Extra arguments (e.g. a file filter) are passed through: `npm test -- test/fit.test.ts`.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

function findTests(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'stress' ? [] : findTests(path);
    return entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

const args = process.argv.slice(2);
const files = args.length > 0 ? args : findTests('test').sort();
// A hung test, or a file whose process does not exit when its tests end (a handle left open), fails
// by name after 10 minutes (the longest file takes under 3) instead of stalling the whole run; the
// watchdog says what was still open shortly before.
const watchdog = new URL('./test-watchdog.mjs', import.meta.url).href;
const result = spawnSync(process.execPath, ['--import', 'tsx', '--import', watchdog, '--test', '--test-concurrency=2', '--test-timeout=600000', ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
