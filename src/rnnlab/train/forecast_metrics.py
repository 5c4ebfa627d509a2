"""Forecast errors per horizon step and overall: MAE, RMSE, sMAPE (%), MASE (scaled by in-sample seasonal naive)."""

from __future__ import annotations

import numpy as np


def seasonal_scale(train_series: np.ndarray, season: int) -> float:
    """Mean absolute error of the seasonal-naive forecast on the training series: MASE's denominator."""
    if len(train_series) <= season:
        return float("nan")
    return float(np.mean(np.abs(train_series[season:] - train_series[:-season])))


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
