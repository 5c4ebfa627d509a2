"""Forecast errors per horizon step and overall: MAE, RMSE, sMAPE (%), MASE (scaled by in-sample seasonal naive)."""

from __future__ import annotations

import numpy as np


def seasonal_scale(train_series: np.ndarray, season: int) -> float:
    """Mean absolute error of the seasonal-naive forecast on the training series: MASE's denominator.

    Falls back to lag 1 when the training series is not longer than a season or the seasonal error is 0;
    nan only for fewer than 2 values or a constant series."""
    for lag in dict.fromkeys((max(int(season), 1), 1)):
        if len(train_series) > lag:
            scale = float(np.mean(np.abs(train_series[lag:] - train_series[:-lag])))
            if scale > 0:
                return scale
    return float("nan")


def forecast_errors(y: np.ndarray, pred: np.ndarray, scale: float) -> dict:
    """{'mae', 'rmse', 'smape', 'mase'} overall and 'by_horizon' lists, for y and pred of shape (N, horizon)."""
    err = pred - y
    denom = np.abs(y) + np.abs(pred)
    smape = np.where(denom > 0, 2 * np.abs(err) / np.where(denom > 0, denom, 1), 0.0) * 100

    def summary(axis):
        mae = np.mean(np.abs(err), axis=axis)
        return {
            "mae": mae,
            "rmse": np.sqrt(np.mean(err**2, axis=axis)),
            "smape": np.mean(smape, axis=axis),
            "mase": mae / scale,
        }

    overall = {k: float(v) for k, v in summary(None).items()}
    overall["by_horizon"] = {k: [round(float(x), 6) for x in v] for k, v in summary(0).items()}
    return overall


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (95% by default); (nan, nan) for n = 0."""
    if n == 0:
        return float("nan"), float("nan")
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(centre - half), float(centre + half)


def directional_accuracy(last: np.ndarray, y: np.ndarray, pred: np.ndarray) -> dict:
    """How often the first forecast step moves the same way as the truth from the last observed value.

    Steps where either the truth or the forecast does not move are left out (a tie has no direction).
    Returns accuracy, its 95% Wilson interval, n, and the share of up moves (the trivial always-up rate).
    """
    true_move, pred_move = np.sign(y[:, 0] - last), np.sign(pred[:, 0] - last)
    keep = (true_move != 0) & (pred_move != 0)
    n, hits = int(keep.sum()), int((true_move[keep] == pred_move[keep]).sum())
    lo, hi = wilson_interval(hits, n)
    up = float(np.mean(true_move[true_move != 0] > 0)) if (true_move != 0).any() else float("nan")
    return {"accuracy": hits / n if n else float("nan"), "ci95": [lo, hi], "n": n, "up_share": up}


def interval_coverage(y: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """Share of true values inside [lower, upper]."""
    return float(np.mean((y >= lower) & (y <= upper)))
