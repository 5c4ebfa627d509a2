"""Forecast training: mean squared error over every horizon step of scaled windows; val MAE beside it."""

from __future__ import annotations

from torch import Tensor

from rnnlab.train.module import TaskModule

FORECAST_COLUMNS = ("epoch", "train_loss", "val_loss", "val_mae", "lr", "seconds")


class ForecastModule(TaskModule):
    """Batches hold the lookback `x`, the known-ahead covariates `xf` and the horizon's targets `y`."""

    def loss(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """(loss, point forecast) of a batch; the model's own loss (MSE, or pinball for a quantile head)."""
        pred, loss = self.model(batch["x"], batch["xf"], batch["y"])
        return loss, pred

    def _step(self, batch: dict[str, Tensor], split: str) -> Tensor | None:
        loss, pred = self.loss(batch)
        if not self.finite(loss, split, batch):
            return None
        n = batch["y"].shape[0]
        self.log(f"{split}_loss", loss, on_step=False, on_epoch=True, batch_size=n, prog_bar=True, sync_dist=self.trainer.world_size > 1)
        if split != "train":
            mae = (pred - batch["y"]).abs().mean()
            self.log(f"{split}_mae", mae, on_step=False, on_epoch=True, batch_size=n)
        return loss

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor | None:
        loss = self._step(batch, "train")
        if loss is None:
            return None  # Lightning skips backward and the optimiser step; the guard rolls back
        self.log_lr()
        return loss

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._step(batch, "val")
