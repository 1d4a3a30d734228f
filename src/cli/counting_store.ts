/**
 * A store that reports the bytes read through it, for `verify`'s progress bar: the library's own
 * `verify` reads the files, and this wrapper, registered in place of the scheme's store for the
 * command's duration, counts what it reads. Nothing else changes: same keys, same URLs, same errors.
 */
import type { CheckpointReader, CheckpointStore, OpenedFile, StoredFile } from '../index.js';

function countedFile(file: StoredFile, onBytes: (n: number) => void): StoredFile {
  return {
    get size() {
      return file.size;
    },
    read: async (dest, offset, length, position) => {
      await file.read(dest, offset, length, position);
      onBytes(length);
    },
  };
}

function countedOpenedFile(file: OpenedFile, onBytes: (n: number) => void): OpenedFile {
  return {
    ...countedFile(file, onBytes),
    get size() {
      return file.size;
    },
    where: file.where,
    ...(file.localPath !== undefined ? { localPath: file.localPath } : {}),
    close: () => file.close(),
  };
}

function countedReader(reader: CheckpointReader, onBytes: (n: number) => void): CheckpointReader {
  return {
    get where() {
      return reader.where;
    },
    open: async (name) => {
      const file = await reader.open(name);
      return file && countedFile(file, onBytes);
    },
    confirm: () => reader.confirm(),
    close: () => reader.close(),
  };
}

export function countingStore(inner: CheckpointStore, onBytes: (n: number) => void): CheckpointStore {
  return {
    scheme: inner.scheme,
    stage: (key, options) => inner.stage(key, options),
    stageFile: (key, options) => inner.stageFile(key, options),
    openFile: async (key) => {
      const file = await inner.openFile(key);
      return file && countedOpenedFile(file, onBytes);
    },
    open: async (key) => {
      const reader = await inner.open(key);
      return reader && countedReader(reader, onBytes);
    },
    list: (prefix, options) => inner.list(prefix, options),
    exists: (key) => inner.exists(key),
    remove: (key) => inner.remove(key),
    readSmall: (key, maxBytes) => inner.readSmall(key, maxBytes),
    writeSmall: (key, bytes) => inner.writeSmall(key, bytes),
    removeSmall: (key) => inner.removeSmall(key),
    recover: (dir, isOurs) => inner.recover(dir, isOurs),
  };
}
