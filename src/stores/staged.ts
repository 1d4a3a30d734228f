/**
 * The staged checkpoint and staged file of stores that write each file as it streams in and then
 * commit in one step (IndexedDB, OPFS): the record of what was written, writes refused after the end,
 * commit and abort once each, and the writer's hold released either way. Each store gives the steps.
 */
import { keyBasename, type StoreKey } from './keys.js';
import type { ByteChunks, StagedCheckpoint, StagedFile, WrittenFile } from './store.js';

export interface StagedSteps {
  /** Streams one file in; resolves to its size and CRC-32. */
  write(name: string, chunks: ByteChunks): Promise<{ size: number; crc32: number }>;
  /** Optional: shares file `name` of the committed checkpoint at `from` (see StagedCheckpoint.reuse); false when it cannot. */
  reuse?(name: string, from: StoreKey, expected: { size: number; crc32: number }): Promise<boolean>;
  /** Makes the written files visible at `key` (or where a claim puts them); resolves to that key. */
  commit(key: StoreKey, files: readonly WrittenFile[]): Promise<StoreKey>;
  /** Removes what was written. */
  discard(): Promise<void>;
  /** Ends the writer's hold (its Web Lock), after commit or abort. */
  release(): void;
}

export function stagedCheckpoint(key: StoreKey, steps: StagedSteps): StagedCheckpoint {
  const record: WrittenFile[] = [];
  let done = false;
  const staged: StagedCheckpoint = {
    key,
    async write(name, chunks) {
      if (done) throw new Error('This staged checkpoint was committed or aborted already.');
      const written = { name, ...(await steps.write(name, chunks)) };
      record.push(written);
      return written;
    },
    ...(steps.reuse
      ? {
          async reuse(name: string, from: StoreKey, expected: { size: number; crc32: number }) {
            if (done) throw new Error('This staged checkpoint was committed or aborted already.');
            if (!(await steps.reuse!(name, from, expected))) return undefined;
            const written = { name, ...expected };
            record.push(written);
            return written;
          },
        }
      : {}),
    written: () => record,
    async commit() {
      if (done) throw new Error('This staged checkpoint was committed or aborted already.');
      (staged as { key: StoreKey }).key = await steps.commit(staged.key, [...record]);
      done = true;
      steps.release();
      return staged.key;
    },
    async abort() {
      if (done) return;
      done = true;
      try {
        await steps.discard();
      } finally {
        steps.release();
      }
    },
  };
  return staged;
}

/** A single file: one write (under the key's name), then commit or abort. */
export function stagedFile(key: StoreKey, steps: StagedSteps): StagedFile {
  const inner = stagedCheckpoint(key, steps);
  const staged: StagedFile = {
    key,
    async write(chunks) {
      if (inner.written().length > 0) throw new Error('This staged file was written already.');
      return inner.write(keyBasename(key), chunks);
    },
    async commit() {
      if (inner.written().length === 0) throw new Error('This staged file was not written.');
      (staged as { key: StoreKey }).key = await inner.commit();
      return staged.key;
    },
    abort: () => inner.abort(),
  };
  return staged;
}
