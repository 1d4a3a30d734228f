/** The pure-JS CRC-32 against Node's zlib.crc32: vectors, random lengths, unaligned views, chaining. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as zlib from 'node:zlib';
import { crc32, crc32Pure, setCrc32 } from '../src/formats/crc32.js';
import { useZlibCrc32 } from '../src/node/zlib_crc32.js';
import { seededRandom } from './helpers.js';

const zlibCrc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
const ascii = (s: string) => new TextEncoder().encode(s);

function randomBytes(random: () => number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (random() * 256) | 0;
  return bytes;
}

/** Bitwise CRC-32, straight from the definition: the reference that needs no zlib. */
function slowCrc32(bytes: Uint8Array, previous = 0): number {
  let crc = ~previous;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return ~crc >>> 0;
}

describe('crc32Pure', () => {
  it('matches the known vectors', () => {
    assert.equal(crc32Pure(ascii('123456789')), 0xcbf43926);
    assert.equal(crc32Pure(ascii('The quick brown fox jumps over the lazy dog')), 0x414fa339);
    assert.equal(crc32Pure(new Uint8Array(32)), 0x190a55ad);
    assert.equal(crc32Pure(new Uint8Array(32).fill(0xff)), 0xff6cab0b);
  });

  it('returns the previous value for empty input', () => {
    assert.equal(crc32Pure(new Uint8Array(0)), 0);
    assert.equal(crc32Pure(new Uint8Array(0), 0xcbf43926), 0xcbf43926);
    assert.equal(crc32Pure(new Uint8Array(0), 0xffffffff), 0xffffffff);
  });

  it('matches the bitwise definition for every length up to 100 at every alignment', () => {
    const random = seededRandom(11);
    const backing = randomBytes(random, 128);
    for (let offset = 0; offset < 8; offset++) {
      for (let length = 0; length <= 100; length++) {
        const view = backing.subarray(offset, offset + length);
        const previous = (random() * 2 ** 32) >>> 0;
        assert.equal(crc32Pure(view), slowCrc32(view), `offset ${offset} length ${length}`);
        assert.equal(crc32Pure(view, previous), slowCrc32(view, previous), `offset ${offset} length ${length} previous ${previous}`);
      }
    }
  });

  it('rejects a previous value that is not an unsigned 32-bit integer, like zlib.crc32', () => {
    for (const bad of [-1, 2 ** 32, 1.5, Number.NaN]) {
      assert.throws(() => crc32Pure(new Uint8Array(1), bad), RangeError);
      if (zlibCrc32) assert.throws(() => zlibCrc32(new Uint8Array(1), bad), RangeError);
    }
  });

  it('works on views of a SharedArrayBuffer', () => {
    const shared = new Uint8Array(new SharedArrayBuffer(1000));
    shared.set(randomBytes(seededRandom(5), 1000));
    assert.equal(crc32Pure(shared.subarray(3, 997)), slowCrc32(shared.subarray(3, 997)));
  });
});

describe('crc32Pure against zlib.crc32', { skip: zlibCrc32 ? false : 'this Node has no zlib.crc32' }, () => {
  const z = zlibCrc32!;

  it('agrees on random lengths 0..100k, including unaligned views', () => {
    const random = seededRandom(2024);
    const backing = randomBytes(random, 100_000 + 16);
    for (let round = 0; round < 300; round++) {
      // Every 10th length comes from the full range; the others are short, where the edge cases are.
      const length = round % 10 === 0 ? Math.floor(random() * 100_001) : Math.floor(random() * 300);
      const offset = Math.floor(random() * 16);
      const view = backing.subarray(offset, offset + length);
      const previous = round % 3 === 0 ? 0 : (random() * 2 ** 32) >>> 0;
      assert.equal(crc32Pure(view, previous), z(view, previous), `round ${round}: length ${length} offset ${offset} previous ${previous}`);
    }
    assert.equal(crc32Pure(backing.subarray(0, 100_000)), z(backing.subarray(0, 100_000)));
    assert.equal(crc32Pure(backing.subarray(7, 100_007)), z(backing.subarray(7, 100_007)));
  });

  it('chains across split points: crc32(b, crc32(a)) == crc32(a ++ b)', () => {
    const random = seededRandom(99);
    const data = randomBytes(random, 70_001);
    const whole = z(data);
    for (let round = 0; round < 100; round++) {
      const cuts = [0, ...Array.from({ length: 1 + Math.floor(random() * 5) }, () => Math.floor(random() * (data.length + 1))), data.length].sort((a, b) => a - b);
      let crc = 0;
      for (let i = 1; i < cuts.length; i++) crc = crc32Pure(data.subarray(cuts[i - 1], cuts[i]), crc);
      assert.equal(crc, whole, `cuts ${cuts.join(',')}`);
    }
    // Byte by byte, and in 3-byte pieces (never aligned).
    let crc = 0;
    for (let i = 0; i < 5000; i++) crc = crc32Pure(data.subarray(i, i + 1), crc);
    assert.equal(crc, z(data.subarray(0, 5000)));
    crc = 0;
    for (let i = 0; i < 6000; i += 3) crc = crc32Pure(data.subarray(i, i + 3), crc);
    assert.equal(crc, z(data.subarray(0, 6000)));
  });
});

describe('crc32 and setCrc32', () => {
  it('uses the pure implementation by default, and setCrc32 swaps and restores it', () => {
    const data = ascii('123456789');
    assert.equal(crc32(data), 0xcbf43926);
    const calls: number[] = [];
    const previous = setCrc32((bytes, value = 0) => {
      calls.push(bytes.length);
      return crc32Pure(bytes, value);
    });
    try {
      assert.equal(crc32(data, 0), 0xcbf43926);
      assert.deepEqual(calls, [9]);
    } finally {
      assert.notEqual(setCrc32(previous), previous);
    }
    assert.equal(setCrc32(undefined), previous);
    assert.equal(setCrc32(undefined), crc32Pure);
  });

  it('useZlibCrc32 installs zlib.crc32 exactly where this Node has it', () => {
    try {
      assert.equal(useZlibCrc32(), typeof zlibCrc32 === 'function');
      const replaced = setCrc32(undefined);
      assert.equal(replaced, zlibCrc32 ?? crc32Pure);
      assert.equal(crc32(ascii('123456789')), 0xcbf43926);
    } finally {
      setCrc32(undefined);
    }
  });
});
