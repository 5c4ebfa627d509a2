"""TaskModule: what every task's LightningModule shares around its plain nn.Module.

The optimiser and schedule (train.optim), the named gradient-clipping step, the learning-rate log line, and
the non-finite loss check: stop by name at the first NaN/inf loss, or hand the step to the rollback guard
(train.nan_rollback). A task kind subclasses it once and writes only its loss and metrics.
"""

from __future__ import annotations

import torch
from lightning import LightningModule
from torch import Tensor, nn

from rnnlab.config import TrainConfig
from rnnlab.train.guards import NonFiniteLossError, find_guard, nonfinite_message
from rnnlab.train.optim import check_schedule, clip_gradients, make_optimizer

__all__ = ["NonFiniteLossError", "TaskModule"]


class TaskModule(LightningModule):
    """The model, its training settings and the steps per epoch the schedule counts.

    `budget_schedule`: the learning-rate schedule is laid over train.max_time (2% warm-up, cosine to the end
    of the budget or the steps, whichever comes first). Off (classification), torch's schedule over the
    steps is kept and train.max_time only caps it: its position runs ahead to the share of the cap used, so
    either way a run stopped by max_time ends annealed."""

    budget_schedule = True

    def __init__(self, model: nn.Module, cfg: TrainConfig, steps_per_epoch: int) -> None:
        super().__init__()
        check_schedule(cfg)
        self.model = model
        self.cfg = cfg
        self.steps_per_epoch = max(1, int(steps_per_epoch))

    def finite(self, loss: Tensor, split: str, batch: dict[str, Tensor]) -> bool:
        """True for a finite loss. Otherwise raise NonFiniteLossError naming the step and the batch, or, with
        train.nan_rollback on a training step, let the guard roll it back: False, and the caller skips it."""
        if bool(torch.isfinite(loss)):
            return True
        index = batch.get("index")
        indices = index[:8].tolist() if isinstance(index, Tensor) else []
        what = nonfinite_message(f"{split} loss", loss.item(), self.global_step, indices)
        guard = find_guard(self._trainer) if split == "train" else None
        if guard is None:
            raise NonFiniteLossError(
                f"{what}; lower train.lr or check the data for extreme values; the last good checkpoint is "
                "in the run directory"
            )
        guard.nonfinite(self.trainer, what)  # raises NonFiniteLossError once the rollbacks are spent
        return False

    def log_lr(self, **kwargs) -> None:
        """The first parameter group's learning rate, one value per epoch in metrics.csv."""
        self.log("lr", self.optimizers().param_groups[0]["lr"], on_step=False, on_epoch=True, **kwargs)

    def configure_optimizers(self):
        limit = self.cfg.max_time * 60 if self.cfg.max_time else None
        total = self.cfg.max_epochs * self.steps_per_epoch
        several = self._trainer is not None and self.trainer.world_size > 1
        sync = self._from_rank_zero if (limit and several) else None
        if self.budget_schedule:
            return make_optimizer(self.model, self.cfg, total, budget_s=limit, sync=sync)
        return make_optimizer(self.model, self.cfg, total, cap_s=limit, sync=sync)

    def _from_rank_zero(self, value: float) -> float:
        """Rank 0's `value` on every process: the replicas' schedules read one clock (each process's own would
        differ by milliseconds, and so would their learning rates and then their weights)."""
        t = torch.tensor([value], dtype=torch.float64, device=self.device)
        torch.distributed.broadcast(t, src=0)
        return float(t.item())

    def configure_gradient_clipping(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None):
        clip_gradients(self, optimizer, self.cfg.gradient_clip)
