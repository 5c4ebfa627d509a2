"""HAR model comparison: RNN vs LSTM vs GRU vs stacked bidirectional LSTM vs 1-D CNN vs MLP, same data and budget.

Usage: python bench/har_compare.py [--epochs 20] [--only NAME,...] [--out runs/bench]
Prints a markdown table (accuracy, macro-F1, params, training seconds, seconds/epoch) and writes results.jsonl.
Every model runs in this process on the same split, so the timings are comparable with each other.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from rnnlab.config import apply_overrides, load_recipe
from rnnlab.tasks import get
from rnnlab.tasks.fit import fit

CONFIGS = {
    "rnn (tanh), 2x64": {
        "model.conv_channels": "0",
        "model.cell": "rnn",
        "model.layers": "2",
        "model.bidirectional": "false",
    },
    "lstm, 1x64": {"model.conv_channels": "0", "model.bidirectional": "false"},
    "gru, 1x64": {"model.conv_channels": "0", "model.cell": "gru", "model.bidirectional": "false"},
    "lstm, 2x64": {"model.conv_channels": "0", "model.layers": "2", "model.bidirectional": "false"},
    "bi-lstm, 2x64": {"model.conv_channels": "0", "model.layers": "2"},
    "cnn-lstm, conv 2x64 + bi-lstm 1x64 (recipe)": {},
    "cnn1d, 3x64": {"model.kind": "CNN1dClassifier", "model.channels": "64", "model.layers": "3"},
    "mlp, 2x256": {
        "model.kind": "MLPClassifier",
        "model.hidden": "256",
        "model.layers": "2",
        "model.dropout": "0.3",
    },
}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=None, help="override train.max_epochs")
    p.add_argument("--only", default="", help="comma-separated config names (substring match)")
    p.add_argument("--out", default="runs/bench")
    p.add_argument("--set", action="append", default=[], help="extra override KEY=VALUE for every config")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, over in CONFIGS.items():
        if args.only and not any(o in name for o in args.only.split(",")):
            continue
        recipe = load_recipe("har")
        extra = dict(s.split("=", 1) for s in args.set)
        if args.epochs:
            extra["train.max_epochs"] = str(args.epochs)
        apply_overrides(recipe, {**over, **extra})
        dm = get("classify").datamodule(recipe)
        model = get("classify").model(recipe, dm)
        slug = "".join(c if c.isalnum() else "-" for c in name.split("(")[0].strip(" ,")).strip("-")
        run = fit(model, dm, recipe=recipe, out=out / slug)
        r = run.results
        row = {
            "model": name,
            "accuracy": r["test"]["accuracy"],
            "macro_f1": r["test"]["macro_f1"],
            "params": r["params"],
            "train_seconds": r["train_seconds"],
            "epochs": r["epochs"],
            "overrides": {**over, **extra},
        }
        rows.append(row)
        with (out / "results.jsonl").open("a") as f:
            f.write(json.dumps(row) + "\n")
        logging.info("%s: %s", name, row)
    print("| model | test accuracy | macro-F1 | params | train s | s/epoch |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['model']} | {r['accuracy']:.4f} | {r['macro_f1']:.4f} | {r['params']:,} | "
            f"{r['train_seconds']:.0f} | {r['train_seconds'] / r['epochs']:.1f} |"
        )


if __name__ == "__main__":
    main()
