"""Numerical guards: a non-finite loss or gradient norm stops training by name, or rolls back and goes on.

By default (train.nan_rollback = 0) the task raises NonFiniteLossError at the first NaN/inf loss, naming the
global step and the batch's sample indices, because continuing would only spread NaN through the weights.
With train.nan_rollback = N > 0 the NonFiniteGuard callback instead skips the bad step, restores the model
and optimizer from the last good state (an in-memory snapshot taken at the start of training and at the
end of every epoch), halves the learning rate everywhere the schedule keeps it, logs one warning line and
continues, at most N times; the next non-finite step raises NonFiniteLossError naming the last good
checkpoint. A single exploding batch (a rare long sequence, an unlucky warm-up step) then costs a partial
epoch instead of the whole run. See docs/RELIABILITY.md.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any

import torch
from lightning import Callback, LightningModule, Trainer

from rnnlab.config import TrainConfig
from rnnlab.errors import ConfigError, RnnlabError

log = logging.getLogger("rnnlab.train")

# the learning-rate values a param group or a scheduler keeps: the current lr, and the values schedules
# compute it from (OneCycleLR: initial_lr, max_lr, min_lr; LambdaLR/CosineAnnealing: initial_lr, base_lrs)
LR_KEYS = ("lr", "initial_lr", "max_lr", "min_lr")


class NonFiniteLossError(RnnlabError):
    """The loss (or the gradient norm) became NaN or inf; the message names the step and the batch's sample
    indices, and, after rollbacks, the last good checkpoint."""


def nonfinite_message(what: str, value: float, step: int, indices: list[int]) -> str:
    """The part of every non-finite message that says what went wrong where (one line)."""
    return f"{what} is {value} at global step {step} (batch sample indices {indices}...)"


def check_nan_rollback(cfg: TrainConfig) -> None:
    """Refuse settings the guard cannot honour, before anything trains (one-line ConfigError)."""
    if cfg.nan_rollback < 0:
        raise ConfigError(f"train.nan_rollback must be 0 (stop at a NaN) or more, got {cfg.nan_rollback}")
    if cfg.nan_rollback and cfg.devices * cfg.num_nodes > 1:
        raise ConfigError(
            "train.nan_rollback needs a single process (a rollback on one rank would leave the others "
            "waiting in the gradient all-reduce); set train.nan_rollback 0 or train on one device"
        )


def halve_lr(optimizers: list[torch.optim.Optimizer], schedulers: list[Any]) -> list[float]:
    """Halve the learning rate where it lives: every param group's lr and the values schedules compute it
    from (initial/max/min lr, scheduler.base_lrs), so the schedule keeps its shape and position at half the
    height. Returns the new lr of each param group."""
    for opt in optimizers:
        for group in opt.param_groups:
            for key in LR_KEYS:
                if key in group:
                    group[key] = group[key] * 0.5
    for sched in schedulers:
        if hasattr(sched, "base_lrs"):
            sched.base_lrs = [b * 0.5 for b in sched.base_lrs]
        if hasattr(sched, "_last_lr"):
            sched._last_lr = [g["lr"] for g in sched.optimizer.param_groups]
    return [float(g["lr"]) for opt in optimizers for g in opt.param_groups]


def _all_finite(tensors: list[torch.Tensor]) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in tensors if t.is_floating_point())


class NonFiniteGuard(Callback):
    """Roll back a non-finite training step at most `max_rollbacks` times (see the module docstring).

    The task reports a non-finite loss through `nonfinite()` (ClassificationTask does when this callback is
    on its Trainer) and then skips the step; a non-finite gradient norm is caught here, before clipping and
    the optimiser step, and the gradients are dropped so the step changes nothing. The restore happens at the
    end of that batch, after Lightning has stepped the schedule, so the halved values are the ones in force
    for the next step. The schedule is not rewound: it stays aligned with the global step (the batches
    between the snapshot and the bad step are not replayed). The rollback count is saved in checkpoints, so
    a resumed run keeps its budget.

    `ckpt_dir`: the run's checkpoints/ directory, named in the final error as where the last good state is.
    """

    def __init__(self, max_rollbacks: int, ckpt_dir: Path | None = None) -> None:
        if max_rollbacks < 1:
            raise ConfigError(f"NonFiniteGuard needs max_rollbacks >= 1, got {max_rollbacks}")
        self.max_rollbacks = int(max_rollbacks)
        self.ckpt_dir = Path(ckpt_dir) if ckpt_dir is not None else None
        self.rollbacks = 0
        self._snapshot: dict[str, Any] | None = None
        self._pending: str | None = None
        self._indices: list[int] = []

    # ---- state carried in checkpoints ----
    def state_dict(self) -> dict[str, Any]:
        return {"rollbacks": self.rollbacks}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.rollbacks = int(state_dict.get("rollbacks", 0))

    # ---- snapshots of the last good state ----
    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._take_snapshot(trainer, pl_module, "the start of training")

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._take_snapshot(trainer, pl_module, f"the end of epoch {trainer.current_epoch}")

    def _take_snapshot(self, trainer: Trainer, pl_module: LightningModule, label: str) -> None:
        state = pl_module.state_dict()
        if not _all_finite(list(state.values())):
            return  # never remember a bad state as good (keep the previous snapshot)
        self._snapshot = {
            "model": {k: v.detach().clone() for k, v in state.items()},
            "optimizers": [copy.deepcopy(o.state_dict()) for o in trainer.optimizers],
            "label": label,
        }

    # ---- detection ----
    def on_train_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int
    ) -> None:
        index = batch.get("index") if isinstance(batch, dict) else None
        self._indices = index[:8].tolist() if isinstance(index, torch.Tensor) else [batch_idx]

    def nonfinite(self, trainer: Trainer, what: str) -> None:
        """Record a non-finite step (`what`: nonfinite_message) for a rollback at the end of the batch, or
        raise NonFiniteLossError when the budget is spent or no good state exists yet."""
        if self.rollbacks >= self.max_rollbacks or self._snapshot is None:
            done = f"after {self.rollbacks} rollback(s) (train.nan_rollback={self.max_rollbacks})"
            raise NonFiniteLossError(
                f"{what} {done}; lower train.lr or check the data for extreme values; "
                f"the last good checkpoint is {self._last_good()}"
            )
        self._pending = what

    def on_before_optimizer_step(
        self, trainer: Trainer, pl_module: LightningModule, optimizer: torch.optim.Optimizer
    ) -> None:
        grads = [p.grad for g in optimizer.param_groups for p in g["params"] if p.grad is not None]
        if not grads or self._pending is not None:
            return
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g.float()) for g in grads]))
        if bool(torch.isfinite(norm)):
            return
        what = nonfinite_message("train gradient norm", float(norm), trainer.global_step, self._indices)
        self.nonfinite(trainer, what)  # raises once the budget is spent
        optimizer.zero_grad(set_to_none=True)  # the optimiser then skips every parameter: the step is void

    # ---- the rollback ----
    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if self._pending is None:
            return
        what, self._pending = self._pending, None
        snap = self._snapshot
        assert snap is not None  # nonfinite() raised otherwise
        pl_module.load_state_dict(snap["model"])
        for opt, saved in zip(trainer.optimizers, snap["optimizers"], strict=True):
            current = [{k: g[k] for k in LR_KEYS if k in g} for g in opt.param_groups]
            opt.load_state_dict(copy.deepcopy(saved))  # a copy: the optimiser updates its state in place
            for group, values in zip(opt.param_groups, current, strict=True):
                group.update(values)  # keep the schedule's position; only its height is halved below
        lrs = halve_lr(trainer.optimizers, [c.scheduler for c in trainer.lr_scheduler_configs])
        self.rollbacks += 1
        log.warning(
            "%s: restored the model and optimizer from %s, learning rate halved to %s "
            "(rollback %d of %d, train.nan_rollback)",
            what,
            snap["label"],
            f"{lrs[0]:.3g}" if lrs else "?",
            self.rollbacks,
            self.max_rollbacks,
        )

    def _last_good(self) -> str:
        if self.ckpt_dir is not None:
            for name in ("last.ckpt", "best.ckpt"):
                if (self.ckpt_dir / name).is_file():
                    return str(self.ckpt_dir / name)
            return f"not written yet (the run stopped before its first checkpoint in {self.ckpt_dir})"
        return "in the run directory"


def find_guard(trainer: Trainer | None) -> NonFiniteGuard | None:
    """The NonFiniteGuard among a Trainer's callbacks, if any."""
    for cb in getattr(trainer, "callbacks", None) or []:
        if isinstance(cb, NonFiniteGuard):
            return cb
    return None
