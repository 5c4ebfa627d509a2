"""Classification results: the trained model on the test split right after training (results.json,
test_predictions.csv), and a finished run directory on its own test split or the user's file (the run alone,
config, scaler, classes and weights, suffices)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import torch

from rnnlab.config import recipe_from_dict
from rnnlab.data.datamodule import Scaler, _Tensors, split_by_group
from rnnlab.data.sequences import SequenceSet
from rnnlab.data.userdata import read_user_data
from rnnlab.errors import DataError
from rnnlab.metrics.classification import classification_report, scores
from rnnlab.tasks.classify.data import load_sets, user_data_options
from rnnlab.tasks.contract import Fitted
from rnnlab.train.rundir import RunFiles, write_atomic


def read_for_run(run: RunFiles, path: str | Path, require_labels: bool) -> SequenceSet:
    """Read the user's file with the run's column names and class list (unknown labels are an error)."""
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


def evaluate(run: RunFiles, data: str | Path | None = None) -> dict:
    """Accuracy, macro-F1, log loss, per-class metrics and confusion on the run's test split or on `data`."""
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


def predict_table(run: RunFiles, data: str | Path) -> tuple[list[str], list[list]]:
    """Rows of (id, predicted label, probability per class) for every sequence in `data`."""
    s = read_for_run(run, data, require_labels=False)
    probs = predict_probs(run, s)
    classes = run.data["classes"]
    ids = s.ids if s.ids is not None else [str(i) for i in range(len(s))]
    header = ["id", "predicted"] + [f"p_{c}" for c in classes]
    rows = [[ids[i], classes[int(p.argmax())]] + [f"{v:.6f}" for v in p] for i, p in enumerate(probs)]
    return header, rows


def test_fitted(f: Fitted) -> dict:
    """Test the trained model (best weights already restored) through Lightning's test loop: every rank tests
    the whole split; the writer keeps test_predictions.csv. Returns results.json's classification fields."""
    module, dm = f.module, f.dm
    module.test_outputs.clear()
    metrics = f.trainer.test(module, datamodule=dm, ckpt_path=None, verbose=False)[0]
    probs = torch.cat([o["probs"] for o in module.test_outputs]).cpu().numpy()
    index = torch.cat([o["index"] for o in module.test_outputs]).cpu().numpy()
    y = torch.cat([o["y"] for o in module.test_outputs]).cpu().numpy()
    split = "test" if "test" in dm.sets else "val"
    if f.writer:
        write_predictions(f.run / "test_predictions.csv", index, y, probs, dm.classes, dm.sets[split].ids)
    report = classification_report(y, probs.argmax(1), dm.n_classes, dm.classes)
    ranking = {k: v for k, v in scores(y, probs, dm.n_classes, dm.classes).items() if k.startswith("au")}
    return {
        "test": {
            "accuracy": float(metrics["test_acc"]),
            "macro_f1": float(metrics["test_f1"]),
            "loss": float(metrics["test_loss"]),
            "n": int(len(y)),
            "split": split,
            **ranking,
        },
        "per_class": report["per_class"],
        "confusion": report["confusion"],
    }


def write_predictions(
    path: Path, index: np.ndarray, y: np.ndarray, probs: np.ndarray, classes: list[str], ids: list[str] | None
) -> None:
    """test_predictions.csv, written atomically like every other run file (a full disk leaves no half file)."""
    order = np.argsort(index)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["id", "label", "predicted"] + [f"p_{c}" for c in classes])
    for i in order:
        sid = ids[index[i]] if ids is not None else int(index[i])
        w.writerow([sid, classes[y[i]], classes[int(probs[i].argmax())]] + [f"{p:.6f}" for p in probs[i]])
    write_atomic(path, buf.getvalue())
