/**
 * Node only: puts `zlib.crc32` behind `crc32()` (src/formats/crc32.ts) where this Node has it
 * (20.15+, 22.2+). A namespace import and a typeof check, because a named import of a missing
 * export from `node:zlib` fails at link time on older Node. Importing this file does nothing;
 * the Node entry calls `useZlibCrc32()` once (node/register_fs.ts).
 */
import * as zlib from 'node:zlib';
import { setCrc32, type Crc32Function } from '../formats/crc32.js';

/** Installs `zlib.crc32` if it exists; returns whether it did (false: the pure-JS one stays). */
export function useZlibCrc32(): boolean {
  const native = (zlib as { crc32?: unknown }).crc32;
  if (typeof native !== 'function') return false;
  setCrc32(native as Crc32Function);
  return true;
}
