"""Cross-entropy training of a sequence classifier; accuracy and macro-F1 (torchmetrics) on val/test."""

from __future__ import annotations

from torch import Tensor, nn
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from rnnlab.config import TrainConfig
from rnnlab.models.heads import smoothed_cross_entropy
from rnnlab.train.module import TaskModule


class ClassificationModule(TaskModule):
    """One label per sequence. Data-parallel: torchmetrics sums its states over ranks when it computes, and
    the losses are logged with sync_dist, so every rank logs (and checkpoints and stops on) the same epoch
    values. Test batches keep their probabilities for the predictions file. With train.label_smoothing the
    training step minimises the smoothed cross-entropy; every logged loss stays the plain one."""

    budget_schedule = False  # OneCycleLR over the steps as measured; train.max_time only caps it (annealed)

    def __init__(self, model: nn.Module, n_classes: int, cfg: TrainConfig, steps_per_epoch: int) -> None:
        super().__init__(model, cfg, steps_per_epoch)
        self.label_smoothing = float(cfg.label_smoothing)
        metrics = {}
        for split in ("train", "val", "test"):
            metrics[f"{split}_acc"] = MulticlassAccuracy(n_classes, average="micro")
            metrics[f"{split}_f1"] = MulticlassF1Score(n_classes, average="macro")
        self.metrics = nn.ModuleDict(metrics)
        self.test_outputs: list[dict[str, Tensor]] = []

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        return self.model(x, lengths)

    def _shared(self, batch: dict[str, Tensor], split: str) -> tuple[Tensor, Tensor] | None:
        """Loss, metrics and logging for one batch; None for a non-finite training loss the rollback guard
        takes over (the step is skipped)."""
        logits, loss = self.model(batch["x"], batch["lengths"], batch["y"])
        if not self.finite(loss, split, batch):
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
        acc = self.metrics[f"{split}_acc"]
        self.log(f"{split}_acc", acc, on_step=False, on_epoch=True, prog_bar=split == "val")
        self.log(f"{split}_f1", self.metrics[f"{split}_f1"], on_step=False, on_epoch=True)
        return logits, loss

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor | None:
        out = self._shared(batch, "train")
        if out is None:
            return None  # Lightning skips backward and the optimiser step; the guard rolls back
        self.log_lr()
        if self.label_smoothing > 0:  # optimise the smoothed loss; train_loss above logged the plain one
            return smoothed_cross_entropy(out[0], batch["y"], batch["lengths"], self.label_smoothing)
        return out[1]

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._shared(batch, "val")

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        out = self._shared(batch, "test")
        assert out is not None  # only training losses are handed to the guard
        probs = out[0].softmax(-1).detach()
        self.test_outputs.append({"index": batch["index"], "y": batch["y"], "probs": probs})
