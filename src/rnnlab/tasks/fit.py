"""fit(): the one training driver for every task kind.

resume check -> run directory (config.yaml, data.json) -> Trainer (checkpoints, metrics.csv, early stopping,
NaN rollback) -> the task's Lightning module -> train and restore the best weights -> model.safetensors ->
the task's evaluation -> results.json. Resume, data-parallel training, NaN rollback and the full-disk
message come from here for every kind alike.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from lightning import Callback
from torch import nn

from rnnlab.config import Recipe
from rnnlab.tasks.contract import Fitted, Task
from rnnlab.tasks.registry import get
from rnnlab.train.callbacks import data_wait_share
from rnnlab.train.guards import NonFiniteGuard
from rnnlab.train.precision import resolve_precision
from rnnlab.train.resume import prepare_resume
from rnnlab.train.rundir import save_model, write_json
from rnnlab.train.trainer import (
    RunResult,
    count_params,
    disk_full_says_resume,
    make_trainer,
    start_run,
    stop_reason,
    train_and_restore,
)

log = logging.getLogger("rnnlab.train")


def fit(
    model: nn.Module,
    dm,
    recipe: Recipe | None = None,
    out: str | Path | None = None,
    resume: str | Path | None = None,
    checkpoint_every: float = 60.0,
    task: Task | str | None = None,
    callbacks: list[Callback] | None = None,
    **train_overrides,
) -> RunResult:
    """Train `model` on `dm`, restore the best checkpoint, evaluate it, and write a self-describing run
    directory; returns its path and results.json.

    `task`: a Task or a registered name; default the recipe's `task:` ('classify' without a recipe).
    `train_overrides` are TrainConfig fields (max_epochs=30, lr=..., max_time=minutes, ...). `resume`: a run
    directory whose training was killed; it continues exactly from checkpoints/last.ckpt with the same
    settings (docs/RELIABILITY.md). last.ckpt is also rewritten every `checkpoint_every` seconds mid-epoch
    (0: only at epoch ends). `callbacks`: Lightning callbacks added after rnnlab's own (e.g. `rnnlab sweep`'s
    pruning callback).

    Data-parallel (train.devices x train.num_nodes > 1, each process running this same call, for kinds whose
    data shards): every rank trains on its share of each epoch (`dm.set_shard`), validates and tests on the
    whole split, and only global rank 0 writes the run directory; `out` is then required.

    Failures keep what was saved: an unwritable run directory fails before training (one line); a full disk
    while writing a checkpoint or the final files is a one-line DiskFullError saying how to resume (every
    file is written atomically). With train.nan_rollback > 0 a non-finite step is rolled back instead of
    stopping (rnnlab.train.guards).
    """
    if task is None:
        task = recipe.task if recipe is not None else "classify"
    task = get(task) if isinstance(task, str) else task
    recipe = recipe or Recipe(name=getattr(dm, "name", "custom"), task=task.name)
    out, ckpt_path, train_overrides = prepare_resume(recipe, out, resume, train_overrides)
    run, cfg = start_run(recipe, dm, out, train_overrides, data_parallel=task.data_parallel)
    guards = [NonFiniteGuard(cfg.nan_rollback, run / "checkpoints")] if cfg.nan_rollback else []
    guards += list(callbacks or [])
    options = task.trainer_options(cfg)
    early = options.pop("early_stopping")
    monitor = task.monitor(cfg)
    trainer, best = make_trainer(
        cfg, run, monitor, task.columns, early, checkpoint_every, extra_callbacks=guards, **options
    )
    if hasattr(dm, "set_shard"):
        dm.set_shard(trainer.global_rank, trainer.world_size)  # known once the Trainer has read the launch
    module = task.module(model, dm, cfg)
    with disk_full_says_resume(run, recipe.name):
        seconds = train_and_restore(trainer, module, dm, best, cfg, ckpt_path, run)
        writer = trainer.is_global_zero  # every rank evaluates; rank 0 alone writes
        model.eval()
        if writer:
            save_model(run, model)
        fitted = Fitted(run, model, dm, recipe, cfg, trainer, module, best, seconds, writer)
        results = task.evaluate(fitted)
        results.update(
            {
                "best_val": {monitor: fitted.best_score},
                "params": count_params(model),
                "epochs": int(trainer.current_epoch),
                "train_seconds": round(seconds, 2),
                "data_wait_share": data_wait_share(trainer),
                "path": getattr(getattr(model, "rnn", None), "path", None),
                "precision": resolve_precision(cfg.precision),
                "stopped": stop_reason(trainer, cfg, seconds),
            }
        )
        if writer:
            write_json(run / "results.json", results)
    log.debug("%s run finished in %.1f s -> %s", task.name, seconds, run)
    return RunResult(run, results)


def fit_recipe(
    recipe: Recipe,
    out: str | Path | None = None,
    resume: str | Path | None = None,
    checkpoint_every: float = 60.0,
    callbacks: list[Callback] | None = None,
    say=None,
) -> RunResult:
    """A recipe's whole run, as `rnnlab train` does it: seed, the task's data (`say` gets its one-line
    description) and model, then fit(). `rnnlab sweep` runs each trial through here too."""
    task = get(recipe.task)
    torch.manual_seed(recipe.train.seed)  # the model's initial weights, too, come from the recipe's seed
    dm = task.datamodule(recipe)
    if say is not None:
        say(task.describe(dm))
    model = task.model(recipe, dm)
    return fit(
        model,
        dm,
        recipe=recipe,
        out=out,
        resume=resume,
        checkpoint_every=checkpoint_every,
        task=task,
        callbacks=callbacks,
    )
