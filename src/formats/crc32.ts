/**
 * CRC-32 (IEEE), chainable like Node's `zlib.crc32(data, previous)`. Pure JS so it works everywhere;
 * the Node entry installs `zlib.crc32` where it exists (Node >= 20.15), which is faster.
 */
let table: Uint32Array | undefined;

function makeTable(): Uint32Array {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
}

function pureCrc32(bytes: Uint8Array, previous = 0): number {
  const t = (table ??= makeTable());
  let crc = ~previous;
  for (let i = 0; i < bytes.length; i++) crc = t[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return ~crc >>> 0;
}

let implementation: (bytes: Uint8Array, previous?: number) => number = pureCrc32;

export function crc32(bytes: Uint8Array, previous = 0): number {
  return implementation(bytes, previous);
}

/** Installs a faster implementation with the same semantics (the Node entry: `zlib.crc32`). */
export function setCrc32(impl: (bytes: Uint8Array, previous?: number) => number): void {
  implementation = impl;
}
