/**
 * `node:zlib` in the browser pages: only `crc32(data, value)`, with Node's contract (`value` is the
 * CRC-32 of the bytes before `data`; the result is an unsigned 32-bit integer; strings are UTF-8).
 *
 * Deliberately NOT the library's src/formats/crc32.ts: the conformance suite checks the CRC-32s the
 * stores report against this, so it must be computed independently. The classic byte-at-a-time
 * table (Sarwate) over the reflected IEEE polynomial, where the library slices by 16.
 */
const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let bit = 0; bit < 8; bit++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32(data: string | ArrayBufferView | ArrayBuffer, value = 0): number {
  const bytes =
    typeof data === 'string'
      ? new TextEncoder().encode(data)
      : data instanceof ArrayBuffer
        ? new Uint8Array(data)
        : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  let crc = (value ^ 0xffffffff) >>> 0;
  for (let i = 0; i < bytes.length; i++) crc = TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

export default { crc32 };
