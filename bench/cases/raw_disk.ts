/**
 * The ceiling: the same number of bytes written from Node as fast as it can make them durable, from a
 * reused, resident 16 MiB buffer (no allocation per save), then fsync, rename and directory fsync.
 */
import { open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { paramsOf, bytesOf } from '../lib/sizes.js';
import { WARMUP_REPS, mbPerSec, type CaseContext, type CaseResult, type Rep } from '../lib/result.js';
import { memoryWindow } from '../lib/rss.js';
import { nowMs } from '../lib/stats.js';
import { fsyncDir } from '../lib/workdir.js';

const CHUNK = 16 * 1024 * 1024;

/** The reused, resident buffer the ceiling writes from. */
export function rawChunk(): Buffer {
  return Buffer.allocUnsafeSlow(CHUNK).fill(0x5a);
}

export async function writeDurably(dir: string, name: string, chunk: Buffer, total: number): Promise<string> {
  const tmp = join(dir, `${name}.tmp`);
  const handle = await open(tmp, 'w');
  try {
    for (let position = 0; position < total; ) {
      const length = Math.min(chunk.length, total - position);
      const { bytesWritten } = await handle.write(chunk, 0, length, position);
      position += bytesWritten;
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
  const final = join(dir, name);
  await rename(tmp, final);
  await fsyncDir(dir);
  return final;
}

export async function runRawDisk(ctx: CaseContext): Promise<CaseResult> {
  const bytes = bytesOf(ctx.size);
  const chunk = rawChunk();
  const reps: Rep[] = [];
  let warmup: Rep | undefined;
  for (let rep = 0; rep < ctx.reps + WARMUP_REPS; rep++) {
    const mem = memoryWindow();
    const t0 = nowMs();
    const file = await writeDurably(ctx.dir, `raw-${rep}.bin`, chunk, bytes);
    const durable = nowMs() - t0;
    const extra = mem.extra();
    await rm(file);
    const rec = { blocked_ms: durable, durable_ms: durable, mbps: mbPerSec(bytes, durable), extra_peak_mib: extra };
    if (rep < WARMUP_REPS) warmup = rec;
    else reps.push(rec);
  }
  return { case: 'raw', size: ctx.size.key, params: paramsOf(ctx.size), bytes, reps, warmup };
}
