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


# --- probabilistic forecasts: split-conformal quantiles, weighted quantile loss, CRPS ---------------------
QUANTILES = tuple(round(0.1 * k, 1) for k in range(1, 10))  # 0.1 .. 0.9: wQL's levels
CRPS_GRID = tuple(round(0.05 * k, 2) for k in range(1, 20))  # 0.05 .. 0.95: CRPS as mean quantile loss


def conformal_half_width(abs_residuals: np.ndarray, level: float) -> np.ndarray:
    """Split-conformal half-width per horizon step: the ceil((n + 1) level)-th smallest of the n calibration
    |residuals| in each column of (n, H) (the finite-sample correction; the largest when that exceeds n)."""
    r = np.sort(np.asarray(abs_residuals, dtype=float), axis=0)
    n = len(r)
    if n == 0:
        return np.full(r.shape[1:], np.nan)
    k = int(np.ceil((n + 1) * level - 1e-9))
    return np.zeros(r.shape[1:]) if k <= 0 else r[min(k, n) - 1]


def conformal_quantiles(
    point: np.ndarray,
    abs_residuals: np.ndarray,
    taus: tuple[float, ...] = QUANTILES,
    scale: np.ndarray | None = None,
) -> dict[float, np.ndarray]:
    """Quantile forecasts {tau: (N, H)} from symmetric conformal intervals: tau < 0.5 is the lower end of the
    central (1 - 2 tau) interval, tau > 0.5 the upper end of the (2 tau - 1) one, 0.5 the point forecast.
    With `scale` (N,), residuals are in units of each window's scale (normalised conformal)."""
    s = np.ones(len(point)) if scale is None else np.asarray(scale, dtype=float)
    return {
        t: point
        + np.sign(t - 0.5) * conformal_half_width(abs_residuals, abs(2 * t - 1))[None, :] * s[:, None]
        for t in taus
    }


def pinball(y: np.ndarray, q: np.ndarray, tau: float) -> np.ndarray:
    """Quantile (pinball) loss of quantile forecast q at level tau, elementwise."""
    d = y - q
    return np.maximum(tau * d, (tau - 1) * d)


def weighted_quantile_loss(y: np.ndarray, quantiles: dict[float, np.ndarray]) -> float:
    """Mean over levels of 2 * sum(pinball) / sum(|y|) (GluonTS' mean wQL); nan when sum(|y|) is 0."""
    denom = float(np.sum(np.abs(y)))
    if denom == 0:
        return float("nan")
    return float(np.mean([2 * np.sum(pinball(y, q, t)) / denom for t, q in quantiles.items()]))


def crps_from_quantiles(y: np.ndarray, quantiles: dict[float, np.ndarray]) -> float:
    """CRPS approximated by the mean over an even grid of levels of 2 * mean pinball loss (data units)."""
    return float(np.mean([2 * np.mean(pinball(y, q, t)) for t, q in quantiles.items()]))
