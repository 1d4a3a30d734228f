/**
 * Incremental checkpoints: a shard whose weights have not changed since the previous checkpoint is
 * not written again but reused from it (a hard link on disk, the same buffer in memory), when the
 * store can (`StagedCheckpoint.reuse`); every checkpoint stays a complete folder.
 *
 * Unchanged is decided exactly and for free: TF.js tensors are immutable and an optimizer step gives
 * a variable new data, so a weight whose data identity (its data id) is the one captured at the
 * previous save holds the same bytes. Frozen weights (not trained) get shards of their own, so a
 * fine-tuning run with a frozen base rewrites only the head's shards.
 */
import { frozenShardFileName, planShards, type ShardPlan } from '../formats/shards.js';
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

/** The weights in shard groups: the frozen weights' own (if any), then the rest. */
export interface ShardGroup {
  entries: WeightEntry[];
  plans: ShardPlan[];
}

export function planShardGroups(entries: readonly WeightEntry[], maxShardBytes: number): ShardGroup[] {
  const frozen = entries.filter((e) => e.frozen);
  const rest = entries.filter((e) => !e.frozen);
  const groups: ShardGroup[] = [];
  if (frozen.length > 0) groups.push({ entries: frozen, plans: planShards(frozen.map((e) => e.byteLength), maxShardBytes, frozenShardFileName) });
  if (rest.length > 0 || groups.length === 0) groups.push({ entries: rest, plans: planShards(rest.map((e) => e.byteLength), maxShardBytes) });
  return groups;
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
