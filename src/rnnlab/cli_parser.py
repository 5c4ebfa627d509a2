"""The command line's grammar: the subcommands and their flags, and `--section.key value` recipe overrides
with their short forms. cli.py runs what this parses."""

from __future__ import annotations

import argparse

from rnnlab.errors import ConfigError

SHORTCUTS = {  # convenience flags -> recipe keys
    "max_time": "train.max_time",
    "overfit_batches": "train.overfit_batches",
    "epochs": "train.max_epochs",
    "seed": "train.seed",
    "id_col": "data.id_col",
    "time_col": "data.time_col",
    "label_col": "data.label_col",
    "features": "data.features",
    "text": "data.path",
    "csv": "data.path",
    "target": "data.target",
    "time": "data.time_col",
    "covariates": "data.covariates",
    "future": "data.future",
    "lookback": "data.lookback",
    "horizon": "data.horizon",
    "season": "data.season",
    "static": "data.static",
}


def parse_overrides(rest: list[str]) -> dict[str, str]:
    """['--model.cell', 'gru', '--train.lr=0.01'] -> {'model.cell': 'gru', 'train.lr': '0.01'}."""
    out: dict[str, str] = {}
    i = 0
    while i < len(rest):
        arg = rest[i]
        if not arg.startswith("--"):
            raise ConfigError(f"unexpected argument {arg!r}; overrides look like --model.cell gru")
        key, eq, value = arg[2:].partition("=")
        if not eq:
            if i + 1 >= len(rest) or (rest[i + 1].startswith("--") and "." in rest[i + 1]):
                raise ConfigError(f"--{key} needs a value, e.g. --{key} VALUE")
            value, i = rest[i + 1], i + 1
        key = key.replace("-", "_")
        if "." not in key:
            if key not in SHORTCUTS:
                raise ConfigError(
                    f"unknown option --{key}; recipe keys are dotted (--model.hidden 64) "
                    f"or one of {', '.join('--' + k.replace('_', '-') for k in SHORTCUTS)}"
                )
            key = SHORTCUTS[key]
        out[key] = value
        i += 1
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rnnlab", description="Recurrent neural networks on real sequence data.")
    p.add_argument("-v", "--verbose", action="store_true", help="show Lightning's own log lines")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser(
        "train", help="train a recipe (built-in name or YAML); any key overridable: --model.cell gru"
    )
    t.add_argument("recipe", help="built-in recipe name (see `rnnlab recipes`) or a .yaml file")
    t.add_argument("--out", help="run directory (default runs/<recipe>-<timestamp>)")
    t.add_argument(
        "--data",
        help="your own data: a long-format .csv or an .npz (X, y[, lengths]); for text recipes a CSV with "
        "text and label columns (--data.text_col, --data.label_col)",
    )
    t.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue a killed classification, charlm, forecast or seq2seq run from RUN_DIR/checkpoints/last.ckpt with the "
        "settings in RUN_DIR/config.yaml (RECIPE must be that recipe's name or a YAML file of the same name)",
    )
    t.add_argument(
        "--checkpoint-every",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="also rewrite checkpoints/last.ckpt mid-epoch this often (default 60; 0 = epoch ends only)",
    )
    t.epilog = (
        "forecasting your own series: rnnlab train forecast --csv FILE --target COL [--time COL] "
        "[--covariates A,B] [--future C] [--lookback N] [--horizon H]"
    )
    sw = sub.add_parser(
        "sweep",
        help="search a recipe's hyperparameters with optuna (TPE + pruning); resumable, writes best.yaml",
    )
    sw.add_argument("recipe", help="built-in recipe name or a .yaml file; recipe overrides fix keys")
    sw.add_argument("--trials", type=int, default=20, help="trials to finish in all (default 20)")
    sw.add_argument(
        "--budget",
        type=float,
        metavar="MINUTES",
        help="start no trial after this many minutes (default: none)",
    )
    sw.add_argument(
        "--out", help="sweep directory (default runs/sweep-<recipe>); rerun the same command to resume"
    )
    sw.add_argument(
        "--space",
        metavar="FILE.yaml",
        help="search space: dotted recipe keys -> {low, high, log} or {choices: [...]} (default: the "
        "recipe's sweep: section, else a space for its model)",
    )
    sw.add_argument("--data", help="your own data, as for `rnnlab train --data`")
    sw.add_argument(
        "--trial-minutes",
        type=float,
        metavar="MINUTES",
        help="training time cap per trial (default: twice the budget's even share per trial)",
    )
    sw.add_argument(
        "--pruner",
        choices=("median", "none"),
        default="median",
        help="stop weak trials early (default median)",
    )
    g = sub.add_parser("generate", help="write text with a trained character model")
    g.add_argument("run")
    g.add_argument("--prime", default="\n", help="text to start from (default: a newline)")
    g.add_argument("--length", type=int, default=500, help="characters to generate (default 500)")
    g.add_argument("--temperature", type=float, default=0.8, help="> 0; lower is safer, higher is wilder")
    g.add_argument("--top-k", type=int, default=None, help="sample among the k most likely characters")
    g.add_argument("--top-p", type=float, default=None, help="sample from the smallest set with this mass")
    g.add_argument("--greedy", action="store_true", help="always take the most likely character")
    g.add_argument("--seed", type=int, default=0, help="same seed, same text")
    e = sub.add_parser("evaluate", help="metrics of a finished run on its test split or on --data")
    e.add_argument("run")
    e.add_argument("--data", help="a CSV/npz (classifiers) or a UTF-8 text file (character models)")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    pr = sub.add_parser("predict", help="labels and probabilities for every sequence in --data")
    pr.add_argument("run")
    pr.add_argument("--data", required=True)
    pr.add_argument("--out", help="CSV file to write (default: stdout)")
    fo = sub.add_parser(
        "forecast", help="forecast the next steps with a trained forecasting run (CSV + plot)"
    )
    fo.add_argument("run")
    fo.add_argument("--horizon", type=int, help="steps ahead (default and maximum: the trained horizon)")
    fo.add_argument("--csv", help="a newer CSV with the same columns as the training series")
    fo.add_argument("--origin", help="forecast from this timestamp of the series instead of its end")
    fo.add_argument("--plot", help="PNG to write (default RUN/forecast_latest.png)")
    fo.add_argument(
        "--fallback", action="store_true", help="forecast with the run's best forecaster on validation"
    )
    bt = sub.add_parser(
        "backtest",
        help="rolling-origin evaluation of a forecasting run over its test span, with its baselines",
    )
    bt.add_argument("run")
    bt.add_argument("--csv", help="a newer CSV with the run's columns (default: the run's own series)")
    bt.add_argument("--time", help="the CSV's time column (default: the recipe's), for calendar features")
    bt.add_argument(
        "--step", type=int, default=1, help="rows between forecast origins (default 1: every row)"
    )
    bt.add_argument("--out", help="directory for backtest.csv/.json/.png (default RUN_DIR)")
    ins = sub.add_parser("inspect", help="write RUN_DIR/report.html: curves, errors, neurons, gradient flow")
    ins.add_argument("run", nargs="?", help="a finished run directory")
    ins.add_argument(
        "--out", help="report path (default RUN_DIR/report.html); a directory with --gradient-demo"
    )
    ins.add_argument(
        "--gradient-demo",
        action="store_true",
        help="train RNN/GRU/LSTM on the adding problem and plot gradient norm vs distance (a few minutes)",
    )
    d = sub.add_parser("data", help="fetch built-in data sets into the cache")
    dsub = d.add_subparsers(dest="action", required=True)
    f = dsub.add_parser("fetch")
    f.add_argument("name")
    dsub.add_parser("list")
    sub.add_parser("recipes", help="list built-in recipes")
    tr = sub.add_parser("translate", help="rewrite a line with a trained text seq2seq run (e.g. folio)")
    tr.add_argument("run")
    tr.add_argument("text")
    tr.add_argument("--beam", type=int, default=5, help="beam width (1 = greedy)")
    tr.add_argument("--plot", help="write the attention map to this PNG")
    ca = sub.add_parser("caption", help="caption an image strip with a trained captions run")
    ca.add_argument("run")
    ca.add_argument("image", help="a PNG: digits, white on black or black on white, any size")
    ca.add_argument("--beam", type=int, default=5, help="beam width (1 = greedy)")
    ca.add_argument("--plot", help="write the attention map to this PNG")
    b = sub.add_parser(
        "bench",
        help="speed of every layer kind against plain torch.nn (a table and --json); "
        "`bench tsc`: accuracy on UEA/UCR time-series classification sets",
    )
    b.add_argument(
        "suite", nargs="?", choices=("speed", "tsc"), default="speed",
        help="speed (default): layer throughput; tsc: accuracy table of rnnlab's classifiers and 1-NN DTW",
    )  # fmt: skip
    b.add_argument("--quick", action="store_true", help="a subset in under 2 minutes")
    b.add_argument("--json", help="write the rows to this JSON file")
    b.add_argument("--sets", help="tsc: comma-separated sets (built-in names or PREFIX of PREFIX_TRAIN.ts)")
    b.add_argument(
        "--models", help="tsc: comma-separated models (lstm,cnn_lstm,lstm_fcn,1nn_ed,1nn_dtw,minirocket)"
    )
    b.add_argument("--seeds", type=int, default=1, help="tsc: seeds 0..N-1 per neural model (default 1)")
    b.add_argument(
        "--max-time", type=float, help="tsc: minutes of training per neural model and seed at most"
    )
    b.add_argument("--epochs", type=int, help="tsc: epochs per neural model (default: sized to the set)")
    b.add_argument("--md", help="tsc: write the Markdown table to this file")
    b.add_argument("--out", help="tsc: directory for the neural runs (default runs/bench-tsc)")
    b.add_argument("--device", choices=("cpu", "cuda"), help="default: cuda when present, else cpu")
    b.add_argument(
        "--only", help="only rows whose name starts with this, e.g. mingru, lstm-train or gru-step"
    )
    b.add_argument(
        "--stream-steps", type=int, help="steps timed per streaming row (default 10000, quick 2000)"
    )
    ex = sub.add_parser(
        "export", help="write RUN_DIR/export/: ONNX graphs (state in, state out) and manifest.json"
    )
    ex.add_argument("run")
    ex.add_argument("--format", default="onnx", help="onnx (the only format so far)")
    ex.add_argument("--out", help="directory for the files (default RUN_DIR/export)")
    se = sub.add_parser(
        "serve", help="an HTTP server for a trained run (predict, generate, streaming sessions)"
    )
    se.add_argument("run")
    se.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)"
    )
    se.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    se.add_argument(
        "--max-sessions", type=int, default=64, help="live streaming sessions at most (default 64)"
    )
    se.add_argument(
        "--demo",
        help="an .npz (x (n, F) [, labels (n,)]) the live page at / plays (default: the run's own data; "
        "a HAR run plays a held-out subject's raw recording)",
    )
    return p
