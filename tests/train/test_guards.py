"""The NaN guard (train.nan_rollback): a non-finite loss or gradient at a known step rolls back to the last
good state with a halved learning rate and training finishes; past the budget, and by default, it stops
with one line naming the step, the batch and (after rollbacks) the last good checkpoint."""

from __future__ import annotations

import csv
import logging
import math
import re

import pytest
import torch
from safetensors.torch import load_file

from rnnlab.config import Recipe, TrainConfig
from rnnlab.data.datamodule import SequenceDataModule, split_by_group
from rnnlab.errors import ConfigError
from rnnlab.models import SequenceClassifier
from rnnlab.tasks.fit import fit
from rnnlab.train.guards import NonFiniteGuard, NonFiniteLossError, check_nan_rollback, halve_lr
from rnnlab.train.optim import make_optimizer
from rnnlab.train.trainer import start_run

LR = 4e-3


def _dm(s) -> SequenceDataModule:
    train, test = split_by_group(s, 0.25, seed=1)
    train, val = split_by_group(train, 0.2, seed=0)
    return SequenceDataModule(train, val, test, batch_size=16, name="har_small")


def _model(dm: SequenceDataModule) -> SequenceClassifier:
    torch.manual_seed(0)
    return SequenceClassifier(dm.n_features, dm.n_classes, cell="gru", hidden=8, layers=1, dropout=0.0)


class _InfGrad(torch.autograd.Function):
    """Identity forward; an infinite gradient backward (a finite loss whose gradient overflows)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return x.clone()

    @staticmethod
    def backward(ctx, g: torch.Tensor) -> torch.Tensor:
        return g * math.inf


def _poison(model: SequenceClassifier, steps: set[int], kind: str = "nan_loss") -> None:
    """Make the training forward at each global step in `steps` non-finite: a NaN loss, or (kind="inf_grad")
    a finite loss with an infinite gradient. Validation and test forwards (model.eval()) are untouched."""
    forward, seen = model.forward, [0]

    def poisoned(x, lengths=None, y=None):
        logits, loss = forward(x, lengths, y)
        if model.training:
            if seen[0] in steps:
                loss = loss * math.nan if kind == "nan_loss" else _InfGrad.apply(loss)
            seen[0] += 1
        return logits, loss

    model.forward = poisoned


def _rows(run) -> list[dict]:
    return list(csv.DictReader((run / "metrics.csv").open()))


@pytest.mark.parametrize("kind", ["nan_loss", "inf_grad"])
def test_a_non_finite_step_rolls_back_once_halves_the_lr_and_finishes(har_small, tmp_path, caplog, kind):
    dm = _dm(har_small)
    per_epoch = len(dm.train_dataloader())
    bad = per_epoch + 1  # the second batch of epoch 1
    model = _model(dm)
    _poison(model, {bad}, kind)
    with caplog.at_level(logging.WARNING, logger="rnnlab.train"):
        run = fit(
            model,
            dm,
            out=tmp_path / "run",
            max_epochs=3,
            lr=LR,
            schedule="constant",
            patience=0,
            nan_rollback=2,
        )
    warnings = [r.getMessage() for r in caplog.records if "restored the model" in r.getMessage()]
    assert len(warnings) == 1, caplog.text
    what = "train loss is nan" if kind == "nan_loss" else "train gradient norm is (nan|inf)"
    assert pytest.approx(LR / 2) == float(warnings[0].split("halved to ")[1].split()[0])
    assert re.match(
        rf"{what} at global step {bad} \(batch sample indices \[\d+(, \d+)*\]\.\.\.\): restored the model and "
        rf"optimizer from the end of epoch 0, learning rate halved to 0.002 \(rollback 1 of 2",
        warnings[0],
    ), warnings[0]
    assert "\n" not in warnings[0]
    rows = _rows(run.path)
    assert (
        len(rows) == 3
        and float(rows[0]["lr"]) == pytest.approx(LR)
        and float(rows[2]["lr"]) == pytest.approx(LR / 2)
    )
    assert all(math.isfinite(float(r["train_loss"])) for r in rows)
    weights = load_file(str(run.path / "model.safetensors"))
    assert all(torch.isfinite(w).all() for w in weights.values())
    assert math.isfinite(run.test["loss"])


def test_past_the_budget_the_error_names_step_batch_and_last_good_checkpoint(har_small, tmp_path):
    dm = _dm(har_small)
    per_epoch = len(dm.train_dataloader())
    model = _model(dm)
    _poison(model, {per_epoch + 1, 2 * per_epoch + 1})
    with pytest.raises(NonFiniteLossError) as e:
        fit(
            model,
            dm,
            out=tmp_path / "run",
            max_epochs=3,
            lr=LR,
            patience=0,
            nan_rollback=1,
            checkpoint_every=0,
        )
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith(f"train loss is nan at global step {2 * per_epoch + 1} (batch sample indices [")
    assert "after 1 rollback(s) (train.nan_rollback=1); lower train.lr" in msg
    assert msg.endswith(f"the last good checkpoint is {tmp_path / 'run' / 'checkpoints' / 'last.ckpt'}")


def test_by_default_a_nan_stops_at_once_naming_step_and_batch(har_small, tmp_path):
    dm = _dm(har_small)
    model = _model(dm)
    _poison(model, {3})
    with pytest.raises(
        NonFiniteLossError,
        match=r"^train loss is nan at global step 3 \(batch sample indices \[\d+(, \d+)*\]\.\.\.\); lower train.lr",
    ):
        fit(model, dm, out=tmp_path / "run", max_epochs=2, patience=0)


@pytest.mark.parametrize("schedule", ["onecycle", "cosine", "constant"])
def test_halve_lr_keeps_the_schedule_shape_at_half_height(schedule):
    cfg = TrainConfig(lr=1e-2, schedule=schedule)

    def make():
        torch.manual_seed(0)
        model = torch.nn.Linear(3, 2)
        out = make_optimizer(model, cfg, total=40)
        return (out["optimizer"], out["lr_scheduler"]["scheduler"]) if isinstance(out, dict) else (out, None)

    (opt_a, sched_a), (opt_b, sched_b) = make(), make()
    for _ in range(10):  # the warm-up of onecycle and the start of cosine
        for opt, sched in ((opt_a, sched_a), (opt_b, sched_b)):
            opt.step()
            if sched is not None:
                sched.step()
    halve_lr([opt_a], [sched_a] if sched_a is not None else [])
    for _ in range(25):
        for g_a, g_b in zip(opt_a.param_groups, opt_b.param_groups, strict=True):
            assert g_a["lr"] == pytest.approx(g_b["lr"] / 2, rel=1e-9)
        for opt, sched in ((opt_a, sched_a), (opt_b, sched_b)):
            opt.step()
            if sched is not None:
                sched.step()


def test_bad_settings_are_one_line_config_errors(har_small, tmp_path):
    with pytest.raises(ConfigError, match="train.nan_rollback must be 0"):
        check_nan_rollback(TrainConfig(nan_rollback=-1))
    with pytest.raises(ConfigError, match="needs a single process"):
        check_nan_rollback(TrainConfig(nan_rollback=2, devices=2))
    start_run(Recipe(task="charlm", train=TrainConfig(nan_rollback=1)), _dm(har_small), tmp_path / "r", {})
    assert (tmp_path / "r" / "config.yaml").is_file()  # every task kind rolls back now (one fit driver)
    with pytest.raises(ConfigError):
        NonFiniteGuard(0)


def _poison_any(model: torch.nn.Module, step: int) -> None:
    """A NaN loss at the `step`-th training forward of any model kind: (output, loss) tuples (forecaster) or
    named outputs with a `loss` field (CharLM, Seq2Seq)."""
    forward, seen = model.forward, [0]

    def poisoned(*args, **kwargs):
        out = forward(*args, **kwargs)
        loss = getattr(out, "loss", None) if hasattr(out, "_replace") else (out[1] if isinstance(out, tuple) else None)
        if not model.training or loss is None:
            return out
        seen[0] += 1
        if seen[0] - 1 != step:
            return out
        return out._replace(loss=loss * math.nan) if hasattr(out, "_replace") else (out[0], loss * math.nan)

    model.forward = poisoned


def _forecast_case():
    from test_forecast import _model as forecaster
    from test_forecast import _recipe as forecast_recipe
    from test_forecast import _sine

    from rnnlab.data.forecastdata import ForecastDataModule

    dm = ForecastDataModule(_sine(400), "y", lookback=24, horizon=4, batch_size=32, name="sine")
    return forecaster(dm), dm, forecast_recipe()


def _charlm_case():
    from rnnlab.data.text import make_corpus
    from rnnlab.data.textstream import TextDataModule
    from rnnlab.models.language import CharLM

    corpus = make_corpus("to be or not to be, that is the question. " * 500, "hamlet", 0.2)
    dm = TextDataModule(corpus, batch_size=4, bptt=32, carry=True, seed=0)
    torch.manual_seed(0)
    return CharLM(dm.n_tokens, cell="gru", hidden=16, layers=1, embed=8), dm, Recipe(name="lm", task="charlm")


def _seq2seq_case():
    from textpairs import swap_pairs

    from rnnlab.config import load_recipe
    from rnnlab.data.pairs import PairDataModule
    from rnnlab.models.seq2seq import Seq2Seq

    dm = PairDataModule(swap_pairs(64, 0), swap_pairs(16, 1), swap_pairs(16, 2), batch_size=16, seed=5)
    torch.manual_seed(0)
    model = Seq2Seq(dm.vocab_size, src_vocab=dm.vocab_size, cell="gru", hidden=16, embed=8)
    recipe = load_recipe("folio")
    recipe.name, recipe.data.name, recipe.train.beam = "swap", "swap", 1
    return model, dm, recipe


@pytest.mark.parametrize("case", [_forecast_case, _charlm_case, _seq2seq_case], ids=["forecast", "charlm", "seq2seq"])
def test_every_task_kind_rolls_back_a_nan_step_through_the_one_driver(tmp_path, caplog, case):
    model, dm, recipe = case()
    _poison_any(model, 3)
    with caplog.at_level(logging.WARNING, logger="rnnlab.train"):
        run = fit(
            model, dm, recipe=recipe, out=tmp_path / "run", max_epochs=2, max_time=None, lr=LR, patience=0,
            nan_rollback=1, schedule="constant",
        )
    warnings = [r.getMessage() for r in caplog.records if "restored the model" in r.getMessage()]
    assert len(warnings) == 1 and "train loss is nan at global step 3" in warnings[0], caplog.text
    assert "from the start of training, learning rate halved to 0.002" in warnings[0]
    weights = load_file(str(run.path / "model.safetensors"))
    assert all(torch.isfinite(w).all() for w in weights.values())
    assert all(math.isfinite(float(r["val_loss"])) for r in _rows(run.path))
