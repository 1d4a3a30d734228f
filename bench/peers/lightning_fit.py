"""Lightning fit with and without ModelCheckpoint(save_weights_only=True) every epoch: the wall-time overhead.

Usage: python lightning_fit.py WIDTH DIR ROUNDS
"""
import statistics
import time

from fit_common import BATCH, EPOCHS, MAX_BATCHES, measure
from peer_common import SaveTimer, args, remove_files, report_json

import torch

from lightning_net import Callback, ModelCheckpoint, make_net, pl

width, directory, rounds = args()
torch.manual_seed(42)
data = torch.rand(MAX_BATCHES * BATCH, width)


class Clock(Callback):
    def __init__(self, clock):
        self.clock = clock

    def on_train_epoch_end(self, trainer, pl_module):
        self.clock.tick()


model = make_net(width, 1e-6)  # a small rate keeps the values finite over every fit of the run


def trainer(epochs, callbacks):
    return pl.Trainer(
        max_epochs=epochs,
        callbacks=callbacks,
        logger=False,
        enable_checkpointing=any(isinstance(c, ModelCheckpoint) for c in callbacks),
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
    )


def loader(batches):
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(data[: batches * BATCH]), batch_size=BATCH)


def fit(batches, with_checkpoint, clock):
    # Our clock runs before the checkpoint: Lightning calls ModelCheckpoint after the other callbacks.
    callbacks = [Clock(clock)]
    if with_checkpoint:
        callbacks.append(ModelCheckpoint(dirpath=directory, filename="w-{epoch}", save_top_k=-1, every_n_epochs=1, save_weights_only=True))
    trainer(EPOCHS, callbacks).fit(model, loader(batches))
    remove_files(directory)


class TimedCheckpoint(ModelCheckpoint):
    """As in lightning_ckpt.py: the save call's time."""

    def __init__(self, timer, **kw):
        super().__init__(**kw)
        self.timer = timer

    def _save_checkpoint(self, trainer, filepath):
        with self.timer:
            super()._save_checkpoint(trainer, filepath)


def save_ms():
    """The peer's own save time in a fit, median of saves 2..4."""
    timer = SaveTimer()
    callback = TimedCheckpoint(timer, dirpath=directory, filename="w-{epoch}", save_top_k=-1, every_n_epochs=1, save_weights_only=True)
    trainer(4, [callback]).fit(model, loader(1))
    remove_files(directory)
    return statistics.median(timer.blocked_ms[1:])


def per_batch_ms():
    """One step's time: (9 batches - 1 batch) / 8, so the Trainer's setup cancels out."""
    times = {}
    for batches in (1, 1, 9):  # the first fit warms up
        t = time.perf_counter()
        trainer(1, []).fit(model, loader(batches))
        times[batches] = (time.perf_counter() - t) * 1e3
    return max(0.01, (times[9] - times[1]) / 8)


result = measure(fit, save_ms(), per_batch_ms(), rounds)
params = sum(p.numel() for p in model.parameters())
report_json({"peer": "lightning", "params": params, **result, "versions": {"torch": torch.__version__, "lightning": pl.__version__}})
