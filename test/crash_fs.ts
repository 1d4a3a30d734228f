/**
 * Power-loss testing in the spirit of ALICE (Pillai et al., OSDI '14), in two parts:
 *
 * 1. `CrashRecorder`: an `FsOps` that runs every call on the real file system and logs, in
 *    order, each operation that changes it (mkdir, file creation, write, truncate, fsync of a file
 *    or a directory, rename, link, unlink, close), tracking node identity so a rename moves a node and
 *    its contents and a hard link names the same node twice. Reads pass through. Tests add markers (`mark('save 3 resolved')`).
 * 2. `crashStates(log, k)`: the file-system states a power loss after the first `k` logged
 *    operations may leave. Model: a write is durable once its file is fsync'd later; a directory
 *    entry operation (create, mkdir, rename, link, unlink) once its directory is fsync'd later; anything
 *    else may be lost. Per directory, entry operations persist in program order (a prefix that
 *    holds every durable one); per file, writes persist as a prefix. `materialize` writes a state
 *    out as a real directory tree.
 *
 * The recording must start from an empty root directory, so the state before the first operation
 * is known. Anything outside the root is passed through; a mutation there is refused.
 */
import { createHash } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import * as fsp from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { seededRandom } from './helpers.js';

export type NodeId = number;

/** The root directory of a recording is always node 0. */
export const ROOT: NodeId = 0;

/** One logged operation. `path`/`from`/`to` are relative to the root, as they were at that moment (for messages). */
export type Op =
  | { kind: 'mkdir' | 'create'; dir: NodeId; name: string; node: NodeId; path: string }
  | { kind: 'rename'; dir: NodeId; from: string; to: string; fromName: string; toName: string; node: NodeId; replaced: NodeId | undefined }
  | { kind: 'unlink'; dir: NodeId; name: string; node: NodeId; path: string }
  /** A hard link: a second entry (in `dir`, named `name`) for the existing node at `from`; its data are the node's. */
  | { kind: 'link'; dir: NodeId; name: string; node: NodeId; from: string; path: string }
  | { kind: 'write'; node: NodeId; position: number; bytes: Uint8Array; path: string }
  | { kind: 'truncate'; node: NodeId; size: number; path: string }
  /** Makes durable what was logged before index `covers` (when it was issued): data for a file, entries for a directory. */
  | { kind: 'fsync'; node: NodeId; covers: number; path: string }
  | { kind: 'close'; node: NodeId; path: string }
  | { kind: 'mark'; label: string };

export type EntryOp = Extract<Op, { kind: 'mkdir' | 'create' | 'rename' | 'link' | 'unlink' }>;
export type DataOp = Extract<Op, { kind: 'write' | 'truncate' }>;

export function isEntryOp(op: Op): op is EntryOp {
  return op.kind === 'mkdir' || op.kind === 'create' || op.kind === 'rename' || op.kind === 'link' || op.kind === 'unlink';
}

export function isDataOp(op: Op): op is DataOp {
  return op.kind === 'write' || op.kind === 'truncate';
}

// ---------------------------------------------------------------------------------------------
// The model of a file system: nodes (directories and files) and the entries that name them.
// ---------------------------------------------------------------------------------------------

type ModelNode = { kind: 'dir'; entries: Map<string, NodeId> } | { kind: 'file'; data: Uint8Array };

/** Nodes by id; a node may be unreachable (its entry lost or removed) and still hold contents. */
export class Tree {
  private readonly nodes = new Map<NodeId, ModelNode>([[ROOT, { kind: 'dir', entries: new Map() }]]);

  /** The node a root-relative path names, if any. */
  lookup(rel: string): NodeId | undefined {
    let at: NodeId = ROOT;
    for (const part of splitRel(rel)) {
      const node = this.nodes.get(at);
      if (node?.kind !== 'dir') return undefined;
      const next = node.entries.get(part);
      if (next === undefined) return undefined;
      at = next;
    }
    return at;
  }

  kind(node: NodeId): 'dir' | 'file' | undefined {
    return this.nodes.get(node)?.kind;
  }

  entries(node: NodeId): ReadonlyMap<string, NodeId> {
    const n = this.nodes.get(node);
    return n?.kind === 'dir' ? n.entries : new Map();
  }

  data(node: NodeId): Uint8Array {
    const n = this.nodes.get(node);
    return n?.kind === 'file' ? n.data : new Uint8Array(0);
  }

  /** Applies one operation (a replayed state applies only the ones that persisted). */
  apply(op: Op): void {
    switch (op.kind) {
      case 'mkdir':
      case 'create':
        this.nodes.set(op.node, op.kind === 'mkdir' ? { kind: 'dir', entries: new Map() } : { kind: 'file', data: new Uint8Array(0) });
        this.dir(op.dir).set(op.name, op.node);
        return;
      case 'rename': {
        const entries = this.dir(op.dir);
        entries.delete(op.fromName);
        entries.set(op.toName, op.node);
        return;
      }
      case 'link':
        this.dir(op.dir).set(op.name, op.node);
        return;
      case 'unlink':
        this.dir(op.dir).delete(op.name);
        return;
      case 'write':
        this.writeAt(op.node, op.position, op.bytes);
        return;
      case 'truncate': {
        const old = this.data(op.node);
        const data = new Uint8Array(op.size);
        data.set(old.subarray(0, Math.min(old.byteLength, op.size)));
        this.nodes.set(op.node, { kind: 'file', data });
        return;
      }
      default:
        return; // fsync, close and markers change no state.
    }
  }

  private dir(node: NodeId): Map<string, NodeId> {
    let n = this.nodes.get(node);
    // A directory whose own creation did not persist still holds the entries made in it.
    if (n === undefined) this.nodes.set(node, (n = { kind: 'dir', entries: new Map() }));
    if (n.kind !== 'dir') throw new Error(`crash_fs: node ${node} is a file, not a directory`);
    return n.entries;
  }

  private writeAt(node: NodeId, position: number, bytes: Uint8Array): void {
    const old = this.data(node);
    const end = Math.max(old.byteLength, position + bytes.byteLength);
    const data = end === old.byteLength ? old : new Uint8Array(end);
    if (data !== old) data.set(old);
    data.set(bytes, position);
    this.nodes.set(node, { kind: 'file', data });
  }

  /** Reachable files and directories as `relative path → contents` (directories map to null), sorted. */
  listing(): [string, Uint8Array | null][] {
    const out: [string, Uint8Array | null][] = [];
    const walk = (node: NodeId, prefix: string) => {
      for (const name of [...this.entries(node).keys()].sort()) {
        const child = this.entries(node).get(name)!;
        const path = prefix === '' ? name : `${prefix}/${name}`;
        if (this.kind(child) === 'dir') {
          out.push([path, null]);
          walk(child, path);
        } else out.push([path, this.data(child)]);
      }
    };
    walk(ROOT, '');
    return out;
  }

  /** A digest of what is reachable: two states with equal fingerprints look the same on disk. */
  fingerprint(): string {
    const hash = createHash('sha1');
    for (const [path, data] of this.listing()) {
      hash.update(path).update(data === null ? '/\0' : `\0${data.byteLength}\0`);
      if (data) hash.update(data);
    }
    return hash.digest('hex');
  }
}

function splitRel(rel: string): string[] {
  return rel.split(/[/\\]+/).filter((p) => p !== '' && p !== '.');
}

/** Writes the reachable part of a state under `dir` (which must exist and be empty). */
export async function materialize(tree: Tree, dir: string): Promise<void> {
  for (const [path, data] of tree.listing()) {
    if (data === null) await fsp.mkdir(join(dir, path));
    else await fsp.writeFile(join(dir, path), data);
  }
}

/** A real directory tree in the same form as `Tree.listing()` (to check the recorder against the disk). */
export async function readListing(dir: string): Promise<[string, Uint8Array | null][]> {
  const out: [string, Uint8Array | null][] = [];
  const walk = async (at: string, prefix: string) => {
    for (const entry of (await fsp.readdir(at, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const path = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
      if (entry.isDirectory()) {
        out.push([path, null]);
        await walk(join(at, entry.name), path);
      } else out.push([path, new Uint8Array(await fsp.readFile(join(at, entry.name)))]);
    }
  };
  await walk(dir, '');
  return out;
}

// ---------------------------------------------------------------------------------------------
// The recorder.
// ---------------------------------------------------------------------------------------------

interface OpenFlags {
  write: boolean;
  create: boolean;
  truncate: boolean;
  append: boolean;
}

/** Node accepts flags as strings ('r', 'wx', 'a+', …) or as numbers (O_CREAT | O_WRONLY | …). */
function parseFlags(flags: unknown): OpenFlags {
  if (flags === undefined || flags === null) return { write: false, create: false, truncate: false, append: false };
  if (typeof flags === 'number') {
    const has = (bit: number | undefined) => bit !== undefined && bit !== 0 && (flags & bit) === bit;
    return {
      write: has(fsConstants.O_WRONLY) || has(fsConstants.O_RDWR),
      create: has(fsConstants.O_CREAT),
      truncate: has(fsConstants.O_TRUNC),
      append: has(fsConstants.O_APPEND),
    };
  }
  const s = String(flags);
  const write = /[wa+]/.test(s);
  return { write, create: /[wa]/.test(s), truncate: s.includes('w'), append: s.includes('a') };
}

/** Calls the recorder does not model: refusing them keeps a future change from escaping the model silently. */
const UNMODELLED = ['copyFile', 'cp', 'symlink', 'mkdtemp', 'lchown', 'chown'] as const;

export class CrashRecorder {
  readonly root: string;
  /** Every mutating operation and marker, in the order they completed. */
  readonly log: Op[] = [];
  /** What the recorder believes is on disk now; the disk itself is the check (`readListing`). */
  readonly tree = new Tree();
  /** The `FsOps` to hand to the library: node:fs/promises with the mutating calls recorded. */
  readonly fs: typeof fsp;
  private nextNode = ROOT + 1;

  private constructor(root: string) {
    this.root = resolve(root);
    this.fs = this.buildFs();
  }

  /** A recorder for `root`, which must be an existing empty directory. */
  static async create(root: string): Promise<CrashRecorder> {
    const entries = await fsp.readdir(root);
    if (entries.length > 0) throw new Error(`crash_fs: the recording root ${root} must be empty (it holds ${entries.join(', ')})`);
    return new CrashRecorder(root);
  }

  /** Puts a marker in the log; returns its index (ops before it are the ones that completed earlier). */
  mark(label: string): number {
    this.log.push({ kind: 'mark', label });
    return this.log.length - 1;
  }

  /** The root-relative path of `path`, or undefined when it lies outside the root. */
  rel(path: unknown): string | undefined {
    const r = relative(this.root, resolve(pathString(path)));
    if (r === '') return '';
    if (r === '..' || r.startsWith(`..${sep}`) || isAbsolute(r)) return undefined;
    return splitRel(r).join('/');
  }

  private record(op: Op): void {
    this.log.push(op);
    this.tree.apply(op);
  }

  private newNode(): NodeId {
    return this.nextNode++;
  }

  /** Parent node and last name of a root-relative path, when the parent exists in the model. */
  private parentOf(rel: string): { dir: NodeId; name: string } {
    const parts = splitRel(rel);
    const name = parts.pop();
    const dir = this.tree.lookup(parts.join('/'));
    if (name === undefined || dir === undefined) throw new Error(`crash_fs: no parent directory known for '${rel}'`);
    return { dir, name };
  }

  private inside(path: unknown, call: string): string {
    const rel = this.rel(path);
    if (rel === undefined) throw new Error(`crash_fs: ${call}('${pathString(path)}') changes a path outside the recording root ${this.root}`);
    return rel;
  }

  private buildFs(): typeof fsp {
    const refused = Object.fromEntries(
      UNMODELLED.map((name) => [
        name,
        () => Promise.reject(new Error(`crash_fs: ${name}() is not modelled by the crash recorder; teach test/crash_fs.ts about it`)),
      ]),
    );
    return {
      ...fsp,
      ...refused,
      open: ((path: unknown, flags?: unknown, mode?: unknown) => this.open(path, flags, mode)) as typeof fsp.open,
      mkdir: ((path: unknown, options?: unknown) => this.mkdir(path, options)) as typeof fsp.mkdir,
      rename: ((from: unknown, to: unknown) => this.rename(from, to)) as typeof fsp.rename,
      link: ((existing: unknown, target: unknown) => this.link(existing, target)) as typeof fsp.link,
      rm: ((path: unknown, options?: { recursive?: boolean; force?: boolean }) => this.rm(path, options)) as typeof fsp.rm,
      unlink: ((path: unknown) => this.removeOne(path, 'unlink', () => fsp.unlink(pathString(path)))) as typeof fsp.unlink,
      rmdir: ((path: unknown) => this.removeOne(path, 'rmdir', () => fsp.rmdir(pathString(path)))) as typeof fsp.rmdir,
      writeFile: ((path: unknown, data: unknown, options?: unknown) => this.writeWhole(path, data, options, 'w')) as typeof fsp.writeFile,
      appendFile: ((path: unknown, data: unknown, options?: unknown) => this.writeWhole(path, data, options, 'a')) as typeof fsp.appendFile,
      truncate: (async (path: unknown, len?: number) => {
        const handle = await this.open(path, 'r+');
        try {
          await handle.truncate(len ?? 0);
        } finally {
          await handle.close();
        }
      }) as typeof fsp.truncate,
    } as typeof fsp;
  }

  private async open(path: unknown, flags?: unknown, mode?: unknown): Promise<FileHandle> {
    const parsed = parseFlags(flags);
    const rel = this.rel(path);
    if (rel === undefined && (parsed.write || parsed.create)) {
      throw new Error(`crash_fs: open('${pathString(path)}') for writing outside the recording root ${this.root}`);
    }
    const existing = rel === undefined ? undefined : this.tree.lookup(rel);
    const handle = await fsp.open(path as string, flags as string, mode as number);
    // Outside the root only reads remain (e.g. fsync of a directory above it): nothing of ours to make durable.
    if (rel === undefined) return handle;
    let node = existing;
    if (node === undefined) {
      if (!parsed.create) throw new Error(`crash_fs: open('${rel}') succeeded but the recorder did not know the file`);
      const { dir, name } = this.parentOf(rel);
      node = this.newNode();
      this.record({ kind: 'create', dir, name, node, path: rel });
    } else if (parsed.truncate && parsed.write && this.tree.kind(node) === 'file') {
      this.record({ kind: 'truncate', node, size: 0, path: rel });
    }
    // Closing a file opened only to read it changes nothing; a writer's or a directory's close is logged.
    const logClose = parsed.write || parsed.create || this.tree.kind(node) === 'dir';
    return this.wrapHandle(handle, node, rel, parsed, logClose);
  }

  /** Records writes, truncation, fsync and close of one open file or directory. */
  private wrapHandle(handle: FileHandle, node: NodeId, rel: string, flags: OpenFlags, logClose: boolean): FileHandle {
    const real = {
      write: handle.write.bind(handle) as (...args: unknown[]) => Promise<{ bytesWritten: number }>,
      writev: handle.writev.bind(handle) as (buffers: NodeJS.ArrayBufferView[], position?: number | null) => Promise<{ bytesWritten: number }>,
      truncate: handle.truncate.bind(handle),
      sync: handle.sync.bind(handle),
      datasync: handle.datasync.bind(handle),
      close: handle.close.bind(handle),
    };
    let position = 0; // The handle's own file position, used by writes without a position.
    const place = (explicit: unknown, length: number): number => {
      if (flags.append) return this.tree.data(node).byteLength; // O_APPEND: always at the end.
      if (typeof explicit === 'number' || typeof explicit === 'bigint') return Number(explicit);
      const at = position;
      position += length;
      return at;
    };
    const recordWrite = (at: number, bytes: Uint8Array, bytesWritten: number, explicit: boolean) => {
      if (!explicit && !flags.append) position += bytesWritten - bytes.byteLength; // a short write moves less
      this.record({ kind: 'write', node, position: at, bytes: bytes.slice(0, bytesWritten), path: rel });
    };
    const flush = async (run: () => Promise<void>) => {
      const covers = this.log.length;
      await run();
      this.record({ kind: 'fsync', node, covers, path: rel });
    };
    return Object.assign(handle, {
      write: async (...args: unknown[]) => {
        const { bytes, explicit } = writeArgs(args);
        const at = place(explicit, bytes.byteLength);
        const result = await real.write(...args);
        recordWrite(at, bytes, result.bytesWritten, typeof explicit === 'number' || typeof explicit === 'bigint');
        return result;
      },
      writev: async (buffers: NodeJS.ArrayBufferView[], explicit?: number | null) => {
        const bytes = concat(buffers.map(viewBytes));
        const at = place(explicit, bytes.byteLength);
        const result = await real.writev(buffers, explicit);
        recordWrite(at, bytes, result.bytesWritten, typeof explicit === 'number');
        return result;
      },
      truncate: async (len?: number) => {
        await real.truncate(len);
        this.record({ kind: 'truncate', node, size: len ?? 0, path: rel });
      },
      sync: () => flush(real.sync),
      datasync: () => flush(real.datasync),
      close: async () => {
        await real.close();
        if (logClose) this.record({ kind: 'close', node, path: rel });
      },
      writeFile: () => Promise.reject(new Error('crash_fs: FileHandle.writeFile() is not modelled; use write()')),
      appendFile: () => Promise.reject(new Error('crash_fs: FileHandle.appendFile() is not modelled; use write()')),
    }) as FileHandle;
  }

  private async mkdir(path: unknown, options?: unknown): Promise<string | undefined> {
    const recursive = typeof options === 'object' && options !== null && (options as { recursive?: boolean }).recursive === true;
    const rel = this.rel(path);
    if (rel === undefined) {
      // An ancestor of the root (mkdir -p of the root's parent): it exists, so nothing changes.
      if (recursive && (await fsp.stat(pathString(path)).then((s) => s.isDirectory(), () => false))) return undefined;
      throw new Error(`crash_fs: mkdir('${pathString(path)}') outside the recording root ${this.root}`);
    }
    const parts = splitRel(rel);
    const missing: string[] = [];
    for (let i = 1; i <= parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      if (this.tree.lookup(prefix) === undefined) missing.push(prefix);
    }
    const result = await fsp.mkdir(pathString(path), options as never);
    for (const dirRel of missing) {
      const { dir, name } = this.parentOf(dirRel);
      this.record({ kind: 'mkdir', dir, name, node: this.newNode(), path: dirRel });
    }
    return result as string | undefined;
  }

  private async rename(from: unknown, to: unknown): Promise<void> {
    const fromRel = this.inside(from, 'rename');
    const toRel = this.inside(to, 'rename');
    const node = this.tree.lookup(fromRel);
    const replaced = this.tree.lookup(toRel);
    await fsp.rename(pathString(from), pathString(to));
    if (node === undefined) throw new Error(`crash_fs: rename('${fromRel}') succeeded but the recorder did not know it`);
    const source = this.parentOf(fromRel);
    const target = this.parentOf(toRel);
    if (source.dir !== target.dir) {
      // No caller needs it yet; a rename between directories would touch two entry logs at once.
      throw new Error(`crash_fs: rename between directories ('${fromRel}' → '${toRel}') is not modelled`);
    }
    this.record({ kind: 'rename', dir: source.dir, from: fromRel, to: toRel, fromName: source.name, toName: target.name, node, replaced });
  }

  /** A hard link: one more entry for a node, in the target's directory (the node's data are shared). */
  private async link(existing: unknown, target: unknown): Promise<void> {
    const fromRel = this.inside(existing, 'link');
    const toRel = this.inside(target, 'link');
    const node = this.tree.lookup(fromRel);
    await fsp.link(pathString(existing), pathString(target));
    if (node === undefined) throw new Error(`crash_fs: link('${fromRel}') succeeded but the recorder did not know it`);
    this.record({ kind: 'link', ...this.parentOf(toRel), node, from: fromRel, path: toRel });
  }

  /** rm: a recursive removal unlinks every entry, children before their directory (as rimraf does). */
  private async rm(path: unknown, options?: { recursive?: boolean; force?: boolean }): Promise<void> {
    const rel = this.inside(path, 'rm');
    const node = this.tree.lookup(rel);
    const unlinks = node === undefined ? [] : this.removalOrder(rel, node);
    await fsp.rm(pathString(path), options);
    for (const op of unlinks) this.record(op);
  }

  private async removeOne(path: unknown, call: string, run: () => Promise<void>): Promise<void> {
    const rel = this.inside(path, call);
    const node = this.tree.lookup(rel);
    await run();
    if (node === undefined) throw new Error(`crash_fs: ${call}('${rel}') succeeded but the recorder did not know it`);
    this.record({ kind: 'unlink', ...this.parentOf(rel), node, path: rel });
  }

  private removalOrder(rel: string, node: NodeId): Op[] {
    const out: Op[] = [];
    for (const [name, child] of this.tree.entries(node)) out.push(...this.removalOrder(`${rel}/${name}`, child));
    out.push({ kind: 'unlink', ...this.parentOf(rel), node, path: rel });
    return out;
  }

  /** writeFile/appendFile through a recorded handle, so they log like any other write. */
  private async writeWhole(path: unknown, data: unknown, options: unknown, defaultFlag: 'w' | 'a'): Promise<void> {
    type Options = { encoding?: BufferEncoding; flag?: string; mode?: number };
    const opts: Options = typeof options === 'string' ? { encoding: options as BufferEncoding } : ((options ?? {}) as Options);
    const bytes = typeof data === 'string' ? Buffer.from(data, opts.encoding ?? 'utf8') : viewBytes(data as NodeJS.ArrayBufferView);
    const handle = await this.open(path, opts.flag ?? defaultFlag, opts.mode);
    try {
      for (let done = 0; done < bytes.byteLength; ) done += (await handle.write(bytes, done, bytes.byteLength - done)).bytesWritten;
    } finally {
      await handle.close();
    }
  }
}

function pathString(path: unknown): string {
  if (typeof path === 'string') return path;
  if (path instanceof URL) return path.pathname;
  if (Buffer.isBuffer(path)) return path.toString();
  throw new Error(`crash_fs: unsupported path ${String(path)}`);
}

function viewBytes(view: NodeJS.ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** The bytes a FileHandle.write call asks to write (copied: the caller may reuse its buffer) and its explicit position. */
function writeArgs(args: unknown[]): { bytes: Uint8Array; explicit: unknown } {
  const [data, a, b, c] = args;
  if (typeof data === 'string') {
    // write(string, position?, encoding?)
    return { bytes: Buffer.from(data, (b as BufferEncoding | undefined) ?? 'utf8'), explicit: a };
  }
  const all = viewBytes(data as NodeJS.ArrayBufferView);
  if (typeof a === 'object' && a !== null) {
    // write(buffer, { offset, length, position })
    const o = a as { offset?: number; length?: number; position?: number | null };
    const offset = o.offset ?? 0;
    return { bytes: all.slice(offset, offset + (o.length ?? all.byteLength - offset)), explicit: o.position };
  }
  const offset = (a as number | undefined) ?? 0;
  const length = (b as number | undefined) ?? all.byteLength - offset;
  return { bytes: all.slice(offset, offset + length), explicit: c };
}

// ---------------------------------------------------------------------------------------------
// Crash states.
// ---------------------------------------------------------------------------------------------

/** The operations of a prefix grouped the way they may persist: per directory (entries) and per file (data). */
interface Group {
  key: string;
  /** Indices into the log, in program order. */
  ops: number[];
  /** How many of `ops` (a prefix) are durable: they persist in every state. */
  durable: number;
}

export interface CrashState {
  /** Power was lost after the first `crashPoint` logged operations. */
  crashPoint: number;
  /** How the state was chosen, for messages: 'all kept', 'dir 12 keeps 3/5, rest lost', … */
  label: string;
  tree: Tree;
  fingerprint: string;
}

export interface CrashStateOptions {
  /** Extra random states per crash point (seeded). Default 4. */
  random?: number;
  seed?: number;
}

/** For each node, the highest `covers` among its fsyncs that completed within the first `k` operations. */
function durableBefore(log: readonly Op[], k: number): Map<NodeId, number> {
  const covered = new Map<NodeId, number>();
  for (let i = 0; i < k; i++) {
    const op = log[i]!;
    if (op.kind === 'fsync') covered.set(op.node, Math.max(covered.get(op.node) ?? 0, op.covers));
  }
  return covered;
}

export function groupsAt(log: readonly Op[], k: number): Group[] {
  const covered = durableBefore(log, k);
  const groups = new Map<string, Group & { owner: NodeId }>();
  for (let i = 0; i < k; i++) {
    const op = log[i]!;
    const owner = isEntryOp(op) ? op.dir : isDataOp(op) ? op.node : undefined;
    if (owner === undefined) continue;
    const key = `${isEntryOp(op) ? 'dir' : 'file'} ${owner}`;
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { key, ops: [], durable: 0, owner }));
    group.ops.push(i);
  }
  for (const group of groups.values()) {
    const limit = covered.get(group.owner) ?? 0;
    group.durable = group.ops.filter((i) => i < limit).length;
  }
  return [...groups.values()];
}

/** Replays the first `k` operations, keeping from each group only the first `keep.get(key)` (default: all). */
export function replay(log: readonly Op[], k: number, groups: readonly Group[], keep: ReadonlyMap<string, number> = new Map()): Tree {
  const kept = new Set<number>();
  for (const g of groups) for (const i of g.ops.slice(0, keep.get(g.key) ?? g.ops.length)) kept.add(i);
  const tree = new Tree();
  for (let i = 0; i < k; i++) {
    const op = log[i]!;
    if ((isEntryOp(op) || isDataOp(op)) && !kept.has(i)) continue;
    tree.apply(op);
  }
  return tree;
}

/** The state with every operation of the first `k` applied (what a process crash, not a power loss, leaves). */
export function stateAfter(log: readonly Op[], k: number): Tree {
  return replay(log, k, groupsAt(log, k));
}

/**
 * The distinct states a power loss after the first `k` operations may leave: everything kept;
 * everything not durable lost; each directory's possible prefixes with the rest kept and with the
 * rest lost; each file's non-durable data lost with the rest kept; and `random` seeded mixtures.
 */
export function crashStates(log: readonly Op[], k: number, options: CrashStateOptions = {}): CrashState[] {
  const groups = groupsAt(log, k);
  const open = groups.filter((g) => g.durable < g.ops.length);
  const all = new Map(open.map((g) => [g.key, g.ops.length]));
  const none = new Map(open.map((g) => [g.key, g.durable]));
  const choices: { label: string; keep: Map<string, number> }[] = [
    { label: 'all kept', keep: all },
    { label: 'all non-durable lost', keep: none },
  ];
  for (const g of open) {
    if (g.key.startsWith('dir')) {
      for (let n = g.durable; n < g.ops.length; n++) {
        choices.push({ label: `${g.key} keeps ${n}/${g.ops.length}, rest kept`, keep: new Map([...all, [g.key, n]]) });
        choices.push({ label: `${g.key} keeps ${n}/${g.ops.length}, rest lost`, keep: new Map([...none, [g.key, n]]) });
      }
    } else {
      choices.push({ label: `${g.key} loses its data, rest kept`, keep: new Map([...all, [g.key, g.durable]]) });
    }
  }
  const random = seededRandom((options.seed ?? 1) * 1_000_003 + k);
  for (let r = 0; r < (open.length > 0 ? options.random ?? 4 : 0); r++) {
    const keep = new Map(open.map((g) => [g.key, g.durable + Math.floor(random() * (g.ops.length - g.durable + 1))]));
    choices.push({ label: `random ${r}: ${[...keep].map(([key, n]) => `${key}=${n}`).join(' ')}`, keep });
  }
  const seen = new Set<string>();
  const out: CrashState[] = [];
  for (const choice of choices) {
    const tree = replay(log, k, groups, choice.keep);
    const fingerprint = tree.fingerprint();
    if (seen.has(fingerprint)) continue;
    seen.add(fingerprint);
    out.push({ crashPoint: k, label: choice.label, tree, fingerprint });
  }
  return out;
}
