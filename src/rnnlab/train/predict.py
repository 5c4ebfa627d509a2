"""Evaluate and predict with a finished run directory: the run alone (config, scaler, classes, weights) suffices."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from rnnlab.config import recipe_from_dict
from rnnlab.data.datamodule import Scaler, _Tensors, split_by_group
from rnnlab.data.sequences import SequenceSet
from rnnlab.errors import DataError
from rnnlab.train.metrics import classification_report
from rnnlab.train.rundir import RunFiles, open_run


def read_for_run(run: RunFiles, path: str | Path, require_labels: bool) -> SequenceSet:
    """Read the user's file with the run's column names and class list (unknown labels are an error)."""
    from rnnlab.data.userdata import read_user_data
    from rnnlab.train.build import user_data_options

    recipe = recipe_from_dict(run.recipe)
    recipe.data.path = str(path)
    opts = user_data_options(recipe.data) if str(path).lower().endswith(".csv") else {}
    s = read_user_data(path, classes=run.data["classes"], require_labels=require_labels, **opts)
    if s.features != run.data["features"] and s.n_features == len(run.data["features"]):
        s.features = list(run.data["features"])
    if s.n_features != len(run.data["features"]):
        raise DataError(
            f"{path} has {s.n_features} features {s.features} but the model was trained on "
            f"{len(run.data['features'])}: {run.data['features']}"
        )
    return s


def default_test_set(run: RunFiles) -> SequenceSet:
    """The run's own test split, rebuilt from its recipe (same data, same seed)."""
    from rnnlab.train.build import load_sets

    recipe = recipe_from_dict(run.recipe)
    train, test = load_sets(recipe.data)
    if test is None:
        _, test = split_by_group(train, recipe.data.val_fraction, recipe.train.seed + 1)
    return test


@torch.no_grad()
def predict_probs(run: RunFiles, s: SequenceSet, batch_size: int = 256) -> np.ndarray:
    """Class probabilities (N, C) for a SequenceSet, scaled with the run's training scaler."""
    if run.data.get("scaler"):
        s = Scaler.from_dict(run.data["scaler"]).transform(s)
    ds = _Tensors(s)
    out = []
    for start in range(0, len(ds), batch_size):
        b = ds.collate(list(range(start, min(start + batch_size, len(ds)))))
        out.append(torch.softmax(run.model(b["x"], b["lengths"]), dim=-1))
    return torch.cat(out).numpy()


def evaluate(run_dir: str | Path, data: str | Path | None = None) -> dict:
    """Accuracy, macro-F1, log loss, per-class metrics and confusion on the run's test split or on `data`."""
    run = open_run(run_dir)
    s = read_for_run(run, data, require_labels=True) if data else default_test_set(run)
    probs = predict_probs(run, s)
    classes = run.data["classes"]
    rep = classification_report(s.y, probs.argmax(1), len(classes), classes)
    loss = float(-np.log(np.clip(probs[np.arange(len(s)), s.y], 1e-12, None)).mean())
    return {
        "accuracy": rep["accuracy"],
        "macro_f1": rep["macro_f1"],
        "loss": loss,
        "n": len(s),
        "per_class": rep["per_class"],
        "confusion": rep["confusion"],
    }


def predict_table(run_dir: str | Path, data: str | Path) -> tuple[list[str], list[list]]:
    """Rows of (id, predicted label, probability per class) for every sequence in `data`."""
    run = open_run(run_dir)
    s = read_for_run(run, data, require_labels=False)
    probs = predict_probs(run, s)
    classes = run.data["classes"]
    ids = s.ids if s.ids is not None else [str(i) for i in range(len(s))]
    header = ["id", "predicted"] + [f"p_{c}" for c in classes]
    rows = [[ids[i], classes[int(p.argmax())]] + [f"{v:.6f}" for v in p] for i, p in enumerate(probs)]
    return header, rows
