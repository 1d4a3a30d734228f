/**
 * A helper thread that runs a few named operations for the main thread, where training runs: the
 * fs store's file-system steps (stores/fs_worker.ts) and the S3 store's uploads (s3_send_thread.ts).
 *
 * Its code is a source string evaluated as a CommonJS script (no file to resolve, in the ESM and the
 * CJS build alike). The script gets, before its own code, `errorReply(e)` (an error as a message)
 * and, when asked, the lowest priority for its thread. It answers each `{ id, op, args }` message
 * with `{ id, result }` or `{ id, error }`, in any order.
 *
 * Started on first use and unref'd while idle (it never keeps a process alive). Where it cannot
 * run (no worker threads, `available: false`) or once it has died, every call resolves undefined
 * and the caller does the step itself, on its own thread.
 */
import { Worker, type ResourceLimits } from 'node:worker_threads';

const PRELUDE = `
// A background thread at the lowest priority (Linux: a thread's own nice value, set through its
// id), so its work never keeps training's thread from a core it is ready to run on.
if (require('node:worker_threads').workerData.lowPriority) {
  try {
    const fs = require('node:fs');
    require('node:os').setPriority(Number(fs.readlinkSync('/proc/thread-self').split('/').pop()), 19);
  } catch {}
}
function errorReply(e) {
  // (The AWS SDK's errors: their $metadata holds the HTTP status the S3 store reads.)
  return { message: String((e && e.message) || e), name: e && e.name, code: e && e.code, syscall: e && e.syscall, step: e && e.step, $metadata: e && e.$metadata && { ...e.$metadata }, $fault: e && e.$fault };
}
`;

export interface HelperThreadOptions {
  /** Run at the lowest priority: for work nobody waits on (a save's), never for a load's. */
  lowPriority: boolean;
  /** False where the script cannot do its job here (say, `zlib.crc32` is missing): every call then resolves undefined. */
  available?: boolean;
  resourceLimits: ResourceLimits;
}

interface ErrorReply {
  message: string;
  name?: string;
  code?: string;
  syscall?: string;
  step?: string;
  $metadata?: Record<string, unknown>;
  $fault?: string;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

export class HelperThread {
  private worker: Worker | undefined;
  private broken: boolean;
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();

  constructor(
    private readonly source: string,
    private readonly options: HelperThreadOptions,
  ) {
    this.broken = options.available === false;
  }

  get available(): boolean {
    return !this.broken;
  }

  get started(): boolean {
    return this.worker !== undefined;
  }

  /**
   * Runs `op` there; undefined when the thread cannot run it (the caller then does it itself).
   * Rejects with the thread's error, its name, `code`, `syscall`, `step`, `$metadata` and `$fault` kept.
   */
  run(op: string, args: unknown, transfer?: readonly ArrayBuffer[]): Promise<unknown> {
    const w = this.start();
    if (!w) return Promise.resolve(undefined);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      // Referenced while it has work: a save awaiting a step keeps the process alive, as a write would.
      w.ref();
      w.postMessage({ id, op, args }, transfer ?? []);
    });
  }

  start(): Worker | undefined {
    if (this.broken) return undefined;
    if (this.worker) return this.worker;
    let worker: Worker;
    try {
      worker = new Worker(PRELUDE + this.source, {
        eval: true,
        workerData: { lowPriority: this.options.lowPriority },
        // Plain CommonJS needing no loader hooks (--import tsx and the like).
        execArgv: [],
        resourceLimits: this.options.resourceLimits,
      });
    } catch {
      this.broken = true;
      return undefined;
    }
    this.worker = worker;
    worker.on('message', (m: { id: number; result?: unknown; error?: ErrorReply }) => {
      const job = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (!job) return;
      if (m.error !== undefined) job.reject(threadError(m.error));
      else job.resolve(m.result);
      if (this.pending.size === 0) worker.unref();
    });
    // A dead thread: its jobs fall back to the caller's own thread, and so does every later one.
    const fail = () => {
      this.broken = true;
      this.worker = undefined;
      for (const job of this.pending.values()) job.resolve(undefined);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', fail);
    // After the listeners: adding a 'message' listener refs the thread again.
    worker.unref();
    return worker;
  }
}

function threadError(reply: ErrorReply): Error {
  const error = new Error(reply.message);
  if (reply.name && reply.name !== 'Error') error.name = reply.name;
  for (const key of ['code', 'syscall', 'step', '$metadata', '$fault'] as const) if (reply[key] !== undefined && reply[key] !== null) Object.assign(error, { [key]: reply[key] });
  return error;
}
