/**
 * CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), the checksum recorded for every file in
 * `checkpoint.json`. Same results as Node's `zlib.crc32(data, value)`: `crc32(b, crc32(a))` equals
 * `crc32(a ++ b)`, and the result is an unsigned 32-bit integer.
 *
 * How it is meant to be used: call `crc32` from this module wherever a checksum is computed or
 * checked (stores, formats), never `node:zlib` directly, so the same code runs in browsers. The
 * default is the pure-JS implementation below (slicing-by-16 over 32-bit words, no `node:` imports,
 * works everywhere).
 * The Node entry point is meant to install `zlib.crc32` where it exists (Node ≥ 20.15 / 22.2; hardware-assisted,
 * several times faster) with `setCrc32`: see `useZlibCrc32` in `src/node/zlib_crc32.ts`.
 */

/** A CRC-32 function with `zlib.crc32`'s contract: `previous` is the CRC of the bytes before `bytes`. */
export type Crc32Function = (bytes: Uint8Array, previous?: number) => number;

/**
 * Makes the pure-JS CRC-32 (slicing-by-16 over 32-bit words). Self-contained on purpose: a browser
 * worker is started from this function's source text (stores/crc_offload.ts), so it may refer to
 * nothing outside itself.
 */
export function makeCrc32Pure(): Crc32Function {
  // 16 tables of 256 entries: t[k·256 + b] is the CRC register after byte `b` followed by `k` zero
  // bytes, so 16 input bytes fold into the register with 16 independent lookups. Built on first use.
  let tables: Int32Array | undefined;
  const build = (): Int32Array => {
    const t = new Int32Array(16 * 256);
    for (let b = 0; b < 256; b++) {
      let c = b;
      for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
      t[b] = c;
    }
    for (let i = 256; i < t.length; i++) {
      const prev = t[i - 256]!;
      t[i] = (prev >>> 8) ^ t[prev & 0xff]!;
    }
    return t;
  };
  // Whether an Int32Array reads bytes in little-endian order (every mainstream platform).
  const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
  return (bytes: Uint8Array, previous = 0): number => {
    if (!Number.isInteger(previous) || previous < 0 || previous > 0xffffffff) {
      throw new RangeError(`crc32: previous must be an unsigned 32-bit integer, got ${String(previous)}`);
    }
    const t = (tables ??= build());
    let crc = ~previous;
    let i = 0;
    const n = bytes.length;
    // Single bytes up to a 4-byte boundary, then 16 bytes at a time as four little-endian 32-bit words.
    const head = Math.min(n, (4 - (bytes.byteOffset & 3)) & 3);
    while (i < head) crc = (crc >>> 8) ^ t[(crc ^ bytes[i++]!) & 0xff]!;
    const blocks = (n - i) >>> 4;
    if (blocks > 0 && littleEndian) {
      const w = new Int32Array(bytes.buffer, bytes.byteOffset + i, blocks * 4);
      for (let j = 0; j < w.length; j += 4) {
        const a = crc ^ w[j]!;
        const b = w[j + 1]!;
        const c = w[j + 2]!;
        const d = w[j + 3]!;
        crc =
          t[0xf00 | (a & 0xff)]! ^ t[0xe00 | ((a >>> 8) & 0xff)]! ^ t[0xd00 | ((a >>> 16) & 0xff)]! ^ t[0xc00 | (a >>> 24)]! ^
          t[0xb00 | (b & 0xff)]! ^ t[0xa00 | ((b >>> 8) & 0xff)]! ^ t[0x900 | ((b >>> 16) & 0xff)]! ^ t[0x800 | (b >>> 24)]! ^
          t[0x700 | (c & 0xff)]! ^ t[0x600 | ((c >>> 8) & 0xff)]! ^ t[0x500 | ((c >>> 16) & 0xff)]! ^ t[0x400 | (c >>> 24)]! ^
          t[0x300 | (d & 0xff)]! ^ t[0x200 | ((d >>> 8) & 0xff)]! ^ t[0x100 | ((d >>> 16) & 0xff)]! ^ t[d >>> 24]!;
      }
      i += blocks * 16;
    }
    // The rest, and everything on a big-endian host (slower, same result).
    while (i < n) crc = (crc >>> 8) ^ t[(crc ^ bytes[i++]!) & 0xff]!;
    return ~crc >>> 0;
  };
}

/** The pure-JS CRC-32, for browsers and Node versions without `zlib.crc32`. */
export const crc32Pure: Crc32Function = makeCrc32Pure();

let active: Crc32Function = crc32Pure;

/**
 * CRC-32 of `bytes`, continuing from `previous` (the CRC of everything before them; default 0, the
 * start). Throws a RangeError if `previous` is not an unsigned 32-bit integer, as `zlib.crc32` does.
 */
export function crc32(bytes: Uint8Array, previous = 0): number {
  return active(bytes, previous);
}

/**
 * Replaces the implementation behind `crc32` (the Node entry installs `zlib.crc32`). It must give the
 * same results as `crc32Pure`; `undefined` restores the pure one. Returns the one it replaced.
 */
export function setCrc32(impl: Crc32Function | undefined): Crc32Function {
  const replaced = active;
  active = impl ?? crc32Pure;
  return replaced;
}
