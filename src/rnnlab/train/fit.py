"""fit(): train a model on a datamodule with Lightning, test the best checkpoint, write the run directory."""

from __future__ import annotations

import csv
import io
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning import Callback
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch import nn

from rnnlab.config import Recipe, TrainConfig, _merge
from rnnlab.data.datamodule import SequenceDataModule
from rnnlab.errors import ConfigError, DiskFullError
from rnnlab.train.callbacks import COLUMNS, DataWait, EpochMetrics, data_wait_share
from rnnlab.train.checkpoints import (
    AtomicCheckpointIO,
    MidEpochCheckpoint,
    TrainingState,
    check_resume_config,
    resume_checkpoint,
    safe_load,
    truncate_metrics,
)
from rnnlab.train.distributed import check_parallel, is_global_zero
from rnnlab.train.guards import NonFiniteGuard, check_nan_rollback
from rnnlab.train.metrics import classification_report, scores
from rnnlab.train.rundir import (
    check_writable,
    is_disk_full,
    new_run_dir,
    save_model,
    write_atomic,
    write_json,
    write_yaml,
)
from rnnlab.train.tasks import ClassificationTask

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


def fit(
    model: nn.Module,
    dm: SequenceDataModule,
    recipe: Recipe | None = None,
    out: str | Path | None = None,
    resume: str | Path | None = None,
    checkpoint_every: float = 60.0,
    **train_overrides,
) -> RunResult:
    """Train `model` on `dm`, restore the best checkpoint, test it, and write a self-describing run directory.

    `train_overrides` are TrainConfig fields (max_epochs=30, lr=..., max_time=minutes, ...). `resume`: a run
    directory whose training was killed; it continues from checkpoints/last.ckpt with the same settings (see
    docs/RELIABILITY.md). last.ckpt is also rewritten every `checkpoint_every` seconds mid-epoch (0: only at
    epoch ends).

    Data-parallel (train.devices x train.num_nodes > 1, each process running this same call): every rank
    trains on its share of each epoch (`dm.set_shard`), validates and tests on the whole split, and only
    global rank 0 writes the run directory; `out` is then required. Every rank returns the same results.

    Failures that keep what was saved: a run directory that cannot be written fails before training (one
    line); a full disk while writing a checkpoint or the final files is a one-line DiskFullError that says
    how to resume (every file is written atomically, so the previous checkpoint stays intact). With
    train.nan_rollback > 0 a non-finite step is rolled back instead of stopping (rnnlab.train.guards).
    """
    recipe = recipe or Recipe(name=getattr(dm, "name", "custom"))
    out, ckpt_path, train_overrides = prepare_resume(recipe, out, resume, train_overrides)
    run, cfg = start_run(recipe, dm, out, train_overrides, data_parallel=True)
    guards = [NonFiniteGuard(cfg.nan_rollback, run / "checkpoints")] if cfg.nan_rollback else []
    trainer, best = make_trainer(
        cfg,
        run,
        monitor=cfg.monitor,
        columns=COLUMNS,
        early_stopping=bool(cfg.patience and not cfg.overfit_batches),
        overfit_batches=cfg.overfit_batches,
        checkpoint_every=checkpoint_every,
        extra_callbacks=guards,
    )
    dm.set_shard(trainer.global_rank, trainer.world_size)  # known once the Trainer has read the launch
    n_batches = len(dm.train_dataloader())  # per rank: the schedule counts this process's optimiser steps
    steps = min(cfg.overfit_batches, n_batches) if cfg.overfit_batches else n_batches
    task = ClassificationTask(model, dm.n_classes, cfg, steps)
    log.info(
        "training %s (%d parameters, path=%s) on %s: %s",
        type(model).__name__,
        count_params(model),
        getattr(getattr(model, "rnn", None), "path", "n/a"),
        dm.name,
        run,
    )
    with _disk_full_says_resume(run, recipe.name):
        t0 = time.perf_counter()
        trainer.fit(task, datamodule=dm, ckpt_path=ckpt_path, weights_only=True)
        train_seconds = time.perf_counter() - t0

        ckpt = (best.best_model_path or None) if cfg.restore == "best" else None
        task.test_outputs.clear()
        test_metrics = trainer.test(task, datamodule=dm, ckpt_path=ckpt, weights_only=True, verbose=False)[0]
        probs = torch.cat([o["probs"] for o in task.test_outputs]).cpu().numpy()
        index = torch.cat([o["index"] for o in task.test_outputs]).cpu().numpy()
        y = torch.cat([o["y"] for o in task.test_outputs]).cpu().numpy()
        test_split = "test" if "test" in dm.sets else "val"
        ids = dm.sets[test_split].ids
        writer = trainer.is_global_zero  # every rank tested the whole split; rank 0 alone writes
        if writer:
            _write_predictions(run / "test_predictions.csv", index, y, probs, dm.classes, ids)
            save_model(run, model)
        report = classification_report(y, probs.argmax(1), dm.n_classes, dm.classes)
        ranking = {k: v for k, v in scores(y, probs, dm.n_classes, dm.classes).items() if k.startswith("au")}
        results = {
            "test": {
                "accuracy": float(test_metrics["test_acc"]),
                "macro_f1": float(test_metrics["test_f1"]),
                "loss": float(test_metrics["test_loss"]),
                "n": int(len(y)),
                "split": test_split,
                **ranking,
            },
            "best_val": {
                cfg.monitor: float(best.best_model_score) if best.best_model_score is not None else None
            },
            "per_class": report["per_class"],
            "confusion": report["confusion"],
            "params": count_params(model),
            "epochs": int(trainer.current_epoch),
            "train_seconds": round(train_seconds, 2),
            "data_wait_share": data_wait_share(trainer),
            "path": getattr(getattr(model, "rnn", None), "path", None),
            "stopped": _stop_reason(trainer, cfg, train_seconds),
        }
        if cfg.baselines and writer:
            from rnnlab.train.baselines import run_baselines

            results["baselines"] = run_baselines(cfg.baselines, dm)
        if writer:
            write_json(run / "results.json", results)
    log.debug(
        "test accuracy %.4f, macro-F1 %.4f, %d epochs in %.1f s -> %s",
        results["test"]["accuracy"],
        results["test"]["macro_f1"],
        results["epochs"],
        train_seconds,
        run,
    )
    return RunResult(run, results)


def prepare_resume(
    recipe: Recipe, out: str | Path | None, resume: str | Path | None, train_overrides: dict
) -> tuple[str | Path | None, Path | None, dict]:
    """(out, checkpoint to continue from, remaining overrides) for fit/fit_lm; unchanged when not resuming.

    Resuming: the run writes into `resume` itself, the recipe (with any overrides applied) must equal the
    run's config.yaml, the checkpoint is last.ckpt (or best.ckpt), and metrics.csv loses the rows of epochs
    the checkpoint had not finished."""
    if resume is None:
        return out, None, train_overrides
    if out is not None and Path(out).resolve() != Path(resume).resolve():
        raise ConfigError(
            f"resume={resume} and out={out} differ; a resumed run writes into its own directory"
        )
    if train_overrides:
        _merge(recipe.train, train_overrides, "train.")
        train_overrides = {}
    check_resume_config(Path(resume), recipe.to_dict())
    ckpt_path = resume_checkpoint(Path(resume))
    if is_global_zero():  # rank 0 alone rewrites the run directory's files
        check_writable(Path(resume))
        done = truncate_metrics(Path(resume) / "metrics.csv", safe_load(ckpt_path))
        log.info("resuming %s from %s (%d epochs done)", resume, ckpt_path, done)
    return resume, ckpt_path, train_overrides


@contextmanager
def _disk_full_says_resume(run: Path, recipe_name: str) -> Iterator[None]:
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

    `data_parallel`: the caller supports multi-process training (train.devices/num_nodes); other callers
    refuse it with one line. Under several processes only global rank 0 creates and writes the directory.
    A directory that cannot be written (read-only, no permission, full disk) is a one-line RunDirError here,
    before any data is batched or any step trains.
    """
    if train_overrides:
        _merge(recipe.train, train_overrides, "train.")
    cfg: TrainConfig = recipe.train
    check_parallel(cfg, out, supported=data_parallel, task=recipe.task)
    check_nan_rollback(cfg)
    if cfg.nan_rollback and recipe.task != "classify":
        raise ConfigError(
            f"train.nan_rollback is supported by classification recipes; this is a {recipe.task!r} recipe - "
            "set train.nan_rollback 0"
        )
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
    train.restore is 'best'; returns the training seconds. Shared by the LM, forecasting and seq2seq paths."""
    model = task.model
    log.info("training %s (%d parameters) on %s: %s", type(model).__name__, count_params(model), dm.name, run)
    t0 = time.perf_counter()
    trainer.fit(task, datamodule=dm, ckpt_path=ckpt_path, weights_only=True)
    seconds = time.perf_counter() - t0
    if cfg.restore == "best" and best.best_model_path:
        task.load_state_dict(safe_load(best.best_model_path)["state_dict"])
    return seconds


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
    is also refreshed mid-epoch. cfg.devices/num_nodes/strategy go to the Trainer; Lightning's
    DistributedSampler stays off because rnnlab's loaders shard themselves (SequenceDataModule.set_shard).
    `extra_callbacks` (e.g. fit's NonFiniteGuard) run after rnnlab's own.
    """
    mode = "min" if monitor.endswith("loss") else "max"
    resumable = checkpoint_every is not None
    best = ModelCheckpoint(
        dirpath=run / "checkpoints",
        filename="best",
        monitor=monitor,
        mode=mode,
        save_last=True,
        enable_version_counter=False,
        save_on_train_epoch_end=True if resumable else None,
    )
    callbacks = [best, EpochMetrics(run / "metrics.csv", columns), DataWait()]
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
        gradient_clip_val=cfg.gradient_clip or None,
        deterministic=cfg.deterministic,
        callbacks=callbacks,
        logger=False,
        enable_progress_bar=sys.stderr.isatty(),
        enable_model_summary=False,
        num_sanity_val_steps=0,
        default_root_dir=run,
        plugins=[AtomicCheckpointIO()],
        **trainer_args,
    )
    return trainer, best


def _stop_reason(trainer: L.Trainer, cfg: TrainConfig, seconds: float) -> str:
    if cfg.max_time and seconds >= cfg.max_time * 60 * 0.98:
        return "max_time"
    if trainer.should_stop and trainer.current_epoch < cfg.max_epochs:
        return "early_stopping"
    return "max_epochs"


def _write_predictions(
    path: Path, index: np.ndarray, y: np.ndarray, probs: np.ndarray, classes: list[str], ids: list[str] | None
) -> None:
    """test_predictions.csv, written atomically like every other run file (a full disk leaves no half file)."""
    order = np.argsort(index)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["id", "label", "predicted"] + [f"p_{c}" for c in classes])
    for i in order:
        sid = ids[index[i]] if ids is not None else int(index[i])
        w.writerow([sid, classes[y[i]], classes[int(probs[i].argmax())]] + [f"{p:.6f}" for p in probs[i]])
    write_atomic(path, buf.getvalue())
