/**
 * S3 against a local S3 server (s3rver in a child process, on the same disk as the other cases):
 * - `s3-ours`: the ModelCheckpoint callback (weights only) writing `s3://bench/run/ckpt.{epoch:03d}`:
 *   blocked (onEpochEnd), time to committed in the bucket (flush), the main-thread time per checkpoint
 *   (blocked plus what the background upload ran on the main thread, lib/main_thread.ts), extra peak memory.
 * - `s3-tier`: the same with `localCache`: blocked, durable on local disk (wait), committed in the bucket (flush).
 * - `s3-ceiling`: one plain `@aws-sdk/lib-storage` Upload of the same weight bytes with the same part
 *   size and concurrency, awaited: the most any S3 writer could do against this server. Its main_ms is
 *   the main thread's busy time during the upload (awaited, so all of it is blocked).
 * The server's own time and memory are not in the case process's figures (it is another process), but
 * it shares the machine's two cores with the case.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { join } from 'node:path';
import { CheckpointManager, modelCheckpoint, registerStore } from '../../src/index.js';
import { S3Store } from '../../src/stores/s3.js';
import { S3RVER_CREDENTIALS, startS3Server } from '../../test/stores/s3_server.js';
import { busyMs, mainThreadMark } from '../lib/main_thread.js';
import { buildModel, mutateWeights } from '../lib/model.js';
import { WARMUP_REPS, mbPerSec, type CaseContext, type CaseResult, type Rep } from '../lib/result.js';
import { memoryWindow } from '../lib/rss.js';
import { nowMs } from '../lib/stats.js';
import { timedCheckpoint } from '../lib/timed_checkpoint.js';

const silent = { log: () => {}, warn: () => {} };
/** The S3 store's defaults, used by the ceiling too. */
const PART_SIZE = 8 * 1024 * 1024;
const QUEUE_SIZE = 4;

export async function runS3Ours(ctx: CaseContext, tier: boolean): Promise<CaseResult> {
  const server = await startS3Server({ buckets: ['bench'] });
  try {
    const { model, params, bytes, buildMs } = buildModel(ctx.size);
    const scheme = `s3bench${process.pid}`;
    // Configured as a user would (endpoint and credentials; the environment does the same), so the
    // store makes its own client and its uploads go through its upload thread.
    registerStore(scheme, new S3Store({ endpoint: server.endpoint, forcePathStyle: true, credentials: S3RVER_CREDENTIALS }));
    const filepath = `${scheme}://bench/run/ckpt.{epoch:03d}`;
    const cb = modelCheckpoint({ filepath, saveWeightsOnly: true, logger: silent, ...(tier ? { localCache: join(ctx.dir, 'cache') } : {}) });
    cb.setModel(model);
    await cb.onTrainBegin({});
    const manager = (cb as unknown as { manager: CheckpointManager }).manager;
    const bucket = new CheckpointManager({ filepath });
    const reps: Rep[] = [];
    let warmup: Rep | undefined;
    for (let epoch = 0; epoch < ctx.reps + WARMUP_REPS; epoch++) {
      mutateWeights(model, epoch);
      await cb.onEpochBegin(epoch, {});
      let report!: Awaited<ReturnType<typeof cb.flush>>;
      const timed = await timedCheckpoint(cb, epoch, [() => manager.wait(), async () => void (report = await cb.flush())]);
      const { blocked, doneAt: [durable, committed], mainThread, extra } = timed;
      if (report.notUploaded.length > 0) throw new Error(`not uploaded: ${report.notUploaded.join(', ')}: ${report.error?.message}`);
      const saved = `${scheme}://bench/run/ckpt.${String(epoch + 1).padStart(3, '0')}`;
      if (!(await bucket.list()).some((r) => r.path === saved)) throw new Error(`No committed checkpoint at ${saved}`);
      // Untimed: delete it again (through the tier when there is one) so reps do not accumulate.
      await manager.delete(saved);
      await cb.flush();
      const rep: Rep = { blocked_ms: blocked, committed_ms: committed, mbps: mbPerSec(bytes, committed), main_ms: mainThread, extra_peak_mib: extra };
      if (tier) rep['durable_ms'] = durable;
      if (epoch < WARMUP_REPS) warmup = rep;
      else reps.push(rep);
    }
    await cb.onTrainEnd({});
    model.dispose();
    return { case: tier ? 's3-tier' : 's3-ours', size: ctx.size.key, params, bytes, reps, ...(warmup ? { warmup } : {}), info: { buildMs: Math.round(buildMs), server: 's3rver 3.7.1 (child process)' } };
  } finally {
    await server.stop();
  }
}

export async function runS3Ceiling(ctx: CaseContext): Promise<CaseResult> {
  const server = await startS3Server({ buckets: ['bench'] });
  try {
    const { model, params, bytes, buildMs } = buildModel(ctx.size);
    const client: S3Client = server.client();
    const reps: Rep[] = [];
    let warmup: Rep | undefined;
    for (let rep = 0; rep < ctx.reps + WARMUP_REPS; rep++) {
      mutateWeights(model, rep);
      // The same views of tensor memory our writer streams from.
      const views = model.weights.map((w) => {
        const v = w.read().dataSync() as Float32Array;
        return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
      });
      const mem = memoryWindow();
      const elu = mainThreadMark();
      const t0 = nowMs();
      let next = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          const view = views[next++];
          if (view) controller.enqueue(view);
          else controller.close();
        },
      });
      await new Upload({ client, params: { Bucket: 'bench', Key: `ceiling/${rep}`, Body: body }, partSize: PART_SIZE, queueSize: QUEUE_SIZE }).done();
      const committed = nowMs() - t0;
      const r: Rep = { blocked_ms: committed, committed_ms: committed, mbps: mbPerSec(bytes, committed), main_ms: busyMs(elu), extra_peak_mib: mem.extra() };
      if (rep < WARMUP_REPS) warmup = r;
      else reps.push(r);
    }
    model.dispose();
    return { case: 's3-ceiling', size: ctx.size.key, params, bytes, reps, ...(warmup ? { warmup } : {}), info: { buildMs: Math.round(buildMs) } };
  } finally {
    await server.stop();
  }
}
