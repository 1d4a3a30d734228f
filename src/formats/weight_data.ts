/**
 * Bytes out of `model.save()`'s weight data, which tfjs >= 4.7 may hand over as several
 * ArrayBuffers (a weight can span two of them). Our own stand-in for tfjs's composite array buffer,
 * which tfjs before 4.7 lacks (design.md: TF.js internals we lean on).
 */
import { version_core } from '@tensorflow/tfjs-core';
import { CheckpointError } from '../errors.js';

/** `weightData` as a list of buffers, whether tfjs gave one buffer, several or none. */
export function weightBuffers(weightData: ArrayBuffer | ArrayBuffer[] | undefined): ArrayBuffer[] {
  if (weightData === undefined) return [];
  return Array.isArray(weightData) ? weightData : [weightData];
}

/**
 * Bytes [start, start + byteLength) of the buffers laid end to end: a view when they lie within one
 * buffer (the usual case: no copy), else a copy pieced together from the buffers they span.
 */
export function byteRange(buffers: readonly ArrayBuffer[], start: number, byteLength: number): Uint8Array {
  const end = start + byteLength;
  let base = 0; // where the current buffer starts in the whole
  let out: Uint8Array | undefined;
  for (const buffer of buffers) {
    const next = base + buffer.byteLength;
    if (next > start && base < end) {
      const from = Math.max(start, base) - base;
      const to = Math.min(end, next) - base;
      if (out === undefined && from === start - base && to === end - base) return new Uint8Array(buffer, from, byteLength);
      out ??= new Uint8Array(byteLength);
      out.set(new Uint8Array(buffer, from, to - from), base + from - start);
    }
    base = next;
    if (base >= end) break;
  }
  if (base < end) {
    throw new CheckpointError('INVALID_ARGUMENT', `The weight data holds ${base} bytes; the weight specs need at least ${end}.`);
  }
  return out ?? new Uint8Array(0);
}

/** Whether this tfjs's `io.decodeWeights` takes a list of buffers (4.6 on); before, one ArrayBuffer only. */
export function decodesBufferLists(version: string = version_core): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 4 || (major === 4 && minor >= 6);
}

/** The buffers laid end to end in one new ArrayBuffer. */
export function joinBuffers(buffers: readonly ArrayBuffer[]): ArrayBuffer {
  const whole = new Uint8Array(buffers.reduce((n, b) => n + b.byteLength, 0));
  let offset = 0;
  for (const buffer of buffers) {
    whole.set(new Uint8Array(buffer), offset);
    offset += buffer.byteLength;
  }
  return whole.buffer;
}
