/**
 * What the Node entry adds to the universal core: the fs store for plain paths and `file://` URLs
 * (relative paths start at the working directory), and zlib's CRC-32 where Node has it (>= 20.15).
 */
import { useS3SendThread } from './s3_send_thread.js';
import { useZlibCrc32 } from './zlib_crc32.js';
import { FsStore } from '../stores/fs.js';
import type { FsOps } from '../stores/fs_ops.js';
import { lazyStore } from '../stores/lazy.js';
import { registerHdf5Codecs } from '../hdf5/register_hdf5.js';
import { registerStore, setDefaultScheme } from '../stores/registry.js';

/** The fs store with Node's own file-system calls. */
export const fsStore = new FsStore();

/** The Keras HDF5 and .keras codecs with real files (h5wasm's node build, loaded on first use of such a file); replaces the universal entry's in-memory ones. */
export function registerKerasCodecs(): void {
  registerHdf5Codecs(async () => (await import('./hdf5_node_host.js')).nodeHdf5Host);
}

export function registerFsStore(): void {
  registerStore('file', { store: (options) => (options.fs ? new FsStore(options.fs as FsOps) : fsStore), base: () => process.cwd() });
  setDefaultScheme('file');
  useZlibCrc32();
}

/**
 * `s3://bucket/prefix/…` with the S3 store, configured from the environment (see S3StoreOptions),
 * loaded on first use, its uploads sent by a helper thread (node/s3_send_thread.ts). `registerStore('s3', new S3Store({ client }))` replaces it with your own.
 */
export function registerS3Store(): void {
  useS3SendThread();
  registerStore(
    's3',
    lazyStore('s3', async () => new (await import('../stores/s3.js')).S3Store(), 'the AWS SDK (npm install @aws-sdk/client-s3)'),
  );
}
