"""LightningModules per task kind: loss, metrics, optimiser and schedule around a plain nn.Module."""

from __future__ import annotations

import math
import time

import torch
from lightning import LightningModule
from torch import Tensor, nn
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from rnnlab.config import TrainConfig
from rnnlab.errors import ConfigError
from rnnlab.train.guards import NonFiniteLossError, find_guard, nonfinite_message

__all__ = ["SCHEDULES", "ClassificationTask", "NonFiniteLossError", "make_optimizer"]

SCHEDULES = ("onecycle", "cosine", "constant")


class ClassificationTask(LightningModule):
    """Cross-entropy training of a sequence classifier; accuracy and macro-F1 (torchmetrics) on val/test.

    Data-parallel: torchmetrics sums its states over ranks when it computes, and the losses are logged with
    sync_dist, so every rank logs (and checkpoints and stops on) the same epoch values."""

    def __init__(self, model: nn.Module, n_classes: int, train: TrainConfig, steps_per_epoch: int) -> None:
        super().__init__()
        if train.schedule not in SCHEDULES:
            raise ConfigError(f"train.schedule must be one of {SCHEDULES}, got {train.schedule!r}")
        self.model = model
        self.cfg = train
        self.steps_per_epoch = max(1, int(steps_per_epoch))
        metrics = {}
        for split in ("train", "val", "test"):
            metrics[f"{split}_acc"] = MulticlassAccuracy(n_classes, average="micro")
            metrics[f"{split}_f1"] = MulticlassF1Score(n_classes, average="macro")
        self.metrics = nn.ModuleDict(metrics)
        self.test_outputs: list[dict[str, Tensor]] = []

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        return self.model(x, lengths)

    def _shared(self, batch: dict[str, Tensor], split: str) -> tuple[Tensor, Tensor] | None:
        """Loss, metrics and logging for one batch; None for a non-finite training loss that the Trainer's
        NonFiniteGuard (train.nan_rollback) takes over: the step is skipped and rolled back."""
        logits, loss = self.model(batch["x"], batch["lengths"], batch["y"])
        if not torch.isfinite(loss):
            what = nonfinite_message(
                f"{split} loss", loss.item(), self.global_step, batch["index"][:8].tolist()
            )
            guard = find_guard(self._trainer) if split == "train" else None
            if guard is None:
                raise NonFiniteLossError(
                    f"{what}; lower train.lr or check the data for extreme values; the last good checkpoint "
                    "is in the run directory"
                )
            guard.nonfinite(self.trainer, what)  # raises NonFiniteLossError once the rollbacks are spent
            return None
        preds = logits.argmax(-1)
        bs = batch["y"].shape[0]
        self.metrics[f"{split}_acc"].update(preds, batch["y"])
        self.metrics[f"{split}_f1"].update(preds, batch["y"])
        on_step = split == "train"
        self.log(
            f"{split}_loss",
            loss,
            on_step=False,
            on_epoch=True,
            batch_size=bs,
            prog_bar=on_step or split == "val",
            sync_dist=True,  # data-parallel: the mean over every rank's batches (a no-op in one process)
        )
        self.log(
            f"{split}_acc",
            self.metrics[f"{split}_acc"],
            on_step=False,
            on_epoch=True,
            prog_bar=split == "val",
        )
        self.log(f"{split}_f1", self.metrics[f"{split}_f1"], on_step=False, on_epoch=True)
        return logits, loss

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor | None:
        out = self._shared(batch, "train")
        if out is None:
            return None  # Lightning skips backward and the optimiser step; the guard rolls back
        self.log("lr", self.optimizers().param_groups[0]["lr"], on_step=False, on_epoch=True)
        return out[1]

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._shared(batch, "val")

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        out = self._shared(batch, "test")
        assert out is not None  # only training losses are handed to the guard
        logits = out[0]
        self.test_outputs.append(
            {"index": batch["index"], "y": batch["y"], "probs": logits.softmax(-1).detach()}
        )

    def configure_optimizers(self):
        return make_optimizer(self.model, self.cfg, self.cfg.max_epochs * self.steps_per_epoch)


def make_optimizer(model: nn.Module, cfg: TrainConfig, total: int, budget_s: float | None = None):
    """AdamW (no weight decay on biases and norms) with the recipe's per-step schedule over `total` steps.

    With `budget_s` (a wall-clock budget) the schedule follows whichever runs out first, steps or time, so a
    run stopped by max_time still ends with its learning rate annealed (onecycle = 2% warm-up, then cosine).
    """
    params = list(model.parameters())  # a tied weight is listed once
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    opt = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": cfg.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=cfg.lr,
    )
    if cfg.schedule == "constant" or total < 4:
        return opt
    if budget_s:
        clock = _Progress(total, budget_s)
        warm = 0.02 if cfg.schedule == "onecycle" else 0.0
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: clock.factor(s, warm))
    elif cfg.schedule == "onecycle":
        warm = max(0.2, 2.0 / total)  # at least two warm-up steps on very short runs
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=total, pct_start=warm)
    else:
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total) / total))
        )
    return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


class _Progress:
    """Training progress in [0, 1] as the larger of steps done and wall time used; the LR factor from it."""

    def __init__(self, total: int, budget_s: float) -> None:
        self.total, self.budget_s, self.t0 = total, budget_s, time.perf_counter()

    def factor(self, step: int, warm: float) -> float:
        if step == 0:
            self.t0 = time.perf_counter()  # the clock starts with the first optimiser step
        p = min(1.0, max(step / self.total, (time.perf_counter() - self.t0) / self.budget_s))
        if p < warm:
            return max(p / warm, 1e-3)
        return max(0.5 * (1 + math.cos(math.pi * (p - warm) / (1 - warm))), 1e-3)
