"""fit() on real HAR windows: it learns, writes a complete run directory, and a NaN stops it by name."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from rnnlab.data.datamodule import SequenceDataModule, split_by_group
from rnnlab.models import SequenceClassifier
from rnnlab.tasks.fit import fit
from rnnlab.train.guards import NonFiniteLossError
from rnnlab.train.rundir import open_run


def _dm(s, batch_size=16):
    train, test = split_by_group(s, 0.25, seed=1)
    train, val = split_by_group(train, 0.2, seed=0)
    return SequenceDataModule(train, val, test, batch_size=batch_size, name="har_small")


def test_fit_learns_real_har_windows_and_writes_the_run(har_small, tmp_path):
    dm = _dm(har_small)
    model = SequenceClassifier(dm.n_features, dm.n_classes, cell="gru", hidden=32, layers=1, readout="mean")
    run = fit(model, dm, out=tmp_path / "run", max_epochs=12, lr=5e-3, patience=0)
    assert run.test["accuracy"] >= 0.75, run.results  # 6 classes: chance is ~0.17
    for f in (
        "config.yaml",
        "data.json",
        "model.json",
        "model.safetensors",
        "metrics.csv",
        "results.json",
        "test_predictions.csv",
        "checkpoints/best.ckpt",
    ):
        assert (run.path / f).is_file(), f
    rows = list(csv.DictReader((run.path / "metrics.csv").open()))
    assert len(rows) == 12 and float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])
    results = json.loads((run.path / "results.json").read_text())
    assert results["params"] == sum(p.numel() for p in model.parameters())
    assert np.array(results["confusion"]).sum() == results["test"]["n"]
    # the run directory alone rebuilds the model with the tested weights
    again = open_run(run.path).model
    assert again.config == model.config


def test_max_time_stops_cleanly_and_still_tests(har_small, tmp_path):
    dm = _dm(har_small)
    model = SequenceClassifier(dm.n_features, dm.n_classes, cell="lstm", hidden=16, layers=1)
    run = fit(model, dm, out=tmp_path / "run", max_epochs=10_000, max_time=0.05, patience=0)
    assert run.results["stopped"] == "max_time"
    assert (run.path / "model.safetensors").is_file() and "accuracy" in run.test


def test_overfit_batches_memorises_one_batch(har_small, tmp_path):
    dm = _dm(har_small, batch_size=8)
    model = SequenceClassifier(dm.n_features, dm.n_classes, cell="lstm", hidden=32, layers=1, dropout=0.0)
    run = fit(model, dm, out=tmp_path / "run", max_epochs=60, overfit_batches=1, lr=1e-2, schedule="constant")
    rows = list(csv.DictReader((run.path / "metrics.csv").open()))
    assert float(rows[-1]["train_acc"]) == 1.0


def test_nan_in_the_loss_stops_with_step_and_batch(har_small, tmp_path):
    dm = _dm(har_small)
    dm.sets["train"].x[:] = np.nan  # bypasses validation on purpose: corrupt data after loading
    model = SequenceClassifier(dm.n_features, dm.n_classes, hidden=8, layers=1)
    with pytest.raises(
        NonFiniteLossError, match=r"train loss is nan at global step 0 \(batch sample indices"
    ):
        fit(model, dm, out=tmp_path / "run", max_epochs=1)
    assert (tmp_path / "run" / "config.yaml").is_file()  # what was saved before is kept


def test_last_ckpt_is_the_final_epoch_even_when_an_earlier_epoch_was_best(har_small, tmp_path):
    """last.ckpt must be the end of training (resume and `restore: last` read it), not the best epoch: a
    learning rate too small to move val_acc after epoch 0 means only epoch 0 saves best.ckpt."""
    from rnnlab.train.checkpoints import safe_load

    dm = _dm(har_small)
    model = SequenceClassifier(dm.n_features, dm.n_classes, cell="gru", hidden=8, layers=1, dropout=0.0)
    run = fit(model, dm, out=tmp_path / "run", max_epochs=4, lr=1e-12, schedule="constant", checkpoint_every=0)
    best, last = (safe_load(run.path / "checkpoints" / n) for n in ("best.ckpt", "last.ckpt"))
    assert best["epoch"] == 0
    assert last["epoch"] == 3 and last["global_step"] == 4 * best["global_step"]
