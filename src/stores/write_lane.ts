/**
 * Files written each beside the next: a store whose write has a second phase that needs no bytes
 * from the caller (the fs store reads a shard back on its helper thread to checksum it) lets the next
 * file's bytes go out meanwhile, instead of waiting for that phase.
 *
 * `run(out, finish)`: with `bytesInOrder` (the default), `out` starts once the previous file's `out`
 * has ended (success or failure), so bytes reach the store in call order; without it, at once, beside
 * the previous file's (the caller bounds how many are in flight). `finish` runs after its own `out`,
 * beside later files' `out`; results are recorded (through `record`) in call order whatever order the
 * `out`s and `finish`es end in.
 */
export class WriteLane<T> {
  private bytesOut: Promise<void> = Promise.resolve();
  private recorded: Promise<void> = Promise.resolve();
  private readonly bytesInOrder: boolean;

  constructor(
    private readonly record: (result: T) => T,
    options: { bytesInOrder?: boolean } = {},
  ) {
    this.bytesInOrder = options.bytesInOrder ?? true;
  }

  async run<O>(out: () => Promise<O>, finish: (written: O) => Promise<T>): Promise<T> {
    const previousOut = this.bytesOut;
    const previousRecorded = this.recorded;
    let endOut!: () => void;
    let endRecord!: () => void;
    this.bytesOut = new Promise((resolve) => (endOut = resolve));
    // Recorded after every file before it, even when this one fails early.
    const ownRecorded = new Promise<void>((resolve) => (endRecord = resolve));
    this.recorded = Promise.all([previousRecorded, ownRecorded]).then(() => undefined);
    try {
      let written: O;
      try {
        if (this.bytesInOrder) await previousOut;
        written = await out();
      } finally {
        endOut();
      }
      const result = await finish(written);
      await previousRecorded;
      return this.record(result);
    } finally {
      endRecord();
    }
  }
}
