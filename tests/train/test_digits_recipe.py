"""Sequential MNIST wiring: the digit views through the recipe, in-run baselines, and (slow) the real result."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rnnlab.cli import main
from rnnlab.config import Recipe, load_recipe
from rnnlab.data.datamodule import SequenceDataModule, split_by_group
from rnnlab.data.sequences import SequenceSet
from rnnlab.errors import ConfigError
from rnnlab.models import SequenceClassifier
from rnnlab.tasks import get
from rnnlab.tasks.checks import check_recipe
from rnnlab.tasks.classify import data as build
from rnnlab.tasks.classify.baselines import logreg, run_baselines
from rnnlab.tasks.fit import fit


def _digits(n: int, seed: int) -> SequenceSet:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 10
    x = rng.random((n, 28, 28), dtype=np.float32) * 0.1
    for i, d in enumerate(y):
        x[i, 2 * d : 2 * d + 3] += 0.9  # a class-specific bright band of rows
    return SequenceSet(
        x=x,
        lengths=np.full(n, 28),
        y=y,
        classes=[str(d) for d in range(10)],
        features=[f"col{j}" for j in range(28)],
        ids=[f"i{k}" for k in range(n)],
    )


@pytest.mark.parametrize("view,steps,features", [("rows", 28, 28), ("pixels", 784, 1), ("permuted", 784, 1)])
def test_smnist_recipe_views(monkeypatch, view, steps, features):
    monkeypatch.setattr(
        build, "_builtin_loaders", lambda: {"mnist-10k": lambda: (_digits(60, 0), _digits(20, 1))}
    )
    recipe = load_recipe("smnist")
    recipe.data.view = view
    dm = build.make_datamodule(recipe)
    assert dm.sets["train"].x.shape[1:] == (steps, features) and dm.n_classes == 10
    if view == "permuted":  # one fixed order for every image and every run
        again = build.make_datamodule(recipe)
        assert np.array_equal(again.sets["test"].x, dm.sets["test"].x)
        recipe.data.view = "pixels"
        assert not np.array_equal(build.make_datamodule(recipe).sets["test"].x, dm.sets["test"].x)


def test_unknown_view_and_unknown_baseline_fail_before_any_data():
    r = Recipe(name="x")
    r.data.name, r.data.view = "mnist-10k", "columns"
    with pytest.raises(ConfigError, match="data.view"):
        check_recipe(r, get("classify"))
    r.data.view, r.train.baselines = "rows", ["knn"]
    with pytest.raises(ConfigError, match="knn"):
        check_recipe(r, get("classify"))
    with pytest.raises(ConfigError, match="knn"):
        run_baselines(["knn"], None)


def test_logreg_baseline_lands_in_results(har_small, tmp_path):
    train, test = split_by_group(har_small, 0.25, seed=1)
    train, val = split_by_group(train, 0.2, seed=0)
    dm = SequenceDataModule(train, val, test, batch_size=16, name="har_small")
    b = logreg(dm)
    assert b["accuracy"] > 0.5 and b["l2"] in (1e-3, 1e-2, 1e-1)  # 6 classes: chance ~0.17
    model = SequenceClassifier(dm.n_features, dm.n_classes, hidden=8, layers=1)
    run = fit(model, dm, out=tmp_path / "run", max_epochs=1, baselines=["logreg"])
    results = json.loads((run.path / "results.json").read_text())
    assert results["baselines"]["logreg"]["accuracy"] == pytest.approx(b["accuracy"])


@pytest.mark.slow
def test_smnist_recipe_reaches_097_on_real_digits(tmp_path, capsys):
    assert main(["train", "smnist", "--out", str(tmp_path / "run")]) == 0
    r = json.loads((tmp_path / "run" / "results.json").read_text())
    assert r["test"]["accuracy"] >= 0.97 and r["test"]["n"] == 2000
    assert r["baselines"]["logreg"]["accuracy"] < r["test"]["accuracy"]


def test_scores_add_ranking_metrics_with_intervals_for_two_classes_only():
    from rnnlab.metrics.classification import scores

    y = np.array([0, 1, 1, 0, 1, 0])
    p1 = np.array([0.1, 0.8, 0.6, 0.4, 0.3, 0.2])
    s = scores(y, np.stack([1 - p1, p1], 1), 2, ["a", "b"])
    assert s["auroc"] == pytest.approx(8 / 9) and s["auroc_ci95"][0] <= s["auroc"] <= s["auroc_ci95"][1]
    assert "auprc" in s and s["accuracy"] == pytest.approx(5 / 6)
    three = scores(np.array([0, 1, 2]), np.eye(3), 3, ["a", "b", "c"])
    assert "auroc" not in three and three["accuracy"] == 1.0
