/**
 * One checkpoint as training pays for it, the same way in every case that drives our callback: the
 * previous step's garbage collected first (memoryWindow), `onEpochEnd` timed (blocked), then each wait
 * in turn (durable on disk, committed in a bucket, …) timed from the start, and the main thread's time
 * (blocked + busy until the last wait: see main_thread.ts) and the extra peak memory.
 */
import type { Callback } from '@tensorflow/tfjs-layers';
import { busyMs, mainThreadMark } from './main_thread.js';
import { memoryWindow } from './rss.js';
import { nowMs } from './stats.js';

export interface TimedCheckpoint {
  blocked: number;
  /** For each wait, ms from the start of onEpochEnd until it resolved. */
  doneAt: number[];
  mainThread: number;
  extra: number;
}

export async function timedCheckpoint(cb: Callback, epoch: number, waits: Array<() => Promise<unknown>>): Promise<TimedCheckpoint> {
  const mem = memoryWindow();
  const t0 = nowMs();
  await cb.onEpochEnd(epoch, { loss: 0.1 });
  const blocked = nowMs() - t0;
  const background = mainThreadMark();
  const doneAt: number[] = [];
  for (const wait of waits) {
    await wait();
    doneAt.push(nowMs() - t0);
  }
  const mainThread = blocked + busyMs(background);
  return { blocked, doneAt, mainThread, extra: mem.extra() };
}
