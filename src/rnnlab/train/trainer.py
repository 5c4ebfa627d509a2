"""The Lightning Trainer every task kind uses, and the steps around it: start a run directory, train and
restore the best weights, say why training stopped, turn a full disk into a resume command."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import lightning as L
import torch
from lightning import Callback
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch import nn

from rnnlab.config import Recipe, TrainConfig, _merge
from rnnlab.errors import DiskFullError
from rnnlab.train.callbacks import DataWait, EpochMetrics
from rnnlab.train.checkpoints import (
    AtomicCheckpointIO,
    MidEpochCheckpoint,
    TrainingState,
    last_checkpoint,
    safe_load,
)
from rnnlab.train.distributed import check_parallel, is_global_zero
from rnnlab.train.guards import check_nan_rollback
from rnnlab.train.precision import resolve_precision
from rnnlab.train.rundir import check_writable, is_disk_full, new_run_dir, write_json, write_yaml

log = logging.getLogger("rnnlab.train")


@dataclass
class RunResult:
    """Where the run was written and its results.json contents."""

    path: Path
    results: dict

    @property
    def test(self) -> dict:
        return self.results.get("test", {})


def count_params(model: nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


@contextmanager
def disk_full_says_resume(run: Path, recipe_name: str) -> Iterator[None]:
    """Turn a full disk while training or exporting (through Lightning, which re-raises it unchanged, or as
    torch's RuntimeError around the OSError) into one DiskFullError naming the file and the resume command."""
    try:
        yield
    except Exception as e:
        if not is_disk_full(e):
            raise
        path = e.path if isinstance(e, DiskFullError) else (getattr(e, "filename", None) or run)
        raise DiskFullError(
            path,
            f"free space and resume with `rnnlab train {recipe_name} --resume {run}`",
        ) from None


def start_run(
    recipe: Recipe, dm, out: str | Path | None, train_overrides: dict, data_parallel: bool = False
) -> tuple[Path, TrainConfig]:
    """Apply overrides, create the run directory with config.yaml and data.json, seed everything.

    `data_parallel`: the task kind shards its training data across processes (train.devices/num_nodes);
    the others refuse multi-process training with one line. Under several processes only global rank 0 creates and writes the directory.
    A directory that cannot be written (read-only, no permission, full disk) is a one-line RunDirError here,
    before any data is batched or any step trains.
    """
    if train_overrides:
        _merge(recipe.train, train_overrides, "train.")
    cfg: TrainConfig = recipe.train
    check_parallel(cfg, out, supported=data_parallel, task=recipe.task)
    check_nan_rollback(cfg)
    run = Path(out) if out else new_run_dir(recipe.name)
    if is_global_zero():
        check_writable(run)
        (run / "checkpoints").mkdir(exist_ok=True)
        write_yaml(run / "config.yaml", recipe.to_dict())
        write_json(run / "data.json", dm.describe())
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    return run, cfg


def train_and_restore(
    trainer: L.Trainer,
    task: L.LightningModule,
    dm,
    best: ModelCheckpoint,
    cfg: TrainConfig,
    ckpt_path,
    run: Path,
) -> float:
    """Fit `task` (from `ckpt_path` when resuming), then load the best checkpoint's weights back into it when
    train.restore is 'best'; returns the training seconds."""
    model = task.model
    path = getattr(getattr(model, "rnn", None), "path", "n/a")
    name = type(model).__name__
    log.info("training %s (%d parameters, path=%s) on %s: %s", name, count_params(model), path, dm.name, run)
    t0 = time.perf_counter()
    trainer.fit(task, datamodule=dm, ckpt_path=ckpt_path, weights_only=True)
    seconds = time.perf_counter() - t0
    if cfg.restore == "best" and best.best_model_path:
        task.load_state_dict(safe_load(best.best_model_path)["state_dict"])
    return seconds


LOWER_IS_BETTER = ("loss", "bpc", "mase", "mae", "rmse", "perplexity")


def monitor_mode(monitor: str) -> str:
    """'min' for a monitored metric that should fall (val_loss, bpc, MASE, ...), 'max' for one that should rise
    (val_acc, val_f1, val_exact): the best checkpoint, early stopping and `rnnlab sweep` all read it here."""
    return "min" if monitor.lower().endswith(LOWER_IS_BETTER) else "max"


def make_trainer(
    cfg: TrainConfig,
    run: Path,
    monitor: str,
    columns: tuple[str, ...],
    early_stopping: bool,
    checkpoint_every: float | None = None,
    extra_callbacks: list[Callback] | None = None,
    **trainer_args,
) -> tuple[L.Trainer, ModelCheckpoint]:
    """The Lightning Trainer every rnnlab task uses, and its best-checkpoint callback on `monitor`.

    Checkpoints are written atomically. With `checkpoint_every` (seconds; 0 = epoch ends only) the run is
    resumable exactly: checkpoints are saved after the epoch's metrics row with the RNG states, and last.ckpt
    is also refreshed mid-epoch. Gradient clipping is the task module's own named step (train.optim.
    clip_gradients), not a Trainer setting. cfg.devices/num_nodes/strategy go to the Trainer; Lightning's
    DistributedSampler stays off because rnnlab's loaders shard themselves (SequenceDataModule.set_shard).
    `extra_callbacks` (e.g. the NonFiniteGuard) run after rnnlab's own.
    """
    mode = monitor_mode(monitor)
    resumable = checkpoint_every is not None
    on_epoch_end = True if resumable else None  # resumable: checkpoints after the epoch's metrics row
    best = ModelCheckpoint(
        dirpath=run / "checkpoints",
        filename="best",
        monitor=monitor,
        mode=mode,
        save_last=False,  # last_checkpoint() owns last.ckpt (see its docstring)
        enable_version_counter=False,
        save_on_train_epoch_end=on_epoch_end,
    )
    callbacks = [
        best,
        last_checkpoint(run, on_epoch_end),
        EpochMetrics(run / "metrics.csv", columns),
        DataWait(),
    ]
    if resumable:
        callbacks.append(TrainingState())
        if checkpoint_every:
            callbacks.append(MidEpochCheckpoint(run / "checkpoints" / "last.ckpt", checkpoint_every))
    if early_stopping:
        callbacks.append(EarlyStopping(monitor=monitor, mode=mode, patience=cfg.patience))
    callbacks.extend(extra_callbacks or [])
    trainer = L.Trainer(
        max_epochs=cfg.max_epochs,
        max_time=timedelta(minutes=cfg.max_time) if cfg.max_time else None,
        accelerator="auto",
        devices=cfg.devices,
        num_nodes=cfg.num_nodes,
        strategy=cfg.strategy,
        use_distributed_sampler=False,
        deterministic=cfg.deterministic,
        callbacks=callbacks,
        logger=False,
        enable_progress_bar=sys.stderr.isatty(),
        enable_model_summary=False,
        num_sanity_val_steps=0,
        default_root_dir=run,
        plugins=[AtomicCheckpointIO()],
        precision=resolve_precision(cfg.precision),
        **trainer_args,
    )
    return trainer, best


def stop_reason(trainer: L.Trainer, cfg: TrainConfig, seconds: float) -> str:
    if cfg.max_time and seconds >= cfg.max_time * 60 * 0.98:
        return "max_time"
    if trainer.should_stop and trainer.current_epoch < cfg.max_epochs:
        return "early_stopping"
    return "max_epochs"
