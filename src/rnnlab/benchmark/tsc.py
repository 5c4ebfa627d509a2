"""`rnnlab bench tsc`: a time-series-classification table over UEA/UCR archive problems, the way bake-off
papers report it: test accuracy per data set x model on the archive's own TRAIN/TEST split, mean rank, time.

Neural models train through the task contract (`tasks/fit.py` with the classify task: the same datamodule,
scaling, validation hold-out (20% of TRAIN), early stopping and best-checkpoint restore as `rnnlab train`);
baselines (1-NN Euclidean, 1-NN DTW, MiniRocket-like) see the whole TRAIN split, unscaled, as in the bake-offs.
A set is a built-in name (`rnnlab.tasks.classify.data.UEA_DATA` and basic_motions) or a path PREFIX whose
PREFIX_TRAIN.ts and PREFIX_TEST.ts are read with the same .ts reader.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnlab.config import DataConfig, ModelConfig, Recipe, TrainConfig
from rnnlab.data.sequences import SequenceSet
from rnnlab.errors import ConfigError, DataError

log = logging.getLogger(__name__)

DEFAULT_SETS = ("basic_motions", "japanese_vowels", "gunpoint", "italy_power", "arrowhead")
NEURAL = ("lstm", "cnn_lstm", "lstm_fcn")
BASELINES = ("1nn_ed", "1nn_dtw", "minirocket")
MODELS = NEURAL + BASELINES
DEFAULT_MODELS = MODELS
VAL_FRACTION = 0.2


@dataclass
class BenchSet:
    name: str
    train: SequenceSet
    test: SequenceSet
    builtin: bool  # a classify data name: trained exactly as `rnnlab train classify --data.name NAME`


def load_set(name: str) -> BenchSet:
    """A built-in classify data name, or a path prefix of a PREFIX_TRAIN.ts / PREFIX_TEST.ts pair."""
    from rnnlab.tasks.classify.data import UEA_DATA, load_sets

    if name in (*UEA_DATA, "basic_motions"):
        train, test = load_sets(DataConfig(name=name))
        return BenchSet(name, train, test, True)
    prefix = Path(name)
    files = [prefix.parent / f"{prefix.name}_{s}.ts" for s in ("TRAIN", "TEST")]
    if not all(f.is_file() for f in files):
        raise ConfigError(
            f"unknown set {name!r}: not a built-in ({', '.join(('basic_motions', *UEA_DATA))}) and no "
            f"{files[0].name} / {files[1].name} beside {prefix}"
        )
    from rnnlab.data.uea import parse_ts, to_set

    sets = []
    for split, f in zip(("train", "test"), files, strict=True):
        series, labels, classes = parse_ts(f.read_text(errors="replace"), f.name)
        sets.append(to_set(series, labels, classes, prefix.name, split, {"source": str(f)}))
    if sets[0].classes != sets[1].classes or sets[0].n_features != sets[1].n_features:
        raise DataError(f"{prefix.name}: TRAIN and TEST declare different classes or channels")
    return BenchSet(prefix.name, sets[0], sets[1], False)


def sizing(s: BenchSet) -> dict:
    """Model and schedule sizes read off the data: small sets get small models, smaller batches, more epochs
    (the schedule is `model.kind: auto`'s, tasks/classify/sizing.py)."""
    from rnnlab.tasks.classify.sizing import schedule

    n = len(s.train)
    return {"hidden": 32 if n < 150 else 64, **schedule(n, VAL_FRACTION)}


def neural_recipe(model: str, s: BenchSet, seed: int, max_time: float | None, epochs: int | None) -> Recipe:
    """The recipe `rnnlab train` would run for this set and model."""
    size = sizing(s)
    if model == "lstm":
        m = ModelConfig(
            kind="SequenceClassifier", hidden=size["hidden"], layers=1, readout="mean", dropout=0.1
        )
    elif model == "cnn_lstm":
        m = ModelConfig(
            kind="SequenceClassifier",
            hidden=size["hidden"],
            layers=1,
            readout="mean",
            conv_channels=32,
            conv_layers=2,
            kernel=5,
            dropout=0.1,
        )
    elif model == "lstm_fcn":
        m = ModelConfig(kind="LSTMFCN", hidden=8, channels=128, dropout=0.8)
    else:
        raise ConfigError(f"{model!r} is not a neural model; choose from {', '.join(NEURAL)}")
    max_epochs = epochs or size["max_epochs"]
    train = TrainConfig(
        max_epochs=max_epochs,
        lr=2e-3,
        patience=max(10, max_epochs // 3),
        seed=seed,
        max_time=max_time,
        monitor="val_loss",
    )
    data = DataConfig(name=s.name if s.builtin else "user", batch_size=size["batch_size"])
    data.val_fraction = VAL_FRACTION
    return Recipe(name=f"tsc-{s.name}-{model}-s{seed}", task="classify", data=data, model=m, train=train)


def run_neural(model: str, s: BenchSet, seed: int, out: Path, max_time, epochs) -> dict:
    import torch

    from rnnlab.data.datamodule import SequenceDataModule, split_by_group
    from rnnlab.tasks.fit import fit, fit_recipe
    from rnnlab.tasks.registry import get

    recipe = neural_recipe(model, s, seed, max_time, epochs)
    run_dir = out / recipe.name
    if s.builtin:  # exactly `rnnlab train`: the task's own datamodule and model
        res = fit_recipe(recipe, out=run_dir)
    else:  # the same split and scaling as the classify task's make_datamodule, from the files read here
        train, val = split_by_group(s.train, VAL_FRACTION, seed)
        dm = SequenceDataModule(
            train, val, s.test, batch_size=recipe.data.batch_size, scale=True, seed=seed, name=s.name
        )
        torch.manual_seed(seed)
        task = get("classify")
        res = fit(task.model(recipe, dm), dm, recipe=recipe, out=run_dir, task=task)
    r = res.results
    return {
        "accuracy": float(r["test"]["accuracy"]),
        "macro_f1": float(r["test"]["macro_f1"]),
        "train_seconds": float(r["train_seconds"]),
        "epochs": int(r["epochs"]),
        "params": int(r["params"]),
        "stopped": r["stopped"],
        "run": str(run_dir),
    }


def run_baseline(model: str, s: BenchSet, seed: int) -> dict:
    from rnnlab.models.dtw import nn1_predict

    tr, te = s.train, s.test
    if model in ("1nn_ed", "1nn_dtw"):
        window = 0.0 if model == "1nn_ed" else 0.1
        pred = nn1_predict(tr.x, tr.lengths, tr.y, te.x, te.lengths, window)
    elif model == "minirocket":
        from rnnlab.models.minirocket import MiniRocketLike

        pred = MiniRocketLike(seed=seed).fit(tr.x, tr.lengths, tr.y).predict(te.x, te.lengths)
    else:
        raise ConfigError(f"unknown baseline {model!r}; choose from {', '.join(BASELINES)}")
    return {"accuracy": float((pred == te.y).mean())}


def _names(value: str | None, default: tuple[str, ...], allowed: tuple[str, ...] | None, what: str):
    names = [v.strip() for v in value.split(",") if v.strip()] if value else list(default)
    if allowed is not None:
        bad = [n for n in names if n not in allowed]
        if bad:
            raise ConfigError(f"unknown {what} {bad}; choose from {', '.join(allowed)}")
    if not names:
        raise ConfigError(f"--{what}s is empty")
    return names


def ranks(table: dict[str, dict[str, float]], models: list[str]) -> dict[str, float]:
    """Mean rank of each model over the sets (1 = most accurate; ties share the average rank)."""
    per = {m: [] for m in models}
    for accs in table.values():
        vals = np.array([-accs[m] for m in models])
        order = vals.argsort(kind="stable")
        r = np.empty(len(models))
        r[order] = np.arange(1, len(models) + 1)
        for v in np.unique(vals):
            r[vals == v] = r[vals == v].mean()
        for m, rk in zip(models, r, strict=True):
            per[m].append(float(rk))
    return {m: float(np.mean(v)) for m, v in per.items()}


def markdown(summary: dict) -> str:
    models, sets = summary["models"], summary["sets"]
    lines = ["| set | " + " | ".join(models) + " |", "|---|" + "---|" * len(models)]
    for s in sets:
        cells = []
        best = max(summary["accuracy"][s].values())
        for m in models:
            a, sd = summary["accuracy"][s][m], summary["std"][s][m]
            cell = f"{a:.3f}" + (f" ± {sd:.3f}" if summary["seeds"] > 1 else "")
            cells.append(f"**{cell}**" if a == best else cell)
        info = summary["set_info"][s]
        lines.append(f"| {s} ({info}) | " + " | ".join(cells) + " |")
    lines.append("| mean rank | " + " | ".join(f"{summary['mean_rank'][m]:.2f}" for m in models) + " |")
    lines.append("| seconds | " + " | ".join(f"{summary['seconds'][m]:.0f}" for m in models) + " |")
    return "\n".join(lines)


def run(
    sets: str | None = None,
    models: str | None = None,
    seeds: int = 1,
    max_time: float | None = None,
    json_path: str | Path | None = None,
    md_path: str | Path | None = None,
    out: str | Path | None = None,
    epochs: int | None = None,
    echo: Callable[[str], None] = print,
) -> dict:
    """Train and score every model on every set for seeds 0..seeds-1; print and return the summary."""
    set_names = _names(sets, DEFAULT_SETS, None, "set")
    model_names = _names(models, DEFAULT_MODELS, MODELS, "model")
    if seeds < 1:
        raise ConfigError(f"--seeds must be >= 1, got {seeds}")
    if max_time is not None and max_time <= 0:
        raise ConfigError(f"--max-time must be > 0 minutes, got {max_time}")
    out = Path(out or "runs/bench-tsc")
    rows: list[dict] = []
    acc: dict[str, dict[str, float]] = {}
    std: dict[str, dict[str, float]] = {}
    seconds = dict.fromkeys(model_names, 0.0)
    info: dict[str, str] = {}
    for name in set_names:
        s = load_set(name)
        lens = s.train.lengths
        span = f"{lens.min()}-{lens.max()}" if lens.min() != lens.max() else f"{lens.max()}"
        info[s.name] = (
            f"{len(s.train)}/{len(s.test)}, {s.train.n_features} ch x {span}, {s.train.n_classes} cl"
        )
        echo(f"{s.name}: {info[s.name]}")
        acc[s.name], std[s.name] = {}, {}
        for model in model_names:
            scores = []
            for seed in range(seeds):
                t0 = time.perf_counter()
                if model in NEURAL:
                    row = run_neural(model, s, seed, out, max_time, epochs)
                else:
                    row = run_baseline(model, s, seed)
                row.update(set=s.name, model=model, seed=seed, seconds=round(time.perf_counter() - t0, 2))
                rows.append(row)
                seconds[model] += row["seconds"]
                scores.append(row["accuracy"])
                echo(f"  {model:>10s} seed {seed}: accuracy {row['accuracy']:.4f} ({row['seconds']:.0f} s)")
                if model in BASELINES and model != "minirocket":
                    break  # deterministic: one run stands for every seed
            acc[s.name][model] = float(np.mean(scores))
            std[s.name][model] = float(np.std(scores))
    summary = {
        "sets": list(acc),
        "models": model_names,
        "seeds": seeds,
        "max_time_minutes": max_time,
        "set_info": info,
        "accuracy": acc,
        "std": std,
        "mean_rank": ranks(acc, model_names),
        "seconds": {m: round(v, 1) for m, v in seconds.items()},
        "rows": rows,
    }
    table = markdown(summary)
    echo(table)
    if json_path:
        Path(json_path).write_text(json.dumps(summary, indent=1))
        echo(f"wrote {json_path}")
    if md_path:
        Path(md_path).write_text(table + "\n")
        echo(f"wrote {md_path}")
    return summary
