"""Keras 3 ModelCheckpoint(save_weights_only=True) to .weights.h5: how long each save blocks training.

Usage: KERAS_BACKEND=jax python keras_ckpt.py WIDTH DIR SAVES
"""
import os

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

from peer_common import SaveTimer, args, remove_files, report  # noqa: E402

import jax  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

width, directory, saves = args()
# Zeros build fast; the weights are then written once so every page is resident, as in the TF.js model.
model = keras.Sequential(
    [keras.Input((width,))] + [keras.layers.Dense(width, kernel_initializer="zeros") for _ in range(4)]
)
model.compile(optimizer="sgd", loss="mse")
for k, var in enumerate(model.weights):
    var.assign(np.full(var.shape, 0.001 * (k + 1), dtype="float32"))
timer = SaveTimer()


class TimedCheckpoint(keras.callbacks.ModelCheckpoint):
    def on_epoch_end(self, epoch, logs=None):
        with timer:
            super().on_epoch_end(epoch, logs)
        remove_files(directory)


x = np.zeros((8, width), "float32")
callback = TimedCheckpoint(os.path.join(directory, "w-{epoch}.weights.h5"), save_weights_only=True)
model.fit(x, x, epochs=saves, batch_size=8, verbose=0, callbacks=[callback])
report("keras3", model.count_params(), timer, {"keras": keras.__version__, "jax": jax.__version__, "backend": keras.backend.backend()})
