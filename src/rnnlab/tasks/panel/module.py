"""Panel training: the likelihood head's negative log-likelihood of every scaled horizon value; val MAE beside it."""

from __future__ import annotations

from torch import Tensor

from rnnlab.train.module import TaskModule

PANEL_COLUMNS = ("epoch", "train_loss", "val_loss", "val_mae", "lr", "seconds")


class PanelModule(TaskModule):
    """Batches are PanelDataModule's dicts (x, xf, y, log_scale, sid, static)."""

    def _step(self, batch: dict[str, Tensor], split: str) -> Tensor | None:
        loss, loc = self.model.nll(batch)
        if not self.finite(loss, split, batch):
            return None
        n = batch["y"].shape[0]
        sync = self.trainer.world_size > 1
        self.log(
            f"{split}_loss", loss, on_step=False, on_epoch=True, batch_size=n, prog_bar=True, sync_dist=sync
        )
        if split != "train":
            mae = (loc - batch["y"]).abs().mean()
            self.log(f"{split}_mae", mae, on_step=False, on_epoch=True, batch_size=n, sync_dist=sync)
        return loss

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor | None:
        loss = self._step(batch, "train")
        if loss is None:
            return None
        self.log_lr()
        return loss

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._step(batch, "val")
