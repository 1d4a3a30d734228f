/**
 * Main-thread time: what training running on this thread would lose. `performance.eventLoopUtilization()`
 * counts the time the event loop was not idle, so a save's synchronous part and every callback of its
 * background persist (stream pumps, promise continuations) count, while time spent waiting on the
 * thread pool, a worker or the disk does not. Collect garbage before opening a window (memoryWindow()
 * does), or the previous step's garbage is charged to what is measured.
 *
 * A checkpoint's main-thread time is its blocked time (training waits for all of it, busy or not) plus
 * the main thread's busy time from then until the checkpoint is durable: `blocked + busyMs(mark taken
 * when onEpochEnd returned)`.
 */
import { performance } from 'node:perf_hooks';

export type MainThreadMark = ReturnType<typeof performance.eventLoopUtilization>;

export function mainThreadMark(): MainThreadMark {
  return performance.eventLoopUtilization();
}

/** Milliseconds the main thread was busy since `since`. */
export function busyMs(since: MainThreadMark): number {
  return performance.eventLoopUtilization(since).active;
}
