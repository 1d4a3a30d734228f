"""Lightning ModelCheckpoint(save_weights_only=True): how long each save blocks training.

Usage: python lightning_ckpt.py WIDTH DIR SAVES
"""

from peer_common import SaveTimer, args, remove_files, report

import torch

from lightning_net import ModelCheckpoint, make_net, pl

width, directory, saves = args()
timer = SaveTimer()


class TimedCheckpoint(ModelCheckpoint):
    def _save_checkpoint(self, trainer, filepath):
        with timer:
            super()._save_checkpoint(trainer, filepath)
        remove_files(directory)


x = torch.zeros(8, width)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x), batch_size=8)
model = make_net(width, 0.0)
callback = TimedCheckpoint(dirpath=directory, filename="w-{epoch}", save_top_k=-1, every_n_epochs=1, save_weights_only=True)
trainer = pl.Trainer(
    max_epochs=saves,
    callbacks=[callback],
    logger=False,
    enable_progress_bar=False,
    enable_model_summary=False,
    accelerator="cpu",
)
trainer.fit(model, loader)
params = sum(p.numel() for p in model.parameters())
report("lightning", params, timer, {"torch": torch.__version__, "lightning": pl.__version__})
