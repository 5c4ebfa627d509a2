"""The optimisation step's parts, shared by every task: AdamW with a per-step schedule, and gradient clipping."""

from __future__ import annotations

import math
import time

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
