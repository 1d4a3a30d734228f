/**
 * Splits the concatenation of all weights into shard files of at most `maxShardBytes`, the layout
 * tfjs loaders expect (a weight may span two shards: loaders join a group's shards before slicing).
 * Pure planning; the writer streams each shard's pieces from the weights themselves, never
 * concatenating them into one buffer.
 */

export interface ShardPiece {
  /** Index of the weight in the entry list. */
  entry: number;
  /** Byte range within that weight. */
  start: number;
  end: number;
}

export interface ShardPlan {
  fileName: string;
  byteLength: number;
  pieces: ShardPiece[];
}

/** One shard keeps tfjs-node's `weights.bin`; more follow the converter's `group1-shardKofN.bin`. */
export function shardFileName(index: number, count: number): string {
  return count === 1 ? 'weights.bin' : `group1-shard${index + 1}of${count}.bin`;
}

export function planShards(byteLengths: readonly number[], maxShardBytes: number): ShardPlan[] {
  if (!(maxShardBytes > 0)) throw new RangeError(`maxShardBytes must be positive, got ${maxShardBytes}`);
  const shards: { byteLength: number; pieces: ShardPiece[] }[] = [];
  let current: { byteLength: number; pieces: ShardPiece[] } = { byteLength: 0, pieces: [] };
  byteLengths.forEach((length, entry) => {
    let start = 0;
    while (start < length) {
      if (current.byteLength === maxShardBytes) {
        shards.push(current);
        current = { byteLength: 0, pieces: [] };
      }
      const take = Math.min(length - start, maxShardBytes - current.byteLength);
      current.pieces.push({ entry, start, end: start + take });
      current.byteLength += take;
      start += take;
    }
  });
  // Always at least one (possibly empty) shard, so every manifest names a file.
  if (current.byteLength > 0 || shards.length === 0) shards.push(current);
  return shards.map((s, i) => ({ fileName: shardFileName(i, shards.length), ...s }));
}
