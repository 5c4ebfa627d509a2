"""Callbacks specific to rnnlab runs: metrics.csv per epoch and plain log lines when not on a TTY."""

from __future__ import annotations

import csv
import logging
import time
from pathlib import Path

from lightning import Callback, LightningModule, Trainer

from rnnlab.errors import DiskFullError
from rnnlab.train.rundir import is_disk_full

log = logging.getLogger("rnnlab.train")

COLUMNS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "val_f1", "lr", "seconds")


class EpochMetrics(Callback):
    """Append one row per finished epoch to metrics.csv and log it as one line (global rank 0 only: under
    data-parallel training the other ranks hold the same, synced, metrics and write nothing)."""

    def __init__(self, path: Path, columns: tuple[str, ...] = COLUMNS) -> None:
        self.path = Path(path)
        self.columns = columns
        self.start = time.perf_counter()

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.start = time.perf_counter()
        if trainer.is_global_zero and not self.path.exists():
            self._write("w", self.columns)

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        m = {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1}
        row = {"epoch": trainer.current_epoch, "seconds": round(time.perf_counter() - self.start, 2)}
        row.update({k: round(m[k], 6) for k in self.columns if k in m})
        self._write("a", [row.get(c, "") for c in self.columns])
        parts = [f"{k}={row[k]}" for k in self.columns[1:] if k in row]
        log.info("epoch %d/%d %s", trainer.current_epoch + 1, trainer.max_epochs, " ".join(parts))

    def _write(self, mode: str, row: list | tuple) -> None:
        """Write or append one CSV row; a full disk is a one-line DiskFullError naming metrics.csv (a row cut
        short by it is dropped on resume, like the half-written row of a killed process)."""
        try:
            with self.path.open(mode, newline="") as f:
                csv.writer(f).writerow(row)
        except OSError as e:
            if is_disk_full(e):
                raise DiskFullError(self.path) from None
            raise


class DataWait(Callback):
    """Measure the share of training time spent waiting for the next batch (the loader, not the model).

    The wait is the gap from the end of one training batch (or the start of the epoch) to the start of the
    next one, where Lightning fetches data; validation falls outside it. `share` = waits / training time.
    """

    def __init__(self) -> None:
        self.wait = 0.0
        self.total = 0.0
        self._mark: float | None = None
        self._epoch_start = 0.0

    def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._mark = self._epoch_start = time.perf_counter()

    def on_train_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch, batch_idx: int
    ) -> None:
        if self._mark is not None:
            self.wait += time.perf_counter() - self._mark
            self._mark = None

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs, batch, batch_idx: int
    ) -> None:
        self._mark = time.perf_counter()

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.total += (self._mark or time.perf_counter()) - self._epoch_start
        self._mark = None

    @property
    def share(self) -> float | None:
        return round(self.wait / self.total, 4) if self.total > 0 else None


def data_wait_share(trainer: Trainer) -> float | None:
    """The DataWait share of a finished trainer's run (None if it had no DataWait callback)."""
    for cb in trainer.callbacks:
        if isinstance(cb, DataWait):
            return cb.share
    return None
