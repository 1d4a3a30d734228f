/** A fault-injecting FsOps for tests: fails the N-th call of one kind of operation with an errno. */
import * as fsp from 'node:fs/promises';
import type { FsOps } from '../src/index.js';

export type FaultPoint = 'open' | 'write' | 'sync' | 'rename' | 'mkdir' | 'rm';

export interface FaultPlan {
  at: FaultPoint;
  /** Fail the call with this index (0-based) among calls of that kind that `match`. Default 0. */
  nth?: number;
  /** Keep failing every later matching call too. Default false. */
  sticky?: boolean;
  code: 'ENOSPC' | 'EACCES' | 'EIO' | 'EROFS';
  /** Only count calls whose path satisfies this. */
  match?: (path: string) => boolean;
}

function errno(code: string, syscall: string, path: string): NodeJS.ErrnoException {
  const messages: Record<string, string> = { ENOSPC: 'no space left on device', EACCES: 'permission denied', EIO: 'i/o error', EROFS: 'read-only file system' };
  const e = new Error(`${code}: ${messages[code]}, ${syscall} '${path}'`) as NodeJS.ErrnoException;
  e.code = code;
  e.syscall = syscall;
  e.path = path;
  return e;
}

export function faultyFs(plan: FaultPlan): FsOps & { triggered: number } {
  let seen = 0;
  const state = { triggered: 0 };
  const shouldFail = (point: FaultPoint, path: string) => {
    if (point !== plan.at || (plan.match && !plan.match(path))) return false;
    const index = seen++;
    const fail = plan.sticky ? index >= (plan.nth ?? 0) : index === (plan.nth ?? 0);
    if (fail) state.triggered += 1;
    return fail;
  };
  const ops: FsOps = {
    async open(path, flags, mode) {
      if (shouldFail('open', String(path))) throw errno(plan.code, 'open', String(path));
      const handle = await fsp.open(path, flags, mode);
      const write = handle.write.bind(handle) as (...args: unknown[]) => Promise<{ bytesWritten: number }>;
      const writev = handle.writev.bind(handle) as (...args: unknown[]) => Promise<{ bytesWritten: number }>;
      const sync = handle.sync.bind(handle);
      return Object.assign(handle, {
        write: async (...args: unknown[]) => {
          if (shouldFail('write', String(path))) throw errno(plan.code, 'write', String(path));
          return write(...args);
        },
        writev: async (...args: unknown[]) => {
          if (shouldFail('write', String(path))) throw errno(plan.code, 'write', String(path));
          return writev(...args);
        },
        sync: async () => {
          if (shouldFail('sync', String(path))) throw errno(plan.code, 'fsync', String(path));
          return sync();
        },
      });
    },
    async mkdir(path, options) {
      if (shouldFail('mkdir', String(path))) throw errno(plan.code, 'mkdir', String(path));
      return fsp.mkdir(path, options as never) as never;
    },
    async rename(from, to) {
      if (shouldFail('rename', String(to))) throw errno(plan.code, 'rename', String(to));
      return fsp.rename(from, to);
    },
    async rm(path, options) {
      if (shouldFail('rm', String(path))) throw errno(plan.code, 'rm', String(path));
      return fsp.rm(path, options);
    },
    readdir: fsp.readdir as FsOps['readdir'],
    stat: fsp.stat as FsOps['stat'],
  };
  return Object.defineProperty(ops, 'triggered', { get: () => state.triggered }) as FsOps & { triggered: number };
}

/** Matches paths of checkpoint `name` and of its temporaries (not names that merely contain it). */
export function inCheckpoint(name: string): (path: string) => boolean {
  return (path) => path.split('/').some((segment) => segment === name || segment.startsWith(`.${name}.tmp-`) || segment.startsWith(`.${name}.old-`));
}
