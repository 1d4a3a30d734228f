"""Lightning ModelCheckpoint(save_weights_only=True): how long each save blocks training.

Usage: python lightning_ckpt.py WIDTH DIR SAVES
"""
import logging

from peer_common import SaveTimer, args, remove_files, report

import torch

try:
    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import ModelCheckpoint
except ImportError:  # the older package name
    import pytorch_lightning as pl
    from pytorch_lightning.callbacks import ModelCheckpoint

for name in ("lightning", "lightning.pytorch", "pytorch_lightning"):
    logging.getLogger(name).setLevel(logging.ERROR)

width, directory, saves = args()
timer = SaveTimer()


class Net(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(*[torch.nn.Linear(width, width) for _ in range(4)])
        with torch.no_grad():
            for k, p in enumerate(self.net.parameters()):
                p.fill_(0.001 * (k + 1))

    def training_step(self, batch, _index):
        loss = ((self.net(batch[0]) - batch[0]) ** 2).mean()
        self.log("loss", loss)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.0)


class TimedCheckpoint(ModelCheckpoint):
    def _save_checkpoint(self, trainer, filepath):
        with timer:
            super()._save_checkpoint(trainer, filepath)
        remove_files(directory)


x = torch.zeros(8, width)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x), batch_size=8)
model = Net()
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
