"""The fit-overhead driver shared by the peers' fit scripts (the Python side of bench/cases/fit.ts).

EPOCHS epochs with a checkpoint every epoch and without, on the same data, alternated round by round
(the order rotates); epoch lengths are the fewest batches that make an epoch last at least 1.2 x (1x, 3x
and 10x) the peer's own save time (its "time to durable": these saves never fsync). Multiples that need the
same batch count are merged, labelled by the largest.
"""
import math
import statistics
import time

EPOCHS = 6  # as FIT_EPOCHS in bench/cases/fit.ts
MULTIPLES = (1, 3, 10)
# Epochs aim 20% past each multiple, so the calibration's noise rarely leaves one short of it.
AIM_MARGIN = 1.2
BATCH = 1
# Rows of data the scripts make: enough for a 10x epoch unless a step is over 1000x quicker than a save.
MAX_BATCHES = 10_000


class EpochClock:
    """Epoch end times of one fit; epoch k's time includes checkpoint k-1's save, as training sees it."""

    def __init__(self):
        self.ends = []

    def tick(self):
        self.ends.append(time.perf_counter())

    def steady_ms(self):
        """Median of epochs 2..N (the first pays setup and warm-up)."""
        return statistics.median((b - a) * 1e3 for a, b in zip(self.ends, self.ends[1:]))


def measure(fit, save_ms, step_ms, rounds):
    """fit(batches, with_checkpoint, clock) runs one whole fit of EPOCHS epochs; save_ms is the peer's
    median save time, step_ms its time per batch without callbacks. Per epoch length and round: both
    fits' wall time and steady epoch time."""
    plans = []
    for m in MULTIPLES:
        batches = min(MAX_BATCHES, max(1, math.ceil(AIM_MARGIN * m * save_ms / step_ms)))
        same = [p for p in plans if p["batches"] == batches]
        if same:
            same[0]["multiple"] = m
        else:
            plans.append({"multiple": m, "batches": batches, "rounds": []})
    for r in range(rounds):  # as many as ours (bench/cases/fit.ts fitRounds)
        for plan in plans:
            got = {}
            for k in range(2):
                with_ckpt = (k + r) % 2 == 1
                clock = EpochClock()
                t = time.perf_counter()
                fit(plan["batches"], with_ckpt, clock)
                got[with_ckpt] = {"wall_ms": (time.perf_counter() - t) * 1e3, "epoch_ms": clock.steady_ms()}
            plan["rounds"].append({"none": got[False], "ckpt": got[True]})
    return {"save_ms": save_ms, "per_batch_ms": step_ms, "epochs": EPOCHS, "batch_size": BATCH, "plans": plans}
