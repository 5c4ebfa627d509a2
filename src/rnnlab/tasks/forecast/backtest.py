"""Rolling-origin backtest of a finished forecasting run: every origin of the test span (every `step` rows), the
model's forecast from the `lookback` rows before it, exactly as `rnnlab forecast --origin` would give, and the
run's baselines on the same origins; all windows are cut by array indexing and run in large batches.

Monte-Carlo-dropout intervals match the single-forecast path too (`mc_shared.py`).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rnnlab.config import Recipe, recipe_from_dict
from rnnlab.data.forecastdata import load_series
from rnnlab.data.windows import CALENDAR, Series, Standardiser, Windows, fill_missing
from rnnlab.errors import ConfigError, DataError
from rnnlab.metrics.forecast import forecast_errors, interval_coverage, seasonal_scale
from rnnlab.tasks.forecast.evaluate import (
    INTERVAL,
    baselines_on,
    interval_half_width,
    predict_windows,
    window_spread,
)
from rnnlab.tasks.forecast.mc_shared import mc_variance
from rnnlab.tasks.forecast.predict import _results, _series_for_run
from rnnlab.train.rundir import RunFiles, open_run, write_json

BATCH = 1024


@dataclass
class Backtest:
    """Forecasts in data units at every origin: y, point (N, horizon), lower/upper or None, baselines."""

    origin_time: pd.DatetimeIndex
    y: np.ndarray
    point: np.ndarray
    lower: np.ndarray | None
    upper: np.ndarray | None
    baselines: dict[str, np.ndarray]
    summary: dict
    target: str


def csv_series(data: dict, recipe: Recipe, path: str | Path, time_col: str | None) -> Series:
    """A CSV read with the run's roles for its columns (built-in runs too), in the run's column order; calendar
    features come from its time column (`time_col`, else the recipe's)."""
    target, fut = data["target"], data["future"]
    measured = [c for c in fut if c not in CALENDAR]
    covs = [c for c in data["columns"] if c != target and c not in fut]
    time_col = time_col or recipe.data.time_col
    s = load_series("series", str(path), target, time_col, covs, measured, recipe.data.fill)
    missing = [c for c in data["columns"] if c not in s.names]
    if missing:
        hint = (
            " (calendar features: name the CSV's time column with --time COL)"
            if set(missing) & set(CALENDAR)
            else ""
        )
        raise DataError(
            f"{Path(path).name} lacks the run's column(s) {missing}{hint}; the run reads {data['columns']}"
        )
    idx = [s.names.index(c) for c in data["columns"]]
    return Series(s.values[:, idx], list(data["columns"]), s.time, list(fut), s.season)


def open_forecast_run(run_dir: str | Path) -> RunFiles:
    """The run, or a one-line error when it is not a forecasting run."""
    run = open_run(run_dir)
    if run.data.get("task") != "forecast":
        raise ConfigError(
            f"{run_dir} is not a forecasting run (task {run.data.get('task')!r}); `rnnlab backtest` needs one "
            "trained with a forecast recipe"
        )
    return run


def _first_after(time: pd.DatetimeIndex, when: str | None, default: int) -> int:
    """The first row strictly after `when` (a part's last forecast time in data.json), else `default`."""
    return default if when is None else int(time.searchsorted(pd.Timestamp(when), side="right"))


def origins_of(time: pd.DatetimeIndex, data: dict, step: int) -> np.ndarray:
    """Row indices of the forecast origins: from the start of the test span (the first row after the run's
    validation part) to the last with a whole horizon after it, every `step` rows, each with its lookback."""
    if step < 1:
        raise ConfigError(f"--step must be >= 1 (rows between origins), got {step}")
    lookback, h = int(data["lookback"]), int(data["horizon"])
    last_val = data.get("parts", {}).get("val", {}).get("last_forecast")
    start = max(_first_after(time, last_val, 0), lookback)
    if len(time) - start < h:
        after = f"after the run's validation part (ends {last_val}) " if last_val else ""
        raise DataError(
            f"the test span {after}has {max(len(time) - start, 0)} rows with {lookback} rows of history "
            f"before them, fewer than one horizon ({h}); the series ends {time[-1]}: give a CSV (with its "
            "time column) that reaches further"
        )
    return np.arange(start, len(time) - h + 1, step)


def cut_windows(
    scaled: np.ndarray, origins: np.ndarray, lookback: int, horizon: int, fut: list[int]
) -> Windows:
    """All origins' windows at once: strided views of the scaled series, gathered by origin (float32)."""
    past = np.lib.stride_tricks.sliding_window_view(scaled, lookback, axis=0)  # (T-L+1, F, L), no copy
    ahead = np.lib.stride_tricks.sliding_window_view(scaled, horizon, axis=0)  # (T-H+1, F, H)
    x = past[origins - lookback].transpose(0, 2, 1).astype(np.float32)
    xf = ahead[origins][:, fut].transpose(0, 2, 1).astype(np.float32)
    y = ahead[origins][:, 0].astype(np.float32)
    return Windows(x, xf, y, origins)


def run_baselines(
    values: np.ndarray, scaled: np.ndarray, w: Windows, data: dict, fut: list[int], train_end: int
) -> dict[str, np.ndarray]:
    """The run's baselines (evaluate.baselines_on, as `rnnlab train` scores them) on the backtest windows; the
    linear ones fit on every window whose forecast lies in the training rows [0, train_end)."""
    lookback, h = int(data["lookback"]), int(data["horizon"])
    mean, std = float(data["scaler"]["mean"][0]), float(data["scaler"]["std"][0])
    unscale = lambda v: v * std + mean  # noqa: E731  (the target column back to data units)
    tr_origins = np.arange(lookback, train_end - h + 1)
    train = None
    if len(tr_origins) > lookback + 1:  # enough windows to fit a lookback-sized least-squares map
        tr = cut_windows(scaled, tr_origins, lookback, h, fut)
        train = (unscale(tr.x[:, :, 0]), unscale(tr.y), tr.xf)
    season = int(data.get("naive_season") or data.get("season") or 1)
    return baselines_on(
        unscale(w.x[:, :, 0]), w.origin, values[:, 0], h, season, train, w.xf, bool(data.get("target_is_change"))
    )


def backtest_run(
    run_dir: str | Path, csv_path: str | Path | None = None, step: int = 1, time_col: str | None = None
) -> Backtest:
    """Rolling-origin evaluation of the run over its test span (or the same span of a newer CSV, its time
    column `time_col` or the recipe's)."""
    if step < 1:
        raise ConfigError(f"--step must be >= 1 (rows between origins), got {step}")
    run = open_forecast_run(run_dir)
    data, model = run.data, run.model
    recipe = recipe_from_dict(run.recipe)
    s = (
        _series_for_run(data, recipe, None)
        if csv_path is None
        else csv_series(data, recipe, csv_path, time_col)
    )
    values = fill_missing(s.values, s.names, recipe.data.fill)
    lookback, h = int(data["lookback"]), int(data["horizon"])
    origins = origins_of(s.time, data, step)
    scaler = Standardiser(np.array(data["scaler"]["mean"]), np.array(data["scaler"]["std"]))
    scaled = scaler.transform(values)
    fut = [s.names.index(c) for c in data["future"]]
    w = cut_windows(scaled, origins, lookback, h, fut)
    model.eval()
    point = scaler.inverse(predict_windows(model, w, False, BATCH), 0)
    y = values[origins[:, None] + np.arange(h)[None, :], 0]
    res = _results(run.path)
    lower = upper = None
    exact = True
    if "interval_half_width" in res:  # split-conformal on the validation windows, as `rnnlab forecast`
        half = np.asarray(res["interval_half_width"], dtype=float)[None, :h]
        if res.get("interval_relative_to"):  # residuals in units of each window's spread
            history = values[origins[:, None] - lookback + np.arange(lookback)[None, :], 0]
            half = half * window_spread(history)[:, None]
        lower, upper = point - half, point + half
    elif "interval_noise_sd" in res:  # a run from before conformal intervals: MC dropout + noise
        mc_var, exact = mc_variance(model, w, scaler, recipe.model.mc_samples, BATCH)
        noise_sd = np.asarray(res["interval_noise_sd"], dtype=float)
        half = interval_half_width(mc_var, noise_sd**2)
        lower, upper = point - half, point + half
    train_end = _first_after(s.time, data.get("parts", {}).get("train", {}).get("last_forecast"), 0)
    baselines = run_baselines(values, scaled, w, data, fut, train_end)
    scale = res.get("mase_scale")
    if scale is None:
        scale = seasonal_scale(values[:train_end, 0], int(data.get("season") or 1))
    summary = summarise(y, point, lower, upper, baselines, float(scale))
    summary.update(
        origins=len(origins),
        step=step,
        first_origin=str(s.time[origins[0]]),
        last_origin=str(s.time[origins[-1]]),
        horizon=h,
        lookback=lookback,
        measured_future=[c for c in data["future"] if c not in CALENDAR],
        interval_exact=exact,
    )
    return Backtest(s.time[origins], y, point, lower, upper, baselines, summary, data["target"])


def summarise(
    y: np.ndarray,
    point: np.ndarray,
    lower: np.ndarray | None,
    upper: np.ndarray | None,
    baselines: dict[str, np.ndarray],
    scale: float,
) -> dict:
    """MAE, RMSE, sMAPE, MASE overall and per horizon step for the model and each baseline; coverage."""
    errors = {"model": forecast_errors(y, point, scale)}
    errors.update({name: forecast_errors(y, p, scale) for name, p in baselines.items()})
    out: dict = {"errors": errors, "mase_scale": scale}
    if lower is not None:
        out["interval"] = INTERVAL
        out["interval_coverage"] = interval_coverage(y, lower, upper)
        out["coverage_by_horizon"] = [
            round(interval_coverage(y[:, k], lower[:, k], upper[:, k]), 4) for k in range(y.shape[1])
        ]
    return out


def write_backtest(out: Path, bt: Backtest) -> tuple[Path, Path]:
    """backtest.csv (one row per origin x step) and backtest.json (the summary) in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    names = list(bt.baselines)
    bands = ["lower", "upper"] if bt.lower is not None else []
    with (out / "backtest.csv").open("w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(["origin", "step", "actual", "forecast", *bands, *names])
        for i, t in enumerate(bt.origin_time):
            for k in range(bt.y.shape[1]):
                band = [bt.lower[i, k], bt.upper[i, k]] if bands else []
                row = [bt.y[i, k], bt.point[i, k], *band, *(bt.baselines[n][i, k] for n in names)]
                wr.writerow([str(t), k + 1, *(f"{v:.6g}" for v in row)])
    write_json(out / "backtest.json", {"target": bt.target, **bt.summary})
    return out / "backtest.csv", out / "backtest.json"


def origin_mae(bt: Backtest) -> dict[str, np.ndarray]:
    """Each origin's MAE over its horizon, for the model and each baseline (the error-over-time panel)."""
    out = {"model": np.abs(bt.point - bt.y).mean(1)}
    out.update({n: np.abs(p - bt.y).mean(1) for n, p in bt.baselines.items()})
    return out


def table(summary: dict) -> list[str]:
    """The compact stdout table: overall errors per forecaster, then MAE per horizon step (at most 8 shown)."""
    h, e = summary["horizon"], summary["errors"]
    lines = [
        f"backtest: {summary['origins']} origins every {summary['step']} row(s), {summary['first_origin']} .. "
        f"{summary['last_origin']}, horizon {h}",
        f"  {'':>14s} {'MAE':>9s} {'RMSE':>9s} {'MASE':>7s}",
    ]
    lines += [f"  {n:>14s} {m['mae']:9.4g} {m['rmse']:9.4g} {m['mase']:7.3f}" for n, m in e.items()]
    shown = sorted(set(np.linspace(0, h - 1, min(h, 8)).round().astype(int).tolist()))
    lines.append(f"  {'MAE at step':>14s} " + " ".join(f"{k + 1:>8d}" for k in shown))
    for n, m in e.items():
        lines.append(f"  {n:>14s} " + " ".join(f"{m['by_horizon']['mae'][k]:8.4g}" for k in shown))
    if "interval_coverage" in summary:
        lines.append(f"  {summary['interval']:.0%} interval covers {summary['interval_coverage']:.1%}")
    return lines
