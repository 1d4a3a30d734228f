/**
 * A local file for libraries that only open files by path (HDF5 through h5wasm): the file itself
 * when the store is a local file system, else a temporary copy (streamed in slices, never whole in
 * memory), removed by `cleanup()`.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OpenedFile } from '../stores/store.js';

const SLICE = 8 * 1024 * 1024;

export function tempPath(extension: string): string {
  return join(tmpdir(), `tfjs-checkpoint-${process.pid}-${randomBytes(6).toString('hex')}${extension}`);
}

export interface LocalFile {
  path: string;
  cleanup(): Promise<void>;
}

/** `length` bytes of `file` from `offset` (default: all of it) as a local file. */
export async function localCopy(file: OpenedFile, extension: string, range?: { offset: number; length: number }): Promise<LocalFile> {
  if (file.localPath && !range) return { path: file.localPath, cleanup: async () => undefined };
  const { offset, length } = range ?? { offset: 0, length: file.size };
  const path = tempPath(extension);
  const out = await open(path, 'wx', 0o600);
  try {
    const buffer = new Uint8Array(Math.min(SLICE, Math.max(length, 1)));
    for (let done = 0; done < length; ) {
      const n = Math.min(buffer.byteLength, length - done);
      await file.read(buffer, 0, n, offset + done);
      await out.write(buffer, 0, n, done);
      done += n;
    }
  } catch (e) {
    await out.close().catch(() => undefined);
    await rm(path, { force: true });
    throw e;
  }
  await out.close();
  return { path, cleanup: () => rm(path, { force: true }) };
}

/** A local file's bytes as chunks (for streaming it into a store). */
export async function* fileChunks(path: string): AsyncIterable<Uint8Array> {
  for await (const chunk of createReadStream(path, { highWaterMark: SLICE })) yield chunk as Uint8Array;
}
