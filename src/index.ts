/**
 * tfjs-checkpoint for Node (the `node` export condition): the universal API plus the fs store for
 * plain paths and `file://` URLs, and `file://` save/load handlers for pure `@tensorflow/tfjs`
 * (unless another, such as tfjs-node's, handles them).
 */
import { registerFsStore } from './node/register_fs.js';
import { registerFileRouter } from './node/file_router.js';

registerFsStore();
registerFileRouter();

export * from './universal.js';
export { fsStore } from './node/register_fs.js';
export { FsStore } from './stores/fs.js';
export type { FsOps } from './stores/fs_ops.js';
