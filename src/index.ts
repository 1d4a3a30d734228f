/**
 * tfjs-checkpoint for Node (the `node` export condition): the universal API plus the fs store for
 * plain paths and `file://` URLs. The universal entry's save/load routers then answer `file://` too,
 * giving pure `@tensorflow/tfjs` `model.save('file://…')` (unless another handler, such as
 * tfjs-node's, takes those URLs).
 */
import { registerFsStore, registerKerasCodecs, registerS3Store } from './node/register_fs.js';

registerFsStore();
registerS3Store();
registerKerasCodecs();

export * from './universal.js';
export { fsStore } from './node/register_fs.js';
export { FsStore } from './stores/fs.js';
export type { FsOps } from './stores/fs_ops.js';
