"""Keras 3 fit with and without ModelCheckpoint(save_weights_only=True) every epoch: the wall-time overhead.

Usage: KERAS_BACKEND=jax python keras_fit.py WIDTH DIR ROUNDS
"""
import os
import time

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import statistics  # noqa: E402

from fit_common import BATCH, EPOCHS, MAX_BATCHES, measure  # noqa: E402
from peer_common import SaveTimer, args, remove_files, report_json  # noqa: E402

import jax  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

width, directory, rounds = args()
# As in keras_ckpt.py; a small rate keeps the values finite over every fit of the run.
model = keras.Sequential(
    [keras.Input((width,))] + [keras.layers.Dense(width, kernel_initializer="zeros") for _ in range(4)]
)
model.compile(optimizer=keras.optimizers.SGD(1e-6), loss="mse")
for k, var in enumerate(model.weights):
    var.assign(np.full(var.shape, 0.001 * (k + 1), dtype="float32"))
data = np.random.default_rng(42).random((MAX_BATCHES * BATCH, width), dtype="float32")


class Clock(keras.callbacks.Callback):
    def __init__(self, clock):
        super().__init__()
        self.clock = clock

    def on_epoch_end(self, epoch, logs=None):
        self.clock.tick()


def fit(batches, with_checkpoint, clock):
    x = data[: batches * BATCH]
    callbacks = [Clock(clock)]
    if with_checkpoint:
        callbacks.append(keras.callbacks.ModelCheckpoint(os.path.join(directory, "w-{epoch}.weights.h5"), save_weights_only=True))
    model.fit(x, x, batch_size=BATCH, epochs=EPOCHS, shuffle=False, verbose=0, callbacks=callbacks)
    remove_files(directory)


class TimedCheckpoint(keras.callbacks.ModelCheckpoint):
    """As in keras_ckpt.py: the save call's time."""

    def __init__(self, timer, *a, **kw):
        super().__init__(*a, **kw)
        self.timer = timer

    def on_epoch_end(self, epoch, logs=None):
        with self.timer:
            super().on_epoch_end(epoch, logs)


def save_ms():
    """The peer's own save time in a fit, median of saves 2..4."""
    timer = SaveTimer()
    x = data[:BATCH]
    callback = TimedCheckpoint(timer, os.path.join(directory, "w-{epoch}.weights.h5"), save_weights_only=True)
    model.fit(x, x, batch_size=BATCH, epochs=4, shuffle=False, verbose=0, callbacks=[callback])
    remove_files(directory)
    return statistics.median(timer.blocked_ms[1:])


def per_batch_ms():
    """One step's time: (9 batches - 1 batch) / 8, so the per-fit setup cancels out."""
    times = {}
    for batches in (1, 1, 9):  # the first fit compiles the step
        x = data[: batches * BATCH]
        t = time.perf_counter()
        model.fit(x, x, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
        times[batches] = (time.perf_counter() - t) * 1e3
    return max(0.01, (times[9] - times[1]) / 8)


result = measure(fit, save_ms(), per_batch_ms(), rounds)
report_json({"peer": "keras3", "params": model.count_params(), **result, "versions": {"keras": keras.__version__, "jax": jax.__version__}})
