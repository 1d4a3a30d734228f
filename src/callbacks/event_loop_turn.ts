/**
 * One turn of the event loop, for callbacks to give between batches while a save works in the
 * background. TF.js's `fit` awaits only its callbacks between batches, and with a synchronous backend
 * (the CPU backend, tfjs-node) those awaits settle as microtasks: unless some callback yields (a
 * `CustomCallback` does, every 125 ms or so), the event loop never turns during an epoch. A save's
 * background steps (file writes, the helper thread's replies, S3 responses) then wait for the end of
 * the epoch, and the next save waits for them while training stands still.
 *
 * Resolves after the I/O that completed meanwhile has been handled: `setImmediate` runs after the
 * poll phase in Node; browsers get a `MessageChannel` message (a task, without the 4 ms clamp of
 * nested `setTimeout`s).
 */
type Resolve = () => void;

let channel: { port: MessagePort; waiting: Resolve[] } | undefined;

function channelTurn(): Promise<void> {
  if (!channel) {
    const { port1, port2 } = new MessageChannel();
    const waiting: Resolve[] = [];
    port1.onmessage = () => waiting.shift()?.();
    channel = { port: port2, waiting };
  }
  const { port, waiting } = channel;
  return new Promise<void>((resolve) => {
    waiting.push(resolve);
    port.postMessage(null);
  });
}

export function eventLoopTurn(): Promise<void> {
  const immediate = (globalThis as { setImmediate?: (run: Resolve) => unknown }).setImmediate;
  if (typeof immediate === 'function') return new Promise<void>((resolve) => void immediate(resolve));
  if (typeof MessageChannel === 'function') return channelTurn();
  return new Promise<void>((resolve) => void setTimeout(resolve, 0));
}

const now = () => (typeof performance !== 'undefined' ? performance.now() : Date.now());

/**
 * Between batches, while a save works in the background: one turn of the event loop, then more while
 * `working()` holds, for up to `budgetMs` in all. Each step of a save (a file opened, written, synced,
 * a helper thread's reply) waits for a turn to start the next; with only one turn per batch, a save
 * of a model whose batches take seconds would need as many batches as it has steps. The extra turns
 * wait on a 1 ms timer, so the thread sleeps until the step's I/O completes instead of spinning.
 */
export async function giveTurns(working: () => boolean, budgetMs: number): Promise<void> {
  const end = now() + budgetMs;
  await eventLoopTurn();
  while (working() && now() < end) await new Promise<void>((resolve) => void setTimeout(resolve, 1));
}

/**
 * The budget for `giveTurns` after a batch: a small share of the batch's own time (a training step
 * of seconds can spare milliseconds; one of a few milliseconds spares nothing but its one turn).
 */
export class BatchClock {
  /** The share of a batch's time a save's steps may take after it (1%: well inside the 2% a checkpoint may cost fit). */
  static readonly SHARE = 0.01;
  /** Never more than this after one batch, whatever came before it (a pause between two fits is no batch). */
  static readonly MAX_MS = 250;
  private lastEnd: number | undefined;

  constructor(private readonly clock: () => number = now) {}

  /** Call when training begins: the first batch's start is unknown. */
  reset(): void {
    this.lastEnd = undefined;
  }

  /** Call at a batch's end: the budget after this batch (0 for the first, whose start is unknown). */
  budgetAfterBatch(): number {
    const t = this.clock();
    const budget = this.lastEnd === undefined ? 0 : Math.min(BatchClock.MAX_MS, BatchClock.SHARE * (t - this.lastEnd));
    this.lastEnd = t;
    return budget;
  }

  /** Call when the callback is done with a batch, so the time spent giving turns is not counted as the next batch's. */
  resume(): void {
    this.lastEnd = this.clock();
  }
}
