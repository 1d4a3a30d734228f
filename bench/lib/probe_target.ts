/** Where a probe saves: `disk` (a folder under bench/.work) or a local s3rver (`s3`, `s3-cache`: with a localCache). */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { registerStore } from '../../src/index.js';
import { S3Store } from '../../src/stores/s3.js';
import { S3RVER_CREDENTIALS, startS3Server } from '../../test/stores/s3_server.js';

export interface ProbeTarget {
  /** The probe's scratch folder (also the localCache's parent). */
  work: string;
  /** Where checkpoints go: `work` on disk, else an `s3probe://` URL. */
  dir: string;
  /** Options for modelCheckpoint that the target needs (the localCache). */
  options: { localCache?: string };
  stop(): Promise<void>;
}

export async function probeTarget(where: string, name: string): Promise<ProbeTarget> {
  const work = join(import.meta.dirname, '..', '.work', `${name}-${process.pid}`);
  mkdirSync(work, { recursive: true });
  if (where === 'disk') return { work, dir: work, options: {}, stop: async () => {} };
  const server = await startS3Server({ buckets: ['bench'] });
  registerStore('s3probe', new S3Store({ endpoint: server.endpoint, forcePathStyle: true, credentials: S3RVER_CREDENTIALS }));
  return { work, dir: 's3probe://bench/run', options: where === 's3-cache' ? { localCache: join(work, 'cache') } : {}, stop: () => server.stop() };
}
