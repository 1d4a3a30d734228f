/**
 * When ModelCheckpoint saves, following the seed Keras version (TF 2.0/2.1):
 * - `saveFreq: 'epoch'` saves at the end of every `period`-th epoch;
 * - an integer `saveFreq` counts training *samples* (each batch's `size`) since the last save,
 *   across epoch boundaries, and saves at the batch where the count reaches it, then resets to 0.
 * Pure state machine: the callback feeds it events and asks whether a save is due.
 */

export type SaveFreq = 'epoch' | number;

export interface SaveScheduleState {
  samplesSinceLastSave: number;
  epochsSinceLastSave: number;
}

export class SaveSchedule {
  private samplesSinceLastSave = 0;
  private epochsSinceLastSave = 0;

  constructor(
    readonly saveFreq: SaveFreq,
    readonly period: number,
  ) {}

  /** After a training batch: true when a batch-level save is due. Keras adds 1 when a batch has no size. */
  batchEnded(batchSize: number | undefined): boolean {
    if (this.saveFreq === 'epoch') return false;
    this.samplesSinceLastSave += typeof batchSize === 'number' && Number.isFinite(batchSize) ? batchSize : 1;
    if (this.samplesSinceLastSave >= this.saveFreq) {
      this.samplesSinceLastSave = 0;
      // Keras's save routine also resets the epoch counter on a batch-triggered save.
      this.epochsSinceLastSave = 0;
      return true;
    }
    return false;
  }

  /**
   * After an epoch: true when an epoch-level save is due. The period counter resets when the save is
   * due, before any best-only decision (so an epoch that does not improve still uses up the period,
   * as in Keras: keras-team/keras#12576).
   */
  epochEnded(): boolean {
    this.epochsSinceLastSave += 1;
    if (this.saveFreq !== 'epoch') return false;
    if (this.epochsSinceLastSave >= this.period) {
      this.epochsSinceLastSave = 0;
      return true;
    }
    return false;
  }

  state(): SaveScheduleState {
    return { samplesSinceLastSave: this.samplesSinceLastSave, epochsSinceLastSave: this.epochsSinceLastSave };
  }

  restore(state: SaveScheduleState): void {
    this.samplesSinceLastSave = state.samplesSinceLastSave;
    this.epochsSinceLastSave = state.epochsSinceLastSave;
  }
}
