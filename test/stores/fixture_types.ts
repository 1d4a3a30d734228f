/**
 * What a conformance fixture is (see fixtures.ts for Node's, test/browser/fixtures.ts for the
 * browser's) and the fault switch they share. No `node:` import, no Node global: this module is
 * bundled into the browser page too.
 */
import type { CheckpointStore } from '../../src/universal.js';

export interface StoreUnderTest {
  store: CheckpointStore;
  /** A URL of an empty place in the store (no trailing slash). */
  base: string;
  /** Other spellings of `base` that must behave exactly as `base` does. */
  spellings: string[];
  /** The n-th mutating step from now fails (0-based); `disarm()` stops that. */
  arm(n: number): void;
  disarm(): void;
  /**
   * Optional: how many data records the store holds in all (IndexedDB), so a test can check that the
   * bytes of removed checkpoints are freed, shared ones once the last checkpoint naming them goes.
   */
  dataRecords?(): Promise<number>;
  /** Mutating steps since the last arm, and whether the armed one was reached. */
  steps(): number;
  fired(): boolean;
}

export interface StoreFixture {
  name: string;
  create(): Promise<StoreUnderTest>;
  /** Whether temporaries of crashed writers can exist (then `recover` must find them). */
  hasLeftovers: boolean;
}

export interface FaultSwitch {
  arm(n: number): void;
  disarm(): void;
  steps(): number;
  fired(): boolean;
  /** Called by the store's fault hook before each mutating step; throws at the armed one. */
  step(what: string): void;
}

/**
 * Counts mutating steps and fails the armed one with an `Error` whose `code` is 'EIO' (what a full
 * disk or a lost connection looks like to a Node store; a plain Error everywhere else).
 */
export function faultSwitch(): FaultSwitch {
  let armedAt: number | undefined;
  let count = 0;
  let hit = false;
  return {
    arm(n) {
      armedAt = n;
      count = 0;
      hit = false;
    },
    disarm() {
      armedAt = undefined;
    },
    steps: () => count,
    fired: () => hit,
    step(what) {
      const index = count++;
      if (armedAt !== undefined && index === armedAt) {
        hit = true;
        throw Object.assign(new Error(`injected fault at step ${index} (${what})`), { code: 'EIO' });
      }
    },
  };
}
