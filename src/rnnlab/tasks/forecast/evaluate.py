"""Forecast evaluation: test errors against baselines on the same windows, the model and every baseline
compared on the validation windows (`best_on_validation`, the `--fallback`), prediction intervals with
measured coverage, forecasts.csv, and the example windows inspect draws (forecast_examples.json).

Intervals are split-conformal (the 80% interval is the point forecast +- the ceil((n+1) 0.8)-th smallest
|validation residual| at that horizon step); wQL and CRPS come from the same conformal quantiles. The older
Monte-Carlo-dropout interval (Zhu & Laptev 2017: dropout spread plus validation noise variance, Gaussian) is
still measured beside it (`interval_coverage_mc`).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.stats import norm
from torch import nn

from rnnlab.data.forecastdata import FEW_VALIDATION, ForecastDataModule
from rnnlab.data.windows import Windows
from rnnlab.metrics.forecast import (
    CRPS_GRID,
    QUANTILES,
    conformal_half_width,
    conformal_quantiles,
    crps_from_quantiles,
    directional_accuracy,
    forecast_errors,
    interval_coverage,
    seasonal_scale,
    weighted_quantile_loss,
)
from rnnlab.models.baselines import LinearAR, last_value, seasonal_naive, seasonal_naive_at
from rnnlab.models.forecaster import LEVELS
from rnnlab.nn.recurrent import Recurrent
from rnnlab.train.rundir import write_json

INTERVAL = 0.8


@torch.no_grad()
def predict_windows(model: nn.Module, w: Windows, dropout: bool = False, batch: int = 512) -> np.ndarray:
    """Forecasts (N, horizon) in scaled units; dropout=True keeps dropout on (one Monte-Carlo sample)."""
    model.train(dropout)
    out = [
        model(torch.from_numpy(w.x[i : i + batch]), torch.from_numpy(w.xf[i : i + batch]))
        for i in range(0, len(w), batch)
    ]
    model.eval()
    return torch.cat(out).numpy()


def has_dropout(model: nn.Module) -> bool:
    """Whether Monte-Carlo dropout can vary the forecast at all."""
    rnn_drop = any(m.dropout > 0 and m.num_layers > 1 for m in model.modules() if isinstance(m, Recurrent))
    return rnn_drop or any(isinstance(m, nn.Dropout) and m.p > 0 for m in model.modules())


def mc_dropout_var(model: nn.Module, dm, w: Windows, samples: int, seed: int = 0) -> np.ndarray:
    """Per-point variance (data units) of `samples` forecasts with dropout on; zeros without dropout."""
    if samples < 2 or not has_dropout(model):
        return np.zeros((len(w), w.y.shape[1]))
    torch.manual_seed(seed)
    draws = np.stack([dm.unscale(predict_windows(model, w, dropout=True)) for _ in range(samples)])
    return draws.var(0)


def interval_half_width(mc_var: np.ndarray, noise_var: np.ndarray) -> np.ndarray:
    """Half-width of the central INTERVAL Gaussian interval: model spread plus per-step noise variance."""
    return norm.ppf(0.5 + INTERVAL / 2) * np.sqrt(mc_var + noise_var[None, :])


@dataclass
class ForecastEval:
    """Test forecasts in data units: y, point, lower, upper (N, horizon), baselines {name: (N, horizon)}."""

    y: np.ndarray
    point: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    history: np.ndarray
    baselines: dict[str, np.ndarray]
    metrics: dict


def seasonal_name(season: int) -> str:
    """The seasonal-naive baseline's name in results: season 1 says that it is the last value."""
    return "seasonal_naive" if season > 1 else "seasonal_naive (season 1 = last value)"


def baselines_on(
    hist: np.ndarray,
    origin: np.ndarray,
    target: np.ndarray,
    horizon: int,
    season: int,
    train: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
    xf: np.ndarray,
    change: bool = False,
) -> dict[str, np.ndarray]:
    """Every baseline's forecasts (data units) for windows whose target history is `hist` (N, lookback),
    forecast from row `origin` (N,) of the whole target column `target`: last value, zero change (for a
    return series), seasonal naive (always; read from `target` when the season exceeds the lookback) and, given
    `train` = (history, y, xf) of the training windows, linear autoregressions (ARX with the known-future
    covariates `xf`, when there are any). `rnnlab train` and `rnnlab backtest` both score these."""
    out = {"last_value": last_value(hist, horizon)}
    if change:  # a return series: the random walk in prices is a zero change
        out["zero_change"] = np.zeros((len(hist), horizon))
    out[seasonal_name(season)] = (
        seasonal_naive(hist, horizon, season)
        if season <= hist.shape[1]
        else seasonal_naive_at(target, origin, horizon, season)
    )
    if train is None:
        return out
    hist_tr, y_tr, xf_tr = train
    out["linear_ar"] = LinearAR().fit(hist_tr, y_tr).predict(hist)
    if xf.shape[2]:  # the same known-future covariates the model gets: a fair linear rival
        arx = lambda h, f: np.hstack([h, f.reshape(len(f), -1)])  # noqa: E731
        out["linear_arx"] = LinearAR().fit(arx(hist_tr, xf_tr), y_tr).predict(arx(hist, xf))
    return out


def baseline_forecasts(dm: ForecastDataModule, part: str = "test") -> dict[str, np.ndarray]:
    """The baselines (`baselines_on`) on one part's windows, the linear ones fit on the training windows."""
    tr, w = dm.parts["train"], dm.parts[part]
    train = (dm.unscale(tr.x[:, :, 0]), dm.unscale(tr.y), tr.xf)
    return baselines_on(
        dm.unscale(w.x[:, :, 0]), w.origin, dm.target_values(), dm.horizon, dm.naive_season, train, w.xf,
        dm.target_is_change,
    )  # fmt: skip


def baseline_models(dm: ForecastDataModule) -> dict[str, dict]:
    """What `rnnlab forecast RUN --fallback` needs to rerun a baseline: the linear maps' coefficients."""
    tr, y_tr = dm.parts["train"], dm.unscale(dm.parts["train"].y)
    hist = dm.unscale(tr.x[:, :, 0])
    out = {"linear_ar": {"coef": LinearAR().fit(hist, y_tr).coef.tolist()}}
    if tr.xf.shape[2]:
        arx = np.hstack([hist, tr.xf.reshape(len(tr), -1)])
        out["linear_arx"] = {"coef": LinearAR().fit(arx, y_tr).coef.tolist()}
    return out


def window_spread(history: np.ndarray) -> np.ndarray:
    """(N,) standard deviation of each window's target history (data units), floored so a flat window keeps
    a nonzero interval: the unit of normalised-conformal residuals for per-window ('window') models."""
    sd = np.std(history, axis=1)
    return np.maximum(sd, 1e-3 * max(float(np.median(sd)), 1e-12))


def probabilistic(y: np.ndarray, point: np.ndarray, val_abs: np.ndarray, spread: np.ndarray) -> dict:
    """Split-conformal 80% coverage, mean wQL (levels 0.1..0.9) and CRPS of one forecaster's test forecasts,
    calibrated on its validation |residuals| per horizon step (in units of each window's `spread`)."""
    half = conformal_half_width(val_abs, INTERVAL)[None, :] * spread[:, None]
    return {
        "coverage": interval_coverage(y, point - half, point + half),
        "wql": weighted_quantile_loss(y, conformal_quantiles(point, val_abs, QUANTILES, spread)),
        "crps": crps_from_quantiles(y, conformal_quantiles(point, val_abs, CRPS_GRID, spread)),
    }


def fallback_line(best: str, val_mase: dict[str, float]) -> str | None:
    """The summary's warning when a baseline beats the model on the validation windows (None when not)."""
    if best == "model":
        return None
    return (
        f"{best.replace('_', ' ')} beats the model on validation (MASE {val_mase[best]:.3g} vs "
        f"{val_mase['model']:.3g}): `rnnlab forecast RUN --fallback` uses it"
    )


def validation_note(n_windows: int, val_mase: dict[str, float]) -> str | None:
    """The summary's warning when too few validation windows decide between the model and the baselines."""
    if n_windows >= FEW_VALIDATION:
        return None
    runner_up = sorted(val_mase, key=val_mase.get)[:2]
    return (
        f"only {n_windows} validation windows chose {runner_up[0].replace('_', ' ')} over "
        f"{runner_up[1].replace('_', ' ')} (MASE {val_mase[runner_up[0]]:.3g} vs {val_mase[runner_up[1]]:.3g}): "
        "too few to trust; compare them with `rnnlab backtest RUN` or raise data.val_fraction"
    )


def evaluate_forecast(
    model: nn.Module, dm: ForecastDataModule, mc_samples: int = 100, seed: int = 0
) -> ForecastEval:
    """Point forecasts, intervals and errors on the test windows, with every baseline on the same windows;
    every forecaster is also scored on the validation windows (`best_on_validation`) and calibrated there
    (split-conformal intervals per horizon step, wQL and CRPS)."""
    val, test = dm.parts["val"], dm.parts["test"]
    point = dm.unscale(predict_windows(model, test))
    y, yv = dm.unscale(test.y), dm.unscale(val.y)
    val_point = dm.unscale(predict_windows(model, val))
    noise_var = np.mean((val_point - yv) ** 2, axis=0)
    mc_var = mc_dropout_var(model, dm, test, mc_samples, seed)
    mc_half = interval_half_width(mc_var, noise_var)
    # residuals in units of each window's spread: a 'window' model's level moves, and a return's volatility does
    relative = model.config.get("normalize") == "window" or dm.target_is_change
    sv, st = (
        (window_spread(dm.unscale(w.x[:, :, 0])) for w in (val, test))
        if relative
        else (np.ones(len(val)), np.ones(len(test)))
    )
    half = conformal_half_width(np.abs(val_point - yv) / sv[:, None], INTERVAL)
    lower, upper = point - half[None, :] * st[:, None], point + half[None, :] * st[:, None]

    scale = seasonal_scale(dm.train_rows(), dm.season)
    hist = dm.unscale(test.x[:, :, 0])
    baselines = baseline_forecasts(dm)
    val_forecasts = {"model": val_point, **baseline_forecasts(dm, "val")}
    val_mase = {n: forecast_errors(yv, p, scale)["mase"] for n, p in val_forecasts.items()}
    best = min(val_mase, key=lambda n: (val_mase[n], n != "model"))
    last = np.zeros(len(y)) if dm.target_is_change else hist[:, -1]
    test_metrics = {"model": forecast_errors(y, point, scale)}
    direction = {"model": directional_accuracy(last, y, point)}
    for name, p in baselines.items():
        test_metrics[name] = forecast_errors(y, p, scale)
        if name not in ("last_value", "zero_change", seasonal_name(1)):  # a random walk never moves
            direction[name] = directional_accuracy(last, y, p)
    for name, p in {"model": point, **baselines}.items():
        test_metrics[name].update(probabilistic(y, p, np.abs(val_forecasts[name] - yv) / sv[:, None], st))
    best_half = conformal_half_width(np.abs(val_forecasts[best] - yv) / sv[:, None], INTERVAL)
    metrics = {
        "test": test_metrics,
        "validation": {n: {"mase": m} for n, m in val_mase.items()},
        "best_on_validation": best,
        "fallback": {
            "name": best,
            "season": dm.naive_season,
            "half_width": [round(float(v), 6) for v in best_half],
            **baseline_models(dm).get(best, {}),
        },
        "fallback_line": fallback_line(best, val_mase),
        "validation_windows": len(yv),
        "validation_note": validation_note(len(yv), val_mase),
        "season": dm.season,
        "interval_coverage": {str(INTERVAL): interval_coverage(y, lower, upper)},
        "interval_width": {str(INTERVAL): float(np.mean(upper - lower))},
        "interval_half_width": [round(float(v), 6) for v in half],
        "interval_relative_to": "window_sd" if relative else None,
        "interval_noise_sd": [round(float(v), 6) for v in np.sqrt(noise_var)],
        "interval_method": f"split conformal on {len(yv)} validation windows per horizon step"
        + (", residuals in units of each window's sd" if relative else ""),
        "interval_coverage_mc": {
            str(INTERVAL): interval_coverage(y, point - mc_half, point + mc_half),
            "method": f"MC dropout ({mc_samples if mc_var.any() else 0} passes) + validation residual noise",
        },
        "coverage_by_horizon": [
            round(interval_coverage(y[:, k], lower[:, k], upper[:, k]), 4) for k in range(y.shape[1])
        ],
        "directional_accuracy": direction,
        "mase_scale": scale,
        "n_windows": int(len(y)),
    }
    if model.config.get("head", "point") == "quantile":
        qt, qv = (
            np.stack([dm.unscale(v) for v in np.moveaxis(predict_quantiles(model, w), -1, 0)], -1)
            for w in (test, val)
        )
        test_metrics["model"].update(quantile_head_scores(y, qt, yv, qv))
        metrics["interval_coverage_quantile_head"] = test_metrics["model"].pop("head_coverage")
        metrics["interval_coverage_cqr"] = test_metrics["model"].pop("cqr_coverage")
    return ForecastEval(y, point, lower, upper, hist, baselines, metrics)


@torch.no_grad()
def predict_quantiles(model: nn.Module, w: Windows, batch: int = 512) -> np.ndarray:
    """The quantile head's (N, horizon, len(LEVELS)) forecasts in scaled units."""
    model.eval()
    out = [
        model.quantiles(torch.from_numpy(w.x[i : i + batch]), torch.from_numpy(w.xf[i : i + batch]))
        for i in range(0, len(w), batch)
    ]
    return torch.cat(out).numpy()


def quantile_head_scores(y: np.ndarray, q: np.ndarray, yv: np.ndarray, qv: np.ndarray) -> dict:
    """wQL and CRPS of the quantile head's own quantiles (N, H, levels), the coverage of its 80% interval
    (levels 0.1 and 0.9), and that of the same interval conformalised on validation (CQR, Romano et al. 2019:
    widened per horizon step by the ceil((n+1) 0.8)-th smallest max(q_lo - y, y - q_hi))."""
    at = {t: k for k, t in enumerate(LEVELS)}
    lo, hi = at[0.1], at[0.9]
    score = np.maximum(qv[..., lo] - yv, yv - qv[..., hi])
    n = len(score)
    k = min(int(np.ceil((n + 1) * INTERVAL - 1e-9)), n)
    margin = np.sort(score, 0)[k - 1] if n else np.zeros(y.shape[1])
    return {
        "wql": weighted_quantile_loss(y, {t: q[..., at[t]] for t in QUANTILES}),
        "crps": crps_from_quantiles(y, {t: q[..., at[t]] for t in CRPS_GRID}),
        "head_coverage": {str(INTERVAL): interval_coverage(y, q[..., lo], q[..., hi])},
        "cqr_coverage": {str(INTERVAL): interval_coverage(y, q[..., lo] - margin, q[..., hi] + margin)},
    }


def write_forecasts(path: Path, dm: ForecastDataModule, ev: ForecastEval) -> None:
    """forecasts.csv: one row per (test window, horizon step) with truth, forecast, interval and baselines."""
    time = dm.series.time
    origins = dm.parts["test"].origin
    names = list(ev.baselines)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["origin", "step", "time", "actual", "forecast", "lower", "upper", *names])
        for i, o in enumerate(origins):
            for k in range(dm.horizon):
                w.writerow(
                    [
                        str(time[o]),
                        k + 1,
                        str(time[o + k]),
                        *(f"{v:.6g}" for v in (ev.y[i, k], ev.point[i, k], ev.lower[i, k], ev.upper[i, k])),
                        *(f"{ev.baselines[n][i, k]:.6g}" for n in names),
                    ]
                )


def example_windows(n: int, k: int = 4) -> list[int]:
    """k test windows spread evenly over the test period (first, last and between)."""
    return sorted(set(np.linspace(0, n - 1, min(k, n)).round().astype(int).tolist()))


def write_examples(path: Path, dm: ForecastDataModule, ev: ForecastEval, k: int = 4) -> None:
    """forecast_examples.json: k test windows (their recent history, truth, forecast, interval and the
    seasonal-naive or last-value forecast) for inspect to draw as forecast.png."""
    time, origins, horizon = dm.series.time, dm.parts["test"].origin, dm.horizon
    season = dm.naive_season
    show = min(ev.history.shape[1], max(3 * horizon, 2 * season if season > 1 else 0, 20))
    naive = next(n for n in (seasonal_name(season), "last_value") if n in ev.baselines)
    windows = []
    for i in example_windows(len(origins), k):
        o = int(origins[i])
        windows.append(
            {
                "origin": str(time[o]),
                "history_time": [str(t) for t in time[o - show : o]],
                "history": ev.history[i, -show:].tolist(),
                "time": [str(t) for t in time[o : o + horizon]],
                **{key: getattr(ev, attr)[i].tolist() for key, attr in _SERIES},
                "naive": ev.baselines[naive][i].tolist(),
            }
        )
    write_json(path, {"target": dm.target, "naive": naive, "windows": windows})


_SERIES = (("actual", "y"), ("forecast", "point"), ("lower", "lower"), ("upper", "upper"))
