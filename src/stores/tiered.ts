/**
 * The local tier (`localCache`): a store in front of a remote one (S3 or any other). Each checkpoint
 * commits to the local store first (durable as fast as the local disk allows), then a background
 * queue copies it to the remote store, where the remote store's own commit protocol makes it visible
 * all at once. When the remote store is unreachable, saves go on committing locally and the queue
 * retries with backoff; `settle()` reports what has not reached it yet.
 *
 * The queue keeps no state of its own on disk: what still needs uploading is what is committed locally
 * but differs from the remote copy (their `checkpoint.json` bytes differ). `recover()` of a directory
 * (which every manager does before its first save) queues exactly that, so a process that stopped with
 * uploads pending has them finished by the next one using the same cache.
 *
 * Reading sees both tiers as one: `list` is their union (what only the remote holds too: another
 * machine's checkpoints, or a cache that was wiped), `open` reads the local copy when there is one.
 * Deletions (retention) remove the local copy at once and the remote one in the queue, hidden from
 * `list` meanwhile. One writer per remote prefix, as everywhere: the local copy is taken as the newest
 * of a key both tiers hold.
 */
import { asCheckpointError, CheckpointError, CorruptCheckpointError } from '../errors.js';
import { GenerationChanged } from './store.js';
import { metadataSchema } from '../formats/schema.js';
import { isInside, keyBasename, keyDirname, type StoreKey } from './keys.js';
import { noteName, takenNames } from '../checkpoint/taken_names.js';
import type { ByteChunks, CheckpointReader, CheckpointStore, ListedCheckpoint, ListOptions, OpenedFile, StagedCheckpoint, StagedFile, StageOptions, StoredFile } from './store.js';

const MARKER = 'checkpoint.json';
const MARKER_LIMIT = 16 * 1024 * 1024;
/** Bytes per read when copying a file to the remote store; each chunk is a new buffer, as stores may hold several. */
const COPY_CHUNK = 8 * 1024 * 1024;

type Operation =
  /** `shared`: files the local save shared from an earlier checkpoint (file name → its key), for the remote store to share too. */
  | { kind: 'upload'; key: StoreKey; files?: readonly string[]; shared?: ReadonlyMap<string, StoreKey> }
  | { kind: 'remove'; key: StoreKey }
  | { kind: 'writeSmall'; key: StoreKey; bytes: Uint8Array }
  | { kind: 'removeSmall'; key: StoreKey }
  | { kind: 'recover'; dir: StoreKey; isOurs: (name: string) => boolean };

export interface TieredStoreOptions {
  /** Told when the remote store stops answering (once per outage) and when the queue has caught up again. */
  logger?: { warn(message: string): void };
  /** How messages show a key of the remote store (its URL). Default: the key. */
  describe?: (key: StoreKey) => string;
  /** The first retry's delay after a failure, doubling up to `maxRetryDelayMs`. Default 1,000 ms. */
  retryDelayMs?: number;
  /** Default 30,000 ms. */
  maxRetryDelayMs?: number;
  /**
   * How long a save waits for the remote store when it asks whether a name is taken or lists the
   * checkpoints (those run while training waits). Past it, or after a failure, the local tier answers
   * alone, and the remote store is not asked again until the retry delay has passed. Default 3,000 ms.
   */
  answerWithinMs?: number;
}

/** What has not reached the remote store yet. */
export interface TierReport {
  /** Checkpoints committed locally but not yet uploaded, oldest first (keys of the remote store). */
  notUploaded: StoreKey[];
  /** Deletions and pointer updates not yet applied remotely. */
  otherPending: number;
  /** Local checkpoints that could not be uploaded because the local copy is damaged (they never will be). */
  damaged: StoreKey[];
  /** The last failure to reach the remote store, when the queue is not empty. */
  error?: CheckpointError;
}

/** The local copy cannot be uploaded as it is: retrying will not help. */
class LocalCopyDamaged extends CorruptCheckpointError {}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

async function readWhole(file: StoredFile, limit: number, where: string): Promise<Uint8Array> {
  if (file.size > limit) throw new CorruptCheckpointError(`${where} is ${file.size} bytes, more than a checkpoint.json can be.`);
  const bytes = new Uint8Array(file.size);
  await file.read(bytes, 0, file.size, 0);
  return bytes;
}

/** A file's bytes in new chunks of COPY_CHUNK. */
async function* fileChunks(file: StoredFile): AsyncGenerator<Uint8Array> {
  for (let position = 0; position < file.size; position += COPY_CHUNK) {
    const chunk = new Uint8Array(Math.min(COPY_CHUNK, file.size - position));
    await file.read(chunk, 0, chunk.byteLength, position);
    yield chunk;
  }
}

/** Whether `b` supersedes `a`: the same checkpoint, the same pointer, or the same directory to recover. */
function sameTarget(a: Operation, b: Operation): boolean {
  if (a.kind === 'recover' || b.kind === 'recover') return a.kind === 'recover' && b.kind === 'recover' && a.dir === b.dir;
  const small = (op: Operation) => op.kind === 'writeSmall' || op.kind === 'removeSmall';
  return small(a) === small(b) && a.key === b.key;
}

export class TieredStore implements CheckpointStore {
  readonly scheme: string;
  private readonly queue: Operation[] = [];
  private running: Promise<void> | null = null;
  private failures = 0;
  private lastError: CheckpointError | undefined;
  /** Until when reads skip the remote store (it failed or did not answer in time); 0: ask it. */
  private awayUntil = 0;
  private readonly damaged: StoreKey[] = [];
  /** Wakes the worker from its backoff (a flush wants an attempt now). */
  private wake: (() => void) | null = null;
  /** Resolved after each attempt, success or failure. */
  private attemptListeners: (() => void)[] = [];

  constructor(
    readonly remote: CheckpointStore,
    readonly local: CheckpointStore,
    /** Where the remote store's keys live in the local one: remote `/a/b` is local `<localRoot>/a/b`. */
    readonly localRoot: StoreKey,
    private readonly options: TieredStoreOptions = {},
  ) {
    this.scheme = remote.scheme;
  }

  private toLocal(key: StoreKey): StoreKey {
    if (this.localRoot === '/') return key;
    return key === '/' ? this.localRoot : `${this.localRoot}${key}`;
  }

  private toRemote(localKey: StoreKey): StoreKey {
    if (this.localRoot === '/') return localKey;
    if (localKey === this.localRoot) return '/';
    if (!isInside(localKey, this.localRoot)) throw new CheckpointError('IO_ERROR', `The local tier returned ${localKey}, outside its directory ${this.localRoot}.`);
    return localKey.slice(this.localRoot.length);
  }

  // ---- writing: local first, then queued for the remote store ----

  async stage(key: StoreKey, options: StageOptions = {}): Promise<StagedCheckpoint> {
    const claim = options.claim;
    const target = claim ? await this.freeInRemote(key, claim) : key;
    const staged = await this.local.stage(this.toLocal(target), claim ? { claim: (taken) => this.toLocal(claim(this.toRemote(taken))) } : {});
    const tier = this;
    let committedKey: StoreKey | undefined;
    const shared = new Map<string, StoreKey>();
    return {
      get key() {
        return committedKey ?? target;
      },
      write: (name: string, chunks: ByteChunks) => staged.write(name, chunks),
      ...(staged.overlapsWrites ? { overlapsWrites: true } : {}),
      // Shared from the local copy of `from` (a hard link on the fs tier), when it is still there; the
      // upload then asks the remote store to share it from its copy of `from` too.
      ...(staged.reuse
        ? {
            async reuse(name: string, from: StoreKey, expected: { size: number; crc32: number }) {
              const reused = await staged.reuse!(name, tier.toLocal(from), expected);
              if (reused) shared.set(name, from);
              return reused;
            },
          }
        : {}),
      written: () => staged.written(),
      async commit() {
        committedKey = tier.toRemote(await staged.commit());
        tier.enqueue({ kind: 'upload', key: committedKey, files: staged.written().map((f) => f.name), shared });
        return committedKey;
      },
      abort: () => staged.abort(),
    };
  }

  /** Single-file checkpoints go straight to the remote store for now (no local copy, no queue): a save waits for the upload. */
  async stageFile(key: StoreKey, options: StageOptions = {}): Promise<StagedFile> {
    if (await this.local.exists(this.toLocal(key))) {
      throw new CheckpointError('PATH_CONFLICT', `Cannot write a checkpoint file to ${key}: a checkpoint or folder with that name is in the local cache. Choose another filepath.`);
    }
    return this.remote.stageFile(key, options);
  }

  async openFile(key: StoreKey): Promise<OpenedFile | undefined> {
    const local = await this.local.openFile(this.toLocal(key));
    if (local) return local;
    if (this.pendingRemoval(key)) return undefined;
    return this.remote.openFile(key);
  }

  async remove(key: StoreKey): Promise<void> {
    await this.local.remove(this.toLocal(key));
    this.enqueue({ kind: 'remove', key });
  }

  async writeSmall(key: StoreKey, bytes: Uint8Array): Promise<void> {
    await this.local.writeSmall(this.toLocal(key), bytes);
    this.enqueue({ kind: 'writeSmall', key, bytes: bytes.slice() });
  }

  async removeSmall(key: StoreKey): Promise<void> {
    await this.local.removeSmall(this.toLocal(key));
    this.enqueue({ kind: 'removeSmall', key });
  }

  /** Recovers the local directory now, the remote one in the queue, and queues every local checkpoint the remote store lacks. */
  async recover(dir: StoreKey, isOurs: (name: string) => boolean): Promise<StoreKey[]> {
    const removed = (await this.local.recover(this.toLocal(dir), isOurs)).map((k) => this.toRemote(k));
    this.enqueue({ kind: 'recover', dir, isOurs });
    return removed;
  }

  // ---- reading: both tiers as one ----

  async open(key: StoreKey): Promise<CheckpointReader | undefined> {
    const local = await this.local.open(this.toLocal(key));
    if (local) return local;
    if (this.pendingRemoval(key)) return undefined;
    return this.remote.open(key);
  }

  async list(prefix: StoreKey, options: ListOptions): Promise<ListedCheckpoint[]> {
    const [local, remote] = await Promise.all([this.local.list(this.toLocal(prefix), options), this.remoteOrUndefined(() => this.remote.list(prefix, options))]);
    const union = new Map<StoreKey, ListedCheckpoint>();
    for (const entry of remote ?? []) if (!this.pendingRemoval(entry.key)) union.set(entry.key, entry);
    for (const entry of local) {
      const key = this.toRemote(entry.key);
      const other = union.get(key);
      union.set(key, { key, ...(entry.file ? { file: true } : {}), modifiedNs: other && other.modifiedNs > entry.modifiedNs ? other.modifiedNs : entry.modifiedNs });
    }
    return [...union.values()];
  }

  async exists(key: StoreKey): Promise<boolean> {
    if (await this.local.exists(this.toLocal(key))) return true;
    if (this.pendingRemoval(key)) return false;
    return (await this.remoteOrUndefined(() => this.remoteHasName(key))) ?? false;
  }

  /**
   * Whether the remote store has `key`: from its listing of the directory, made once per process and
   * kept up to date by this tier's uploads and deletions (checkpoint/taken_names.ts, the same list a
   * manager writing there directly uses), where it has one; else asked. Choosing a name runs while
   * `fit` waits: one request per directory, not one per save. A name another writer takes there
   * afterwards is found by `stage` in the background save (`freeInRemote`).
   */
  private async remoteHasName(key: StoreKey): Promise<boolean> {
    const listed = await takenNames(this.remote, keyDirname(key));
    return listed ? listed.has(keyBasename(key)) : this.remote.exists(key);
  }

  /**
   * The name a save that must not replace another writer's checkpoint (`claim`) is staged under:
   * `key`, unless the remote store has something there that is not on its way out, then the next
   * version the claim gives, as the remote store's own commit would choose. Asked here, in the
   * background save, since the name was chosen against a listing that may be old; when the remote
   * store does not answer in time, the local tier decides alone (the upload then replaces).
   */
  private async freeInRemote(key: StoreKey, claim: (taken: StoreKey) => StoreKey): Promise<StoreKey> {
    let target = key;
    while (!this.pendingRemoval(target) && (await this.remoteOrUndefined(() => this.remote.exists(target))) === true) target = claim(target);
    return target;
  }

  async readSmall(key: StoreKey, maxBytes: number): Promise<Uint8Array | undefined> {
    const local = await this.local.readSmall(this.toLocal(key), maxBytes);
    if (local !== undefined) return local;
    if (this.queue.some((op) => op.kind === 'removeSmall' && op.key === key)) return undefined;
    return this.remoteOrUndefined(() => this.remote.readSmall(key, maxBytes));
  }

  /**
   * A remote read on the path of a save: the local tier answers alone when the remote store fails,
   * takes longer than `answerWithinMs` (a blackholed network would otherwise hold training for the
   * client's whole connect timeout and retries), or failed recently.
   */
  private async remoteOrUndefined<T>(read: () => Promise<T>): Promise<T | undefined> {
    if (Date.now() < this.awayUntil) return undefined;
    const budget = this.options.answerWithinMs ?? 3000;
    const late = Symbol('late');
    let timer: ReturnType<typeof setTimeout> | undefined;
    const reading = read();
    try {
      const answer = await Promise.race([
        reading,
        // Not unref'd: a save is waiting on it (and it is cleared as soon as the answer comes).
        new Promise<typeof late>((resolve) => {
          timer = setTimeout(() => resolve(late), budget);
        }),
      ]);
      if (answer === late) {
        reading.catch(() => undefined);
        this.noteFailure(new CheckpointError('IO_ERROR', `${this.scheme}:// did not answer within ${budget} ms.`));
        return undefined;
      }
      this.awayUntil = 0;
      return answer;
    } catch (e) {
      this.noteFailure(asCheckpointError(e, `reach ${this.scheme}://`));
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  private pendingRemoval(key: StoreKey): boolean {
    return this.queue.some((op) => op.kind === 'remove' && op.key === key);
  }

  // ---- the upload queue ----

  /** Whether uploads, deletions or pointer updates are under way (they advance on the event loop's turns); not while waiting to retry. */
  get working(): boolean {
    return this.queue.length > 0 && this.wake === null;
  }

  /** What has not reached the remote store yet. */
  report(): TierReport {
    const notUploaded = this.queue.filter((op) => op.kind === 'upload').map((op) => (op as { key: StoreKey }).key);
    const otherPending = this.queue.filter((op) => op.kind !== 'upload' && op.kind !== 'recover').length;
    return { notUploaded, otherPending, damaged: [...this.damaged], ...(this.queue.length > 0 && this.lastError ? { error: this.lastError } : {}) };
  }

  /**
   * Resolves when the queue is empty, or when an attempt made after this call failed (the remote store
   * is away: waiting longer would hold training up); says what is still pending either way.
   */
  async settle(): Promise<TierReport> {
    while (this.queue.length > 0) {
      const failuresBefore = this.failures;
      const attempted = new Promise<void>((resolve) => this.attemptListeners.push(resolve));
      this.wake?.();
      await attempted;
      if (this.failures > failuresBefore) break;
    }
    return this.report();
  }

  private enqueue(op: Operation): void {
    // A newer operation on the same checkpoint or pointer supersedes a queued one (not one under way: it is queue[0] while running).
    for (let i = this.queue.length - 1; i >= (this.running ? 1 : 0); i--) if (sameTarget(this.queue[i]!, op)) this.queue.splice(i, 1);
    this.queue.push(op);
    this.running ??= this.work().finally(() => {
      this.running = null;
    });
  }

  private async work(): Promise<void> {
    while (this.queue.length > 0) {
      const op = this.queue[0]!;
      try {
        await this.apply(op);
        if (this.failures > 0) this.options.logger?.warn(`The remote store answers again; ${this.queue.length - 1} queued upload(s) and deletion(s) follow.`);
        this.failures = 0;
        this.lastError = undefined;
        this.awayUntil = 0;
        this.dequeue(op);
      } catch (e) {
        const damaged = op.kind === 'upload' && e instanceof CorruptCheckpointError && !(e instanceof GenerationChanged);
        if (damaged || e instanceof GenerationChanged) {
          // Damaged (the local copy; remote damage is overwritten): retrying cannot help, so report it.
          // Replaced while being copied: the newer commit queued its own upload.
          if (damaged) this.damaged.push(op.key);
          this.dequeue(op);
          continue;
        }
        this.noteFailure(asCheckpointError(e, this.actionOf(op)));
        this.attempted();
        await this.backoff();
      }
    }
  }

  private actionOf(op: Operation): string {
    const show = this.options.describe ?? ((key: StoreKey) => key);
    switch (op.kind) {
      case 'upload':
        return `upload ${show(op.key)}`;
      case 'remove':
        return `delete ${show(op.key)}`;
      case 'writeSmall':
      case 'removeSmall':
        return `update ${show(op.key)}`;
      case 'recover':
        return `clean up ${show(op.dir)}`;
    }
  }

  private dequeue(op: Operation): void {
    const at = this.queue.indexOf(op);
    if (at >= 0) this.queue.splice(at, 1);
    this.attempted();
  }

  private attempted(): void {
    const listeners = this.attemptListeners;
    this.attemptListeners = [];
    for (const listener of listeners) listener();
  }

  private noteFailure(error: CheckpointError): void {
    if (this.failures === 0) {
      this.options.logger?.warn(`${error.message.replace(/ Earlier checkpoints are untouched\.$/, '')} Checkpoints keep committing to the local tier and are uploaded when the remote store answers again.`);
    }
    this.failures++;
    this.lastError = error;
    this.awayUntil = Date.now() + this.retryDelay();
  }

  /** The wait after the latest failure: `retryDelayMs`, doubling with each failure, up to `maxRetryDelayMs`. */
  private retryDelay(): number {
    const first = this.options.retryDelayMs ?? 1000;
    return Math.min(first * 2 ** Math.min(Math.max(this.failures - 1, 0), 20), this.options.maxRetryDelayMs ?? 30_000);
  }

  /** Waits before the next attempt (doubling with each failure); `settle()` cuts it short. The timer never keeps a process alive. */
  private backoff(): Promise<void> {
    const delay = this.retryDelay();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, delay);
      (timer as { unref?: () => void }).unref?.();
      this.wake = done;
      function done() {
        clearTimeout(timer);
        resolve();
      }
    }).finally(() => {
      this.wake = null;
    });
  }

  private async apply(op: Operation): Promise<void> {
    switch (op.kind) {
      case 'upload':
        if (await this.upload(op.key, op.files, op.shared)) noteName(this.remote, op.key, true);
        return;
      case 'remove':
        await this.remote.remove(op.key);
        noteName(this.remote, op.key, false);
        return;
      case 'writeSmall':
        await this.remote.writeSmall(op.key, op.bytes);
        noteName(this.remote, op.key, true);
        return;
      case 'removeSmall':
        await this.remote.removeSmall(op.key);
        noteName(this.remote, op.key, false);
        return;
      case 'recover': {
        await this.remote.recover(op.dir, op.isOurs);
        const local = await this.local.list(this.toLocal(op.dir), { depth: 1, accept: (_level, name) => op.isOurs(name) });
        for (const entry of local) {
          const key = this.toRemote(entry.key);
          if (!this.queue.some((queued) => queued.kind === 'upload' && queued.key === key)) this.queue.push({ kind: 'upload', key });
        }
        return;
      }
    }
  }

  /**
   * Copies the local checkpoint at `key` to the remote store: its files in the order its
   * `checkpoint.json` lists them, each checked against the size and CRC-32 recorded there, then the
   * marker, then the remote commit. Nothing to do when the local copy is gone (deleted since) or the
   * remote marker already has the same bytes. A stock folder (no marker) is copied file by file. A file
   * the local save shared from an earlier checkpoint is shared from that checkpoint's remote copy where
   * the remote store can (an S3 server-side copy), with the recorded size and CRC-32; else it is sent.
   * Resolves whether the remote store now holds the checkpoint (false: the local copy is gone, or a
   * stock folder with no files listed, and nothing was sent).
   */
  private async upload(key: StoreKey, files: readonly string[] | undefined, shared?: ReadonlyMap<string, StoreKey>): Promise<boolean> {
    const reader = await this.local.open(this.toLocal(key));
    if (!reader) return false;
    try {
      const markerFile = await reader.open(MARKER);
      const marker = markerFile ? await readWhole(markerFile, MARKER_LIMIT, `${reader.where}/${MARKER}`) : undefined;
      let expected: { name: string; size?: number; crc32?: number }[];
      if (marker) {
        let json: unknown;
        try {
          json = JSON.parse(new TextDecoder().decode(marker));
        } catch {
          json = undefined;
        }
        const parsed = metadataSchema.safeParse(json);
        if (!parsed.success) throw new LocalCopyDamaged(`${reader.where}/${MARKER} is not valid, so it cannot be uploaded; \`verify\` it.`);
        expected = parsed.data.files;
        if (await this.remoteHas(key, marker)) return true;
      } else {
        if (!files) return false;
        expected = files.map((name) => ({ name }));
      }
      const staged = await this.remote.stage(key);
      try {
        // What the remote copies of the checkpoints shared from record (read once each).
        const recorded = new Map<StoreKey, Promise<Map<string, { size: number; crc32: number }> | undefined>>();
        for (const want of expected) {
          const from = shared?.get(want.name);
          if (from !== undefined && staged.reuse && want.size !== undefined && want.crc32 !== undefined) {
            if (!recorded.has(from)) recorded.set(from, this.remoteFiles(from));
            // Only a file the remote copy still records with the same size and CRC-32 (another writer may have replaced it).
            const there = (await recorded.get(from))?.get(want.name);
            if (there?.size === want.size && there.crc32 === want.crc32 && (await staged.reuse(want.name, from, { size: want.size, crc32: want.crc32 }))) continue;
          }
          const file = await reader.open(want.name);
          if (!file) throw new LocalCopyDamaged(`${reader.where}/${want.name} is missing, so the checkpoint cannot be uploaded.`);
          const got = staged.writeFile ? await staged.writeFile(want.name, file) : await staged.write(want.name, fileChunks(file));
          if ((want.size !== undefined && got.size !== want.size) || (want.crc32 !== undefined && got.crc32 !== want.crc32)) {
            throw new LocalCopyDamaged(`${reader.where}/${want.name} does not match its size or CRC-32 in ${MARKER}; it was not uploaded.`);
          }
        }
        await reader.confirm();
        if (marker) await staged.write(MARKER, [marker]);
        await staged.commit();
        return true;
      } catch (e) {
        await staged.abort().catch(() => undefined);
        throw e;
      }
    } finally {
      await reader.close();
    }
  }

  /** The files the remote checkpoint at `key` records in its marker; undefined when it has none that parses. */
  private async remoteFiles(key: StoreKey): Promise<Map<string, { size: number; crc32: number }> | undefined> {
    try {
      const reader = await this.remote.open(key);
      if (!reader) return undefined;
      try {
        const file = await reader.open(MARKER);
        if (!file) return undefined;
        const parsed = metadataSchema.safeParse(JSON.parse(new TextDecoder().decode(await readWhole(file, MARKER_LIMIT, `${reader.where}/${MARKER}`))));
        return parsed.success ? new Map(parsed.data.files.map((f) => [f.name, f])) : undefined;
      } finally {
        await reader.close();
      }
    } catch (e) {
      if (e instanceof CorruptCheckpointError || e instanceof SyntaxError) return undefined;
      throw e;
    }
  }

  /** Whether the remote store holds exactly this commit (a damaged remote copy counts as absent: it is replaced). */
  private async remoteHas(key: StoreKey, marker: Uint8Array): Promise<boolean> {
    const reader = await this.remote.open(key);
    if (!reader) return false;
    try {
      const file = await reader.open(MARKER);
      return file !== undefined && file.size === marker.byteLength && sameBytes(await readWhole(file, MARKER_LIMIT, `${reader.where}/${MARKER}`), marker);
    } catch (e) {
      if (e instanceof CorruptCheckpointError) return false;
      throw e;
    } finally {
      await reader.close();
    }
  }
}

/** One tier per (remote store, local root), so every manager writing through it shares one queue. */
const tiers = new WeakMap<CheckpointStore, Map<string, TieredStore>>();

export function tieredStore(remote: CheckpointStore, local: CheckpointStore, localRoot: StoreKey, options?: TieredStoreOptions): TieredStore {
  let byLocal = tiers.get(remote);
  if (!byLocal) tiers.set(remote, (byLocal = new Map()));
  const id = `${local.scheme}:${localRoot}`;
  let tier = byLocal.get(id);
  if (!tier || tier.local !== local) byLocal.set(id, (tier = new TieredStore(remote, local, localRoot, options)));
  return tier;
}
