/**
 * Reading a store's files into caller-provided memory, in chunks, checksumming each chunk while the
 * next one is being read so the CRC costs no extra time. Store-independent: works on any StoredFile.
 */
import { CheckpointError, CorruptCheckpointError } from '../errors.js';
import { crc32 } from '../formats/crc32.js';
import type { StoredFile } from '../stores/store.js';

/** Node refuses single reads of 2 GiB or more, and smaller chunks overlap reading with checksumming. */
const CHUNK_BYTES = 32 * 1024 * 1024;

/** The size check every reader makes on the opened file itself, before reading it. */
export function assertFileSize(file: StoredFile, where: string, expected: number): void {
  if (file.size !== expected) {
    throw new CorruptCheckpointError(
      `${where} is ${file.size} bytes but the checkpoint says it should be ${expected}: the file is truncated or was changed. Load another checkpoint.`,
    );
  }
}

/**
 * One stretch of a file, in file order: read into `dest` at `offset`, or, without `dest`, bytes the
 * caller does not want (read through a small scratch buffer only when the checksum needs them).
 */
export interface FilePiece {
  length: number;
  dest?: Uint8Array;
  offset?: number;
}

/** Two scratch buffers, so one can be checksummed while the other is being filled. */
function scratchFor(pieces: readonly FilePiece[]): Uint8Array[] {
  const largest = Math.max(0, ...pieces.filter((p) => !p.dest).map((p) => p.length));
  const size = Math.min(CHUNK_BYTES, Math.max(largest, 1));
  return [new Uint8Array(size), new Uint8Array(size)];
}

/**
 * Reads a file as `pieces`, which must add up to its size. With `checksum`, returns the CRC-32 of
 * every byte; without, pieces with no destination are not read at all.
 */
export async function readPieces(file: StoredFile, where: string, pieces: readonly FilePiece[], checksum: boolean): Promise<number | undefined> {
  const scratch = checksum && pieces.some((p) => !p.dest) ? scratchFor(pieces) : [];
  let crc = 0;
  let previous: Uint8Array | undefined;
  let position = 0;
  let turn = 0;
  try {
    for (const piece of pieces) {
      if (!piece.dest && !checksum) {
        position += piece.length;
        continue;
      }
      for (let done = 0; done < piece.length; ) {
        const into = piece.dest ?? scratch[turn++ % 2]!;
        const at = piece.dest ? (piece.offset ?? 0) + done : 0;
        const length = Math.min(CHUNK_BYTES, into.byteLength - at, piece.length - done);
        const reading = file.read(into, at, length, position);
        if (previous && checksum) crc = crc32(previous, crc);
        await reading;
        previous = into.subarray(at, at + length);
        done += length;
        position += length;
      }
    }
  } catch (e) {
    throw e instanceof CheckpointError ? e : new CheckpointError('IO_ERROR', `Could not read ${where}: ${(e as Error)?.message ?? String(e)}.`, { cause: e });
  }
  if (previous && checksum) crc = crc32(previous, crc);
  return checksum ? crc : undefined;
}

/**
 * Reads a file as `pieces` (see readPieces) and returns the CRC-32 of all of it. Where the store can
 * checksum the opened file off this thread (StoredFile.checksum: the fs store's helper thread), that
 * runs beside the read, so the checksum costs neither this thread's time nor the load's; else the
 * bytes are checksummed here as they arrive.
 */
export async function readChecksummed(file: StoredFile, where: string, pieces: readonly FilePiece[]): Promise<number> {
  const elsewhere = file.checksum?.();
  if (!elsewhere) return (await readPieces(file, where, pieces, true))!;
  elsewhere.catch(() => undefined); // awaited below, after the read
  await readPieces(file, where, pieces, false);
  const result = await elsewhere;
  if (!result) return (await readPieces(file, where, [{ length: file.size }], true))!;
  if (result.size !== file.size) {
    throw new CorruptCheckpointError(`${where} ended early while being read: the file is truncated.`);
  }
  return result.crc32;
}

/**
 * Reads a small text file (a checkpoint's JSON), refusing anything over `maxBytes`; checked against
 * the `recorded` size and CRC-32 when given.
 */
export async function readText(file: StoredFile, where: string, maxBytes: number, recorded: { size: number; crc32: number } | undefined): Promise<string> {
  if (file.size > maxBytes) {
    throw new CorruptCheckpointError(`${where} is ${file.size} bytes, more than the ${maxBytes} a checkpoint's JSON file may have.`);
  }
  if (recorded) assertFileSize(file, where, recorded.size);
  const bytes = new Uint8Array(file.size);
  const checksum = await readPieces(file, where, [{ length: file.size, dest: bytes }], true);
  if (recorded && checksum !== recorded.crc32) {
    throw new CorruptCheckpointError(`${where} fails its checksum: the file was changed after it was written. Load another checkpoint.`);
  }
  return new TextDecoder('utf-8').decode(bytes);
}
