/**
 * Splits the weights into shard files of at most `maxShardBytes`, in the layout tfjs loaders expect
 * (a group's shards are read in order and joined before weights are sliced out, so the files are
 * simply the concatenation of the weights, cut into pieces). We cut only at weight boundaries: a
 * weight that does not fit in what is left of a shard starts a new one, and a weight larger than a
 * shard gets shards of its own. Readers can then hand out every weight as a view of one buffer, never
 * a joined copy. Pure planning; the writer streams each piece from the weights themselves.
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

export function planShards(byteLengths: readonly number[], maxShardBytes: number, fileName: (index: number, count: number) => string = shardFileName): ShardPlan[] {
  if (!(maxShardBytes > 0)) throw new RangeError(`maxShardBytes must be positive, got ${maxShardBytes}`);
  const shards: { byteLength: number; pieces: ShardPiece[] }[] = [];
  let current: { byteLength: number; pieces: ShardPiece[] } = { byteLength: 0, pieces: [] };
  const close = () => {
    if (current.byteLength > 0) shards.push(current);
    current = { byteLength: 0, pieces: [] };
  };
  byteLengths.forEach((length, entry) => {
    if (current.byteLength + length > maxShardBytes) close();
    if (length <= maxShardBytes) {
      current.pieces.push({ entry, start: 0, end: length });
      current.byteLength += length;
      return;
    }
    // Larger than a shard: shards of its own.
    for (let start = 0; start < length; start += maxShardBytes) {
      const end = Math.min(length, start + maxShardBytes);
      shards.push({ byteLength: end - start, pieces: [{ entry, start, end }] });
    }
  });
  close();
  // Always at least one (possibly empty) shard, so every manifest names a file.
  if (shards.length === 0) shards.push(current);
  return shards.map((s, i) => ({ fileName: fileName(i, shards.length), ...s }));
}
