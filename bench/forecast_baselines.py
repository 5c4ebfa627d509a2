"""Baselines on the electricity test windows (the numbers a forecaster must beat).

Usage: python bench/forecast_baselines.py
Half-hourly: lookback 336 (one week) -> next 48 half-hours; daily: lookback 33 days -> next day. Chronological
70/10/20 split; windows never straddle a split; MASE is scaled by the seasonal-naive error on the training
part (season 48 half-hours / 7 days).
"""

from __future__ import annotations

from rnnlab.data.electricity import load_electricity
from rnnlab.data.windows import chronological_windows
from rnnlab.models.forecast_baselines import LinearAR, last_value, seasonal_naive
from rnnlab.train.forecast_metrics import forecast_errors, seasonal_scale

SETUPS = {"half-hourly": (336, 48, 336), "daily": (33, 1, 7)}  # lookback, horizon, seasonal-naive period


def main() -> None:
    print("| setup | baseline | MAE | RMSE | sMAPE % | MASE |")
    print("|---|---|---|---|---|---|")
    for kind, (lookback, horizon, period) in SETUPS.items():
        s = load_electricity(kind)
        parts, scaler = chronological_windows(s.values, s.names, "demand", lookback, horizon, s.future)
        hist = {k: scaler.inverse(p.x[:, :, 0], 0) for k, p in parts.items()}
        fut = {k: scaler.inverse(p.y, 0) for k, p in parts.items()}
        train_rows = s.values[: int(round(len(s.values) * 0.7)), 0]
        scale = seasonal_scale(train_rows, s.season)
        preds = {
            "last value": last_value(hist["test"], horizon),
            f"seasonal naive ({period} steps back)": seasonal_naive(hist["test"], horizon, period),
            "linear AR": LinearAR().fit(hist["train"], fut["train"]).predict(hist["test"]),
        }
        for name, p in preds.items():
            m = forecast_errors(fut["test"], p, scale)
            print(
                f"| {kind} | {name} | {m['mae']:.4f} | {m['rmse']:.4f} | {m['smape']:.2f} | {m['mase']:.3f} |"
            )


if __name__ == "__main__":
    main()
