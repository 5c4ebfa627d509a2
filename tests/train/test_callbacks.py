"""DataWait measures the loader's share of training time: high for a slow loader, low for a fast one."""

from __future__ import annotations

import time

import lightning as L
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from rnnlab.train.callbacks import DataWait, data_wait_share


class _Slow(Dataset):
    def __init__(self, delay: float) -> None:
        self.delay = delay

    def __len__(self) -> int:
        return 8

    def __getitem__(self, i: int):
        time.sleep(self.delay)
        return torch.randn(4), torch.randn(1)


class _Task(L.LightningModule):
    def __init__(self, compute: float) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 1)
        self.compute = compute

    def training_step(self, batch, batch_idx):
        time.sleep(self.compute)  # stands in for the model's work
        x, y = batch
        return nn.functional.mse_loss(self.lin(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def _share(delay: float, compute: float) -> float:
    cb = DataWait()
    trainer = L.Trainer(
        max_epochs=2,
        callbacks=[cb],
        logger=False,
        enable_progress_bar=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        accelerator="cpu",
    )
    trainer.fit(_Task(compute), DataLoader(_Slow(delay), batch_size=2))
    assert data_wait_share(trainer) == cb.share
    return cb.share


def test_data_wait_share_separates_a_slow_loader_from_a_slow_model():
    slow_loader = _share(delay=0.02, compute=0.0)  # 2 items x 20 ms per batch, nothing to compute
    slow_model = _share(delay=0.0, compute=0.04)
    assert slow_loader > 0.8, slow_loader
    assert slow_model < 0.2, slow_model
