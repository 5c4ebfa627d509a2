"""Forecast with a finished run: the series (the run's own or a new CSV with the same columns), the run's
train-only scaler and model, from the end of the series or from a chosen origin.

Known-future covariates: calendar features are computed for timestamps past the end, so a model that needs
only those forecasts beyond the last row. A model that also needs measured covariates ahead (temperature)
forecasts the last `horizon` rows of the series instead (they supply those values), and the actual values
are shown beside the forecast.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from rnnlab.config import recipe_from_dict
from rnnlab.data.forecastdata import select_columns
from rnnlab.data.series_csv import infer_offset
from rnnlab.data.windows import CALENDAR, Series, Standardiser, Windows, calendar_values, fill_missing
from rnnlab.errors import ConfigError, DataError
from rnnlab.models.baselines import seasonal_naive_at
from rnnlab.tasks.forecast.data import load_recipe_series
from rnnlab.tasks.forecast.evaluate import interval_half_width, mc_dropout_var, window_spread
from rnnlab.train.rundir import RunFiles, open_run


@dataclass
class Forecast:
    """Forecast steps with their times, the 80% interval, and the actual values where the series has them."""

    time: pd.DatetimeIndex
    forecast: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    actual: np.ndarray | None
    history_time: pd.DatetimeIndex
    history: np.ndarray
    target: str
    note: str = ""

    def rows(self) -> list[list]:
        return [
            [str(t), f"{f:.6g}", f"{lo:.6g}", f"{hi:.6g}", "" if self.actual is None else f"{a:.6g}"]
            for t, f, lo, hi, a in zip(
                self.time,
                self.forecast,
                self.lower,
                self.upper,
                self.actual if self.actual is not None else [None] * len(self.time),
                strict=True,
            )
        ]


def _next_times(time: pd.DatetimeIndex, n: int) -> pd.DatetimeIndex:
    off = infer_offset(time)
    return pd.DatetimeIndex([time[-1] + off * (k + 1) for k in range(n)])


def _series_for_run(data: dict, recipe, csv: str | Path | None) -> Series:
    cfg = recipe.data
    if csv is not None:
        cfg.name, cfg.path = "series", str(csv)
        cfg.target = data["target"]
    s = select_columns(load_recipe_series(cfg), data["target"], cfg.covariates, cfg.future)
    if s.names != data["columns"]:
        raise DataError(
            f"the series has columns {s.names} but the model was trained on {data['columns']}; give a CSV with "
            "the same columns (and --time column)"
        )
    return s


def forecast_run(
    run_dir: str | Path,
    horizon: int | None = None,
    csv: str | Path | None = None,
    origin: str | None = None,
    fallback: bool = False,
) -> Forecast:
    """Forecast `horizon` steps (at most the trained horizon) with the run's model, or with `fallback` its
    best forecaster on the validation windows (results.json `best_on_validation`); see the module docstring."""
    run = open_run(run_dir)
    data = run.data
    if data.get("task") != "forecast":
        raise ConfigError(f"{run_dir} is not a forecasting run; use `rnnlab predict` for classifiers")
    recipe = recipe_from_dict(run.recipe)
    trained_h, lookback = int(data["horizon"]), int(data["lookback"])
    h = trained_h if horizon is None else int(horizon)
    if not 1 <= h <= trained_h:
        raise ConfigError(
            f"--horizon {h} is outside 1..{trained_h}, the horizon this model was trained for; retrain with "
            f"--horizon {h} for a longer one"
        )
    s = _series_for_run(data, recipe, csv)
    values = fill_missing(s.values, s.names, recipe.data.fill)
    measured_future = [c for c in data["future"] if c not in CALENDAR]
    if origin is not None:
        o = int(s.time.searchsorted(pd.Timestamp(origin)))
        if o >= len(s.time) or s.time[o] != pd.Timestamp(origin):
            raise DataError(f"origin {origin} is not a timestamp of the series ({s.time[0]} .. {s.time[-1]})")
    else:
        o = len(values) - trained_h if measured_future else len(values)
    if o < lookback:
        raise DataError(
            f"forecasting from row {o} needs {lookback} rows of history before it; the series is too short"
        )
    fut_rows = min(trained_h, len(values) - o)
    if fut_rows < trained_h and measured_future:
        raise DataError(
            f"the model needs {measured_future} for the {trained_h} steps ahead; the series has {fut_rows} rows "
            "after the origin - add rows with those values (or choose an earlier --origin)"
        )
    times = s.time[o : o + fut_rows].append(_next_times(s.time[: o + fut_rows], trained_h - fut_rows))
    fut_idx = [s.names.index(c) for c in data["future"]]
    future = np.zeros((trained_h, len(fut_idx)))
    future[:fut_rows] = values[o : o + fut_rows][:, fut_idx]
    for j, c in enumerate(data["future"]):
        if fut_rows < trained_h:  # calendar columns past the end of the series
            future[fut_rows:, j] = calendar_values(times[fut_rows:], c)
    best = _results(run.path).get("fallback", {}) if fallback else {}
    if best.get("name", "model") != "model":
        point, half = fallback_window(run, best, values[:o, 0], future)
        note = f"forecast by {best['name']} (the best on validation), not the model"
    else:
        point, half = forecast_window(run, values[o - lookback : o], future, o)
        note = "the model is the best on validation: it forecasts" if fallback else ""
    actual = values[o : o + h, 0] if fut_rows >= h else None
    return Forecast(
        times[:h],
        point[:h],
        point[:h] - half[:h],
        point[:h] + half[:h],
        actual,
        s.time[o - lookback : o],
        values[o - lookback : o, 0],
        data["target"],
        note,
    )


def forecast_window(
    run: RunFiles, history: np.ndarray, future: np.ndarray, origin: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The point forecast and the half-width of its 80% interval (data units, the trained horizon) for one
    window: `history` (lookback, columns) and `future` (horizon, future columns) in data units, scaled with the
    run's train-only scaler; Monte-Carlo dropout spread plus the test residuals' noise (results.json)."""
    data, model = run.data, run.model
    trained_h = int(data["horizon"])
    scaler = Standardiser(np.array(data["scaler"]["mean"]), np.array(data["scaler"]["std"]))
    fut_idx = [data["columns"].index(c) for c in data["future"]]
    x = torch.from_numpy(scaler.transform(history)).float()[None]
    xf = (future - scaler.mean[fut_idx]) / scaler.std[fut_idx] if fut_idx else np.zeros((trained_h, 0))
    xft = torch.from_numpy(np.asarray(xf)).float()[None]
    model.eval()
    with torch.no_grad():
        point = scaler.inverse(model(x, xft).numpy()[0], 0)
    results = _results(run.path)
    if "interval_half_width" in results:  # split-conformal on the validation windows
        return point, _half_width(results, results["interval_half_width"], history[:, 0])
    noise_sd = np.asarray(results.get("interval_noise_sd", [np.nan] * trained_h), dtype=float)
    window = Windows(x.numpy(), xft.numpy(), np.zeros((1, trained_h), np.float32), np.array([origin]))
    mc_var = mc_dropout_var(model, _Unscale(scaler), window, recipe_from_dict(run.recipe).model.mc_samples)
    return point, interval_half_width(mc_var, noise_sd**2)[0]


def fallback_window(
    run: RunFiles, best: dict, target: np.ndarray, future: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """A baseline's forecast from the target's history `target` (data units, up to the origin) and its
    conformal 80% half-width: last value, zero change, seasonal naive, or a linear map's saved coefficients."""
    data = run.data
    h, lookback, name = int(data["horizon"]), int(data["lookback"]), best["name"]
    if name == "last_value":
        point = np.full(h, target[-1])
    elif name == "zero_change":
        point = np.zeros(h)
    elif name.startswith("seasonal_naive"):
        point = seasonal_naive_at(target, np.array([len(target)]), h, int(best["season"]))[0]
    elif name in ("linear_ar", "linear_arx"):
        x = [target[-lookback:]]
        if name == "linear_arx":
            scaler = Standardiser(np.array(data["scaler"]["mean"]), np.array(data["scaler"]["std"]))
            fut_idx = [data["columns"].index(c) for c in data["future"]]
            x.append(((future - scaler.mean[fut_idx]) / scaler.std[fut_idx]).reshape(-1))
        point = np.concatenate([*x, [1.0]]) @ np.asarray(best["coef"], dtype=float)
    else:
        raise ConfigError(f"this run's fallback {name!r} cannot forecast on its own; use the model")
    return point, _half_width(_results(run.path), best["half_width"], target[-lookback:])


def _half_width(results: dict, half: list[float], history: np.ndarray) -> np.ndarray:
    """The conformal half-width per step in data units (times the window's spread for a 'window' model)."""
    h = np.asarray(half, dtype=float)
    return h * float(window_spread(history[None, :])[0]) if results.get("interval_relative_to") else h


def _results(run: Path) -> dict:
    p = run / "results.json"
    return json.loads(p.read_text()) if p.is_file() else {}


class _Unscale:
    """The one method mc_dropout_var needs from a datamodule: target values back to data units."""

    def __init__(self, scaler: Standardiser) -> None:
        self.scaler = scaler

    def unscale(self, values: np.ndarray) -> np.ndarray:
        return self.scaler.inverse(values, 0)
