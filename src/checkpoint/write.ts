/**
 * The TF.js layers format, write side: turns weights (and, for full models, the model's JSON) into a
 * committed checkpoint on any store: plan shards, stream each weight's bytes into them, write the
 * manifest and `checkpoint.json` (last: it is the commit marker), then commit. Memory stays at one
 * weight at a time beyond what the caller holds (and what the store keeps, for the memory store).
 */
import type { ShardPlan } from '../formats/shards.js';
import { pieceIdentities, planShardGroups, sameShard, type ReuseSource, type ShardRecord } from './incremental.js';
import { readMetadata } from './registry.js';
import { encodeNumber, METADATA_FORMAT, WEIGHTS_FORMAT, type CheckpointMetadata, type ModelJson } from '../formats/schema.js';
import { specOf, type WeightEntry } from '../formats/weight_entry.js';
import { describeKey, type Location } from '../stores/registry.js';
import type { StageOptions, StoreKey, WrittenFile } from '../stores/store.js';
import { asCheckpointError } from '../errors.js';
import { VERSION } from '../version.js';
import type { ModelStructure, Snapshot } from './snapshot.js';
import { singleFileFormat } from '../formats/file_names.js';
import { writeFileCheckpoint } from './single_file.js';

/** Default shard size: large enough for disk speed, below the 2 GiB that stock Node loaders can read per file. */
export const DEFAULT_SHARD_BYTES = 256 * 1024 * 1024;

export const METADATA_FILE = 'checkpoint.json';
export const MODEL_JSON_FILE = 'model.json';
export const WEIGHTS_JSON_FILE = 'weights.json';

/** What the caller knows about the moment of the save; recorded in `checkpoint.json`. */
export interface SaveContext {
  epoch?: number | null;
  batch?: number | null;
  step?: number | null;
  samplesSeen?: number | null;
  metrics?: Record<string, number>;
  monitor?: CheckpointMetadata['monitor'];
  tfjsVersion?: string | null;
  /** When the weights were captured; defaults to when writing starts. */
  createdAt?: Date;
  trainingSeconds?: number | null;
  optimizerExtras?: Record<string, number>;
  /** The (normalized) template the checkpoint was saved under; retention deletes only its own template's checkpoints. */
  template?: string;
}

export interface CheckpointContents {
  kind: 'model' | 'weights';
  entries: WeightEntry[];
  /** For full models: model.json without its weightsManifest. */
  modelJson?: Omit<ModelJson, 'weightsManifest'>;
  /** The model's layers (when saved from a model), for formats organised by layer. */
  structure?: ModelStructure;
}

export interface WriteOptions {
  maxShardBytes?: number;
  context?: SaveContext;
  /** Awaited after every file is written and before the commit (the model's commit order, see commit_order.ts). */
  beforeCommit?: () => Promise<void>;
  /** When the name is taken at commit time: the name to try instead (else the existing checkpoint is replaced). */
  claim?: (taken: string) => string;
  /** The previous checkpoint of this run: its shards whose weights have not changed are reused (see incremental.ts). */
  reuseFrom?: ReuseSource;
}

/** What was committed, and where (a claimed name can differ from the one asked for). */
export interface WrittenCheckpoint {
  /** As people see it (see `describeKey`). */
  path: string;
  key: StoreKey;
  metadata: CheckpointMetadata;
  /** Its shards, for the next save to reuse from (TF.js layout only). */
  shards?: Map<string, ShardRecord>;
  /** Bytes of shards reused from `reuseFrom` rather than written. */
  reusedBytes?: number;
}

async function* shardChunks(plan: ShardPlan, entries: readonly WeightEntry[], cache: { index: number; bytes?: Uint8Array }) {
  for (const piece of plan.pieces) {
    // A weight spanning two shards is read once.
    if (cache.index !== piece.entry) cache.bytes = undefined;
    if (!cache.bytes) {
      const entry = entries[piece.entry]!;
      const bytes = await entry.read();
      if (bytes.byteLength !== entry.byteLength) {
        throw new Error(`Weight '${entry.name}' produced ${bytes.byteLength} bytes, expected ${entry.byteLength}`);
      }
      cache.index = piece.entry;
      cache.bytes = bytes;
    }
    yield cache.bytes.subarray(piece.start, piece.end);
  }
}

function jsonBytes(value: unknown): Uint8Array[] {
  return [new TextEncoder().encode(JSON.stringify(value))];
}

function encodeMetrics(metrics: Record<string, number> = {}): CheckpointMetadata['metrics'] {
  return Object.fromEntries(Object.entries(metrics).map(([k, v]) => [k, encodeNumber(v)]));
}

export function buildMetadata(kind: 'model' | 'weights', files: readonly WrittenFile[], context: SaveContext = {}): CheckpointMetadata {
  return {
    format: METADATA_FORMAT,
    formatVersion: 1,
    kind,
    createdAt: (context.createdAt ?? new Date()).toISOString(),
    committedAt: new Date().toISOString(),
    trainingSeconds: context.trainingSeconds ?? null,
    library: { name: 'tfjs-checkpoint', version: VERSION },
    tfjsVersion: context.tfjsVersion ?? null,
    epoch: context.epoch ?? null,
    batch: context.batch ?? null,
    step: context.step ?? null,
    samplesSeen: context.samplesSeen ?? null,
    metrics: encodeMetrics(context.metrics),
    monitor: context.monitor ?? null,
    ...(context.template !== undefined ? { template: context.template } : {}),
    ...(context.optimizerExtras && Object.keys(context.optimizerExtras).length ? { optimizerExtras: context.optimizerExtras } : {}),
    files: files.map((f) => ({ name: f.name, size: f.size, crc32: f.crc32 })),
  };
}

/** What a store is told when a checkpoint of `contents` is staged: how to claim a taken name, and about how large it is. */
export function stageOptions(options: WriteOptions, contents: CheckpointContents): StageOptions {
  const expectedBytes = contents.entries.reduce((sum, e) => sum + e.byteLength, 0);
  return { ...(options.claim ? { claim: options.claim } : {}), expectedBytes };
}

/**
 * The shards of `reuseFrom` that may be reused: those its committed `checkpoint.json` still records
 * with the size and CRC-32 this run saw (another writer may have replaced it meanwhile).
 */
async function reusable(location: Location, reuseFrom: ReuseSource | undefined): Promise<ReuseSource | undefined> {
  if (!reuseFrom) return undefined;
  const metadata = await readMetadata(location.store, reuseFrom.key).catch(() => undefined);
  if (!metadata) return undefined;
  const recorded = new Map(metadata.files.map((f) => [f.name, f]));
  const shards = new Map([...reuseFrom.shards].filter(([name, shard]) => recorded.get(name)?.size === shard.size && recorded.get(name)?.crc32 === shard.crc32));
  return shards.size > 0 ? { key: reuseFrom.key, shards } : undefined;
}

/** Writes and commits one checkpoint directory at `path`. Nothing appears at `path` unless every step succeeds. */
export async function writeCheckpoint(location: Location, contents: CheckpointContents, options: WriteOptions = {}): Promise<WrittenCheckpoint> {
  const groups = planShardGroups(contents.entries, options.maxShardBytes ?? DEFAULT_SHARD_BYTES);
  const weightsManifest = groups.map((g) => ({ paths: g.plans.map((p) => p.fileName), weights: g.entries.map(specOf) }));
  const { store } = location;
  const action = `save ${location.url}`;
  const stage = await store.stage(location.key, stageOptions(options, contents)).catch((e: unknown) => {
    throw asCheckpointError(e, action);
  });
  // Writes in flight: one at a time, or two where the store overlaps them (the fs store: two files'
  // bytes, or one file's read-back checksum beside the next file's bytes).
  const inFlight = new WritesInFlight(stage.overlapsWrites ? 2 : 1);
  try {
    // The previous checkpoint's record is read only once a shard could be reused (most steps change
    // every weight, and then nothing is read).
    let from: ReuseSource | undefined | null = stage.reuse && options.reuseFrom ? null : undefined;
    const shards = new Map<string, ShardRecord>();
    let reusedBytes = 0;
    for (const group of groups) {
      const cache: { index: number; bytes?: Uint8Array } = { index: -1 };
      for (const plan of group.plans) {
        const pieces = pieceIdentities(plan, group.entries);
        if (from === null && sameShard(options.reuseFrom!.shards.get(plan.fileName), pieces)) from = await reusable(location, options.reuseFrom);
        const previous = from?.shards.get(plan.fileName);
        // Files are recorded in plan order: a reuse waits for the writes before it.
        const reused = sameShard(previous, pieces) ? await inFlight.drain().then(() => stage.reuse!(plan.fileName, from!.key, previous)) : undefined;
        if (reused) {
          reusedBytes += reused.size;
          shards.set(plan.fileName, { pieces, size: reused.size, crc32: reused.crc32 });
          continue;
        }
        await inFlight.add(
          stage.write(plan.fileName, shardChunks(plan, group.entries, cache)).then((written) => {
            shards.set(plan.fileName, { pieces, size: written.size, crc32: written.crc32 });
          }),
        );
      }
    }
    if (contents.kind === 'model') {
      const { modelTopology, ...rest } = contents.modelJson ?? { modelTopology: {} };
      // tfjs-node's key order: topology first, then the manifest, then the rest.
      await inFlight.add(stage.write(MODEL_JSON_FILE, jsonBytes({ modelTopology, weightsManifest, ...rest })));
    } else {
      await inFlight.add(
        stage.write(WEIGHTS_JSON_FILE, jsonBytes({ format: WEIGHTS_FORMAT, formatVersion: 1, generatedBy: `tfjs-checkpoint v${VERSION}`, weightsManifest })),
      );
    }
    // checkpoint.json records every file's CRC-32: it waits for all of them.
    await inFlight.drain();
    const metadata = buildMetadata(contents.kind, stage.written(), options.context);
    await stage.write(METADATA_FILE, jsonBytes(metadata));
    await options.beforeCommit?.();
    const key = await stage.commit();
    return { path: describeKey(location.scheme, key), key, metadata, shards, reusedBytes };
  } catch (e) {
    // Nothing may still be writing into the staging area while it is removed.
    await inFlight.settle();
    await stage.abort().catch(() => undefined);
    throw asCheckpointError(e, action);
  }
}

/** Up to `depth` writes at once; the first failure is thrown by the next `add` or `drain`. */
class WritesInFlight {
  private readonly pending: Promise<unknown>[] = [];

  constructor(private readonly depth: number) {}

  /** Adds a write, then waits until fewer than `depth` are in flight. */
  async add(write: Promise<unknown>): Promise<void> {
    write.catch(() => undefined); // seen by a later add or drain; not unhandled meanwhile
    this.pending.push(write);
    while (this.pending.length >= this.depth) await this.pending.shift();
  }

  /** Waits for every write in flight. */
  async drain(): Promise<void> {
    while (this.pending.length > 0) await this.pending.shift();
  }

  /** Waits for every write in flight to end, failed or not. */
  async settle(): Promise<void> {
    await Promise.allSettled(this.pending.splice(0));
  }
}

/** Writes a snapshot (see snapshot.ts) as a committed checkpoint, a folder or a single file by its extension. Does not dispose it. */
export async function writeSnapshot(location: Location, snapshot: Snapshot, options: WriteOptions = {}): Promise<WrittenCheckpoint> {
  const write = singleFileFormat(location.key) ? writeFileCheckpoint : writeCheckpoint;
  return write(
    location,
    {
      kind: snapshot.kind,
      entries: snapshot.entries,
      ...(snapshot.modelJson ? { modelJson: snapshot.modelJson } : {}),
      ...(snapshot.structure ? { structure: snapshot.structure } : {}),
    },
    {
      ...options,
      context: {
        createdAt: snapshot.createdAt,
        ...(snapshot.optimizerExtras ? { optimizerExtras: await snapshot.optimizerExtras() } : {}),
        ...options.context,
      },
    },
  );
}
