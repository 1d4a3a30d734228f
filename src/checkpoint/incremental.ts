/**
 * Incremental checkpoints: a shard whose weights have not changed since the previous checkpoint is
 * not written again but reused from it (a hard link on disk, the same buffer in memory), when the
 * store can (`StagedCheckpoint.reuse`); every checkpoint stays a complete folder.
 *
 * Unchanged is decided exactly and for free: TF.js tensors are immutable and an optimizer step gives
 * a variable new data, so a weight whose data identity (its data id) is the one captured at the
 * previous save holds the same bytes. Frozen weights (of layers with `trainable: false`) get shards
 * of their own, so a fine-tuning run with a frozen base rewrites only the head's shards.
 */
import { planShards, shardFileName, type ShardPlan } from '../formats/shards.js';
import type { WeightEntry } from '../formats/weight_entry.js';

/** What a shard held, by weight identity and byte range, and its size and CRC-32 as committed. */
export interface ShardRecord {
  pieces: { identity: object | undefined; start: number; end: number }[];
  size: number;
  crc32: number;
}

/** A committed checkpoint's shards, for the next save to reuse from. */
export interface ReuseSource {
  key: string;
  shards: ReadonlyMap<string, ShardRecord>;
}

/** The weights in shard groups: runs of frozen and of other weights, in the entries' order. */
export interface ShardGroup {
  entries: WeightEntry[];
  plans: ShardPlan[];
}

/**
 * Shard groups for `entries`: one group for each run of frozen weights and each run of the others,
 * so frozen weights never share a shard with trained ones, and the manifest keeps the weights' order
 * (loaders that match by position rely on it). One group keeps the usual file names (`weights.bin`,
 * `group1-shardKofN.bin`); with several, group G's shards are `groupG-shardKofN.bin`.
 */
export function planShardGroups(entries: readonly WeightEntry[], maxShardBytes: number): ShardGroup[] {
  const runs: WeightEntry[][] = [];
  for (const entry of entries) {
    const last = runs.at(-1);
    if (last && Boolean(last[0]!.frozen) === Boolean(entry.frozen)) last.push(entry);
    else runs.push([entry]);
  }
  if (runs.length === 0) runs.push([]);
  const name = (group: number) => (index: number, count: number) => (runs.length === 1 ? shardFileName(index, count) : `group${group + 1}-shard${index + 1}of${count}.bin`);
  return runs.map((run, g) => ({ entries: run, plans: planShards(run.map((e) => e.byteLength), maxShardBytes, name(g)) }));
}

/** The record of what `plan` holds (sizes and CRC-32 filled in once written). */
export function pieceIdentities(plan: ShardPlan, entries: readonly WeightEntry[]): ShardRecord['pieces'] {
  return plan.pieces.map((p) => ({ identity: entries[p.entry]!.identity, start: p.start, end: p.end }));
}

/** Whether `previous` held exactly these weights' bytes: the same identities (known ones only) and ranges. */
export function sameShard(previous: ShardRecord | undefined, pieces: ShardRecord['pieces']): previous is ShardRecord {
  return (
    previous !== undefined &&
    previous.pieces.length === pieces.length &&
    pieces.every((p, i) => {
      const q = previous.pieces[i]!;
      return p.identity !== undefined && p.identity === q.identity && p.start === q.start && p.end === q.end;
    })
  );
}
