/**
 * Whether an HDF5 file is complete, from its superblock alone (a few dozen bytes, on any store): the
 * superblock records the file's end-of-data address, and a file cut short (a writer that crashed, a
 * copy that stopped) is smaller than that. Files we did not write have no trailer to vouch for them;
 * this is how `latestCheckpoint` tells a finished Keras file from a torn one. The superblock sits at
 * 0, 512, 1024, … (after a user block).
 */
import type { StoredFile } from '../stores/store.js';

const SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

function readAddress(view: DataView, at: number, size: number): number | undefined {
  if (size === 8) {
    const value = view.getBigUint64(at, true);
    return value === 0xffffffffffffffffn ? undefined : Number(value);
  }
  if (size === 4) return view.getUint32(at, true);
  if (size === 2) return view.getUint16(at, true);
  return undefined;
}

/** The superblock's offset and the file's end-of-data address (absolute), or undefined when it is not HDF5. */
export async function hdf5Extent(file: StoredFile): Promise<{ superblock: number; end: number } | undefined> {
  for (let at = 0; at + 64 <= file.size; at = at === 0 ? 512 : at * 2) {
    const head = new Uint8Array(Math.min(96, file.size - at));
    await file.read(head, 0, head.byteLength, at);
    if (!SIGNATURE.every((b, i) => head[i] === b)) continue;
    const view = new DataView(head.buffer);
    const version = head[8]!;
    let offsets: number;
    let base: number | undefined;
    let eof: number | undefined;
    if (version === 0 || version === 1) {
      offsets = head[13]!;
      const start = version === 0 ? 24 : 28;
      base = readAddress(view, start, offsets);
      eof = readAddress(view, start + 2 * offsets, offsets);
    } else if (version === 2 || version === 3) {
      offsets = head[9]!;
      base = readAddress(view, 12, offsets);
      eof = readAddress(view, 12 + 2 * offsets, offsets);
    } else {
      return undefined;
    }
    if (base === undefined || eof === undefined) return undefined;
    // Measured with h5py: with a user block the stored end already counts it (base 512, end = file size).
    return { superblock: at, end: eof };
  }
  return undefined;
}

/** Whether the file holds all of the HDF5 data its superblock promises. */
export async function hdf5Complete(file: StoredFile): Promise<boolean> {
  const extent = await hdf5Extent(file).catch(() => undefined);
  return extent !== undefined && file.size >= extent.end;
}
