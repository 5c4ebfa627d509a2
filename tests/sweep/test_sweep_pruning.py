"""The sweep's pruning callback reports the monitored validation metric each epoch and prunes on request."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from rnnlab.train.trainer import monitor_mode

optuna = pytest.importorskip("optuna")
from rnnlab.sweep.objective import PruneOnValidation  # noqa: E402


class FakeTrial:
    def __init__(self, prune_at: int) -> None:
        self.prune_at, self.reports = prune_at, []

    def report(self, value: float, step: int) -> None:
        self.reports.append((step, value))

    def should_prune(self) -> bool:
        return len(self.reports) > self.prune_at


def _trainer(epoch: int, **metrics) -> SimpleNamespace:
    return SimpleNamespace(
        current_epoch=epoch,
        sanity_checking=False,
        callback_metrics={k: torch.tensor(v) for k, v in metrics.items()},
    )


def test_reports_each_epoch_then_prunes():
    trial = FakeTrial(prune_at=2)
    cb = PruneOnValidation(trial, "val_acc")
    cb.on_train_epoch_end(_trainer(0, val_acc=0.5, val_loss=1.0), None)
    cb.on_train_epoch_end(_trainer(1, val_acc=0.25), None)
    assert trial.reports == [(0, 0.5), (1, 0.25)]
    with pytest.raises(optuna.TrialPruned, match="after epoch 3: val_acc=0.125"):
        cb.on_train_epoch_end(_trainer(2, val_acc=0.125), None)


def test_no_report_without_the_metric_or_while_sanity_checking():
    trial = FakeTrial(prune_at=0)
    cb = PruneOnValidation(trial, "val_loss")
    cb.on_train_epoch_end(_trainer(0, train_loss=1.0), None)
    t = _trainer(0, val_loss=1.0)
    t.sanity_checking = True
    cb.on_train_epoch_end(t, None)
    assert trial.reports == []


def test_a_real_median_pruner_stops_a_trial_behind_the_others():
    study = optuna.create_study(
        direction="minimize", pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
    )
    for value in (1.0, 1.1):  # two finished trials with low losses
        t = study.ask()
        for step in range(3):
            t.report(value, step)
        study.tell(t, value)
    trial = study.ask()
    cb = PruneOnValidation(trial, "val_loss")
    with pytest.raises(optuna.TrialPruned):
        cb.on_train_epoch_end(_trainer(0, val_loss=5.0), None)


@pytest.mark.parametrize(
    "monitor, mode",
    [
        ("val_loss", "min"),
        ("val_bpc", "min"),
        ("val_mase", "min"),
        ("val_acc", "max"),
        ("val_f1", "max"),
        ("val_exact", "max"),
    ],
)
def test_the_direction_follows_the_monitor(monitor, mode):
    assert monitor_mode(monitor) == mode
