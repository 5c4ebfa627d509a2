"""The optimisation step's parts, shared by every task: AdamW with a per-step schedule, and gradient clipping."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import torch
from lightning import LightningModule
from torch import nn

from rnnlab.config import TrainConfig
from rnnlab.errors import ConfigError

SCHEDULES = ("onecycle", "cosine", "constant")


def check_schedule(cfg: TrainConfig) -> None:
    """One line naming the allowed schedules, at construction rather than at the first step."""
    if cfg.schedule not in SCHEDULES:
        raise ConfigError(f"train.schedule must be one of {SCHEDULES}, got {cfg.schedule!r}")


def clip_gradients(module: LightningModule, optimizer: torch.optim.Optimizer, max_norm: float) -> None:
    """Scale the gradients so their global L2 norm is at most `max_norm` (train.gradient_clip; 0 = off).

    Runs once per optimiser step, after backward and after the non-finite guard has looked at the raw
    gradient norm, before the step itself (TaskModule.configure_gradient_clipping calls it)."""
    if max_norm:
        module.clip_gradients(optimizer, gradient_clip_val=max_norm, gradient_clip_algorithm="norm")


def make_optimizer(
    model: nn.Module,
    cfg: TrainConfig,
    total: int,
    budget_s: float | None = None,
    cap_s: float | None = None,
    sync: Callable[[float], float] | None = None,
):
    """AdamW (no weight decay on biases and norms) with the recipe's per-step schedule over `total` steps.

    With `budget_s` (a wall-clock budget) the schedule follows whichever runs out first, steps or time, so a
    run stopped by max_time still ends with its learning rate annealed (onecycle = 2% warm-up, then cosine).
    With `cap_s` (a time cap, classification's) the schedules keep torch's shapes over `total` steps
    (onecycle = OneCycleLR: 20% warm-up, cosine, beta1 cycled) and their step count runs ahead to the share of
    the cap used, so a run the cap stops also ends annealed, and one that finishes its steps first is
    unchanged.
    `sync` (data-parallel runs) maps this process's share of the time used to rank 0's, so every replica
    applies the same learning rate.
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
    clock = _Progress(total, budget_s or cap_s, sync) if (budget_s or cap_s) else None
    if budget_s:
        warm = 0.02 if cfg.schedule == "onecycle" else 0.0
        sched = _ClockedLambda(opt, clock, lambda s: clock.factor(s, warm))
    elif cfg.schedule == "onecycle":
        warm = max(0.2, 2.0 / total)  # at least two warm-up steps on very short runs
        sched = _ClockedOneCycle(opt, clock, max_lr=cfg.lr, total_steps=total, pct_start=warm)
    else:
        sched = _ClockedLambda(
            opt, clock, lambda s: 0.5 * (1 + math.cos(math.pi * _step(clock, s, total) / total))
        )
    return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def _step(clock: _Progress | None, step: int, total: int) -> float:
    """The step a schedule reads: the steps done, or under a clock the larger of those and its share."""
    return min(step, total) if clock is None else clock.step(step)


class _ClockCheckpoint:
    """state_dict / load_state_dict for a schedule with a `clock`: checkpoints hold plain values (safe loading
    accepts them), the clock as the seconds it had used, so a resumed run keeps its place on the clock (as
    Lightning's Timer keeps its elapsed time) instead of starting the budget again."""

    clock: _Progress | None

    def state_dict(self) -> dict:
        state = {k: v for k, v in super().state_dict().items() if k != "clock"}
        state["clock_used_s"] = None if self.clock is None else time.perf_counter() - self.clock.t0
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state = dict(state_dict)
        used = state.pop("clock_used_s", None)
        super().load_state_dict(state)
        if self.clock is not None and used is not None:
            self.clock.resume(used)


class _ClockedLambda(_ClockCheckpoint, torch.optim.lr_scheduler.LambdaLR):
    """LambdaLR whose factor reads `clock` (the budget schedule, the capped cosine), checkpointed with it."""

    def __init__(self, optimizer: torch.optim.Optimizer, clock: _Progress | None, lr_lambda) -> None:
        self.clock = clock
        super().__init__(optimizer, lr_lambda)


class _ClockedOneCycle(_ClockCheckpoint, torch.optim.lr_scheduler.OneCycleLR):
    """torch's OneCycleLR reading its position from `_step` (steps, or the cap's share when that is ahead)."""

    def __init__(self, optimizer: torch.optim.Optimizer, clock: _Progress | None, **kwargs) -> None:
        self.clock = clock
        super().__init__(optimizer, **kwargs)

    def get_lr(self) -> list[float]:
        real = self.last_epoch
        self.last_epoch = _step(self.clock, real, self.total_steps)  # OneCycleLR interpolates between steps
        try:
            return super().get_lr()
        finally:
            self.last_epoch = real


class _Progress:
    """Training progress in [0, 1] as the larger of steps done and wall time used; the LR factor from it.

    The clock is read once per step: LambdaLR asks once per parameter group, and every group (and, with
    `sync`, every replica through one broadcast) gets the same reading."""

    def __init__(self, total: int, budget_s: float, sync: Callable[[float], float] | None = None) -> None:
        self.total, self.budget_s, self.t0 = total, budget_s, time.perf_counter()
        self.sync = sync  # data-parallel: rank 0's share for every process (called once per step on each)
        self._read: tuple[int, float] | None = None  # (step, share of the time used) of the last reading

    def resume(self, used_s: float) -> None:
        """Go on from `used_s` seconds already used (a checkpoint's), instead of from now."""
        self.t0, self._read = time.perf_counter() - used_s, None

    def progress(self, step: int) -> float:
        return min(1.0, max(step / self.total, self._used(step)))

    def step(self, step: int) -> float:
        """The step of a `total`-step schedule this far into the run: `step` itself while the steps lead."""
        return min(float(self.total), max(step, self._used(step) * self.total))

    def _used(self, step: int) -> float:
        if step == 0:
            self.t0, self._read = time.perf_counter(), None  # the clock starts with the first optimiser step
            return 0.0
        if self._read is None or self._read[0] != step:
            used = (time.perf_counter() - self.t0) / self.budget_s
            self._read = (step, used if self.sync is None else self.sync(used))
        return self._read[1]

    def factor(self, step: int, warm: float) -> float:
        p = self.progress(step)
        if p < warm:
            return max(p / warm, 1e-3)
        return max(0.5 * (1 + math.cos(math.pi * (p - warm) / (1 - warm))), 1e-3)
