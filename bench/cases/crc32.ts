/**
 * CRC-32 throughput: the pure-JS `crc32Pure` (what browsers and Node < 20.15 use) against Node's
 * `zlib.crc32`, on one 64 MiB buffer of pseudo-random bytes, whole and in 64 KiB calls (chained, as
 * a store checksums the chunks it writes). Not part of `npm run bench`'s tables; run it alone:
 * `node --import tsx bench/case.ts crc32 1 5` (the size argument is ignored).
 */
import * as zlib from 'node:zlib';
import { crc32Pure } from '../../src/formats/crc32.js';
import { WARMUP_REPS, mbPerSec, type CaseContext, type CaseResult, type Rep } from '../lib/result.js';
import { nowMs } from '../lib/stats.js';

const BYTES = 64 * 1024 * 1024;
const CHUNK = 64 * 1024;

type Crc = (bytes: Uint8Array, previous?: number) => number;

function timed(fn: Crc, data: Uint8Array, chunk: number): { ms: number; crc: number } {
  const t0 = nowMs();
  let crc = 0;
  for (let at = 0; at < data.length; at += chunk) crc = fn(data.subarray(at, at + chunk), crc);
  return { ms: nowMs() - t0, crc };
}

export async function runCrc32(ctx: CaseContext): Promise<CaseResult> {
  const native = (zlib as { crc32?: Crc }).crc32;
  const data = new Uint8Array(BYTES);
  let x = 0x9e3779b9;
  for (let i = 0; i < data.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    data[i] = x & 0xff;
  }
  const reps: Rep[] = [];
  let warmup: Rep | undefined;
  for (let rep = 0; rep < ctx.reps + WARMUP_REPS; rep++) {
    const pure = timed(crc32Pure, data, data.length);
    const pureChunked = timed(crc32Pure, data, CHUNK);
    if (pureChunked.crc !== pure.crc) throw new Error('crc32Pure: chunked and whole results differ');
    const rec: Rep = { pure_ms: pure.ms, pure_mbps: mbPerSec(BYTES, pure.ms), pure_64k_mbps: mbPerSec(BYTES, pureChunked.ms) };
    if (native) {
      const z = timed(native, data, data.length);
      if (z.crc !== pure.crc) throw new Error(`crc32Pure ${pure.crc} != zlib.crc32 ${z.crc}`);
      rec['zlib_ms'] = z.ms;
      rec['zlib_mbps'] = mbPerSec(BYTES, z.ms);
      rec['zlib_over_pure'] = pure.ms / z.ms;
    }
    if (rep < WARMUP_REPS) warmup = rec;
    else reps.push(rec);
  }
  return {
    case: 'crc32',
    size: ctx.size.key,
    params: 0,
    bytes: BYTES,
    reps,
    warmup,
    info: { zlibCrc32: typeof native === 'function', node: process.version },
  };
}
