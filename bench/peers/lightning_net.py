"""What both Lightning peers share: the imports under either package name, quiet logs, and the model (four
width x width linear layers with fixed values, trained on reconstruction with SGD at the given rate)."""
import logging
import warnings

import torch

try:
    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import Callback, ModelCheckpoint
except ImportError:  # the older package name
    import pytorch_lightning as pl
    from pytorch_lightning.callbacks import Callback, ModelCheckpoint

for name in ("lightning", "lightning.pytorch", "pytorch_lightning"):
    logging.getLogger(name).setLevel(logging.ERROR)
warnings.filterwarnings("ignore")


def make_net(width, lr):
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
            return torch.optim.SGD(self.parameters(), lr=lr)

    return Net()
