/**
 * The file-system calls the Node driver makes, gathered in one object so tests can inject faults
 * (a full disk, a permission error, an I/O error at the N-th write) without touching a real device.
 */
import * as fsSync from 'node:fs';
import * as fsp from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { promisify } from 'node:util';

export type FsOps = Pick<typeof fsp, 'open' | 'mkdir' | 'rename' | 'rm' | 'readdir' | 'stat'> &
  /** Used to claim a single file's name at commit (fails when the name is taken); without it, a check then a rename. */
  Partial<Pick<typeof fsp, 'link'>>;

export const nodeFs: FsOps = {
  open: fsp.open,
  mkdir: fsp.mkdir,
  rename: fsp.rename,
  rm: fsp.rm,
  readdir: fsp.readdir,
  stat: fsp.stat,
  link: fsp.link,
};

const writevFd = promisify(fsSync.writev);
const writeFd = promisify(fsSync.write);
const fsyncFd = promisify(fsSync.fsync);

/**
 * What a save does with a file it opened: a `FileHandle`'s calls, over a descriptor opened by
 * `nodeFsNow` (Node has no way to make a `FileHandle` of one).
 */
function handleOf(fd: number): FileHandle {
  let closed = false;
  const handle = {
    fd,
    // (Node's promisified `writev` and `write` resolve to `{ bytesWritten, buffers }` and `{ bytesWritten, buffer }`, as a FileHandle's do.)
    writev: (buffers: readonly NodeJS.ArrayBufferView[]) => writevFd(fd, buffers),
    write: (buffer: Uint8Array, offset = 0, length = buffer.byteLength - offset) => writeFd(fd, buffer, offset, length, null),
    sync: () => fsyncFd(fd),
    close: async () => {
      if (closed) return;
      closed = true;
      fsSync.closeSync(fd);
    },
  };
  return handle as unknown as FileHandle;
}

/**
 * The same calls, each done before it returns (awaiting one takes no turn of the event loop), for the
 * steps of a save that start its bytes on their way: inside `fit` on a synchronous backend, the loop
 * turns only between batches, and a save that waited there for its folder and files to be created
 * would write nothing until the next batch ended (src/callbacks/event_loop_turn.ts). These are
 * metadata calls of microseconds on a local disk; the bytes still go out on the thread pool, through
 * the handles `open` returns (`writev`, `write`, `sync`; `close` is immediate).
 */
export const nodeFsNow: FsOps = {
  open: (async (path: string, flags: string | number) => handleOf(fsSync.openSync(path, flags))) as FsOps['open'],
  mkdir: (async (path: string, options?: fsSync.MakeDirectoryOptions) => fsSync.mkdirSync(path, options)) as FsOps['mkdir'],
  rename: async (from, to) => fsSync.renameSync(from, to),
  rm: async (path, options) => fsSync.rmSync(path, options),
  readdir: (async (path: string) => fsSync.readdirSync(path)) as FsOps['readdir'],
  stat: (async (path: string, options?: fsSync.StatOptions) => fsSync.statSync(path, options)) as FsOps['stat'],
  link: async (from, to) => fsSync.linkSync(from, to),
};
