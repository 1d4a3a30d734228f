/** `tfjs-checkpoint/s3`: the S3 store, to register with a client of your own (`registerStore('s3', new S3Store({ client }))`). */
export { S3Store, s3Error } from './stores/s3.js';
export type { S3StoreOptions } from './stores/s3.js';
