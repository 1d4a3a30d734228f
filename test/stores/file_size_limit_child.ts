/**
 * Child of fs_helper.test.ts, run under a file-size limit (`ulimit -f 1024`: 1 MiB), so the file
 * system refuses a shard partway (EFBIG) while the helper thread is reading it as it is written
 * (fs_worker.ts, `checksumAsWritten`). The write must fail with the reason, the helper thread must be
 * free again for the next step (a helper left waiting for bytes that never come would stall every
 * later save), and the abort must leave nothing behind.
 */
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StagedDirectory } from '../../src/stores/fs.js';

const dir = mkdtempSync(join(tmpdir(), 'tfjs-ckpt-fsize-'));
const staged = await StagedDirectory.begin(join(dir, 'ck'));
const failed = await staged.write('big.bin', [new Uint8Array(3 * 1024 * 1024).fill(7)]).then(
  () => 'no error',
  (e: Error) => e.message,
);
console.log(`big write: ${failed}`);
const small = await staged.write('small.json', [new TextEncoder().encode('{"ok":true}')]);
console.log(`small write after it: ${small.size} bytes`);
await staged.abort();
console.log(`left behind: ${readdirSync(dir).length}`);
