"""Forecast pictures: a few test windows (history, truth, forecast, interval, seasonal naive) and error by
horizon step for the model against every baseline."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from rnnlab.inspect.figures import plt


def forecast_examples(examples: dict) -> Figure:
    """One panel per example test window (forecast_examples.json): the last part of its lookback, the truth
    over the horizon, the forecast with its interval band, and the seasonal-naive (or last-value) forecast."""
    windows, target, naive = examples["windows"], examples["target"], examples["naive"]
    fig, axes = plt.subplots(len(windows), 1, figsize=(9, 2.4 * len(windows)), squeeze=False)
    for ax, w in zip(axes[:, 0], windows, strict=True):
        t_hist, t_fut = pd.to_datetime(w["history_time"]), pd.to_datetime(w["time"])
        marker = "." if len(t_fut) < 8 else None
        ax.plot(t_hist, w["history"], color="0.4", lw=1, label="history")
        ax.plot(t_fut, w["actual"], color="black", lw=1.5, marker=marker, label="actual")
        ax.plot(t_fut, w["forecast"], color="tab:blue", lw=1.5, marker=marker, label="forecast")
        ax.fill_between(t_fut, w["lower"], w["upper"], color="tab:blue", alpha=0.2, label="80% interval")
        ax.plot(t_fut, w["naive"], color="tab:orange", lw=1, ls="--", label=naive.replace("_", " "))
        ax.set_ylabel(target)
        ax.grid(alpha=0.3)
        ax.set_title(f"forecast from {w['origin']}", fontsize=9)
        ax.tick_params(axis="x", labelrotation=20, labelsize=8)  # per panel: each window has its own dates
    axes[0, 0].legend(fontsize=8, ncol=5, loc="upper left")
    fig.tight_layout()
    return fig


def error_by_horizon(mae_by_model: dict[str, list[float]], target: str) -> Figure:
    """Test MAE at each horizon step, one line per model/baseline."""
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for name, maes in mae_by_model.items():
        steps = np.arange(1, len(maes) + 1)
        style = dict(lw=2.2, color="tab:blue") if name == "model" else dict(lw=1.2, ls="--")
        ax.plot(steps, maes, marker="o" if len(maes) < 8 else None, label=name.replace("_", " "), **style)
    ax.set_xlabel("horizon step")
    ax.set_ylabel(f"MAE ({target})")
    ax.set_title("test error by horizon")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def single_forecast(fc) -> Figure:
    """`rnnlab forecast`: the lookback, the forecast with its 80% interval, and the actual values if known."""
    fig, ax = plt.subplots(figsize=(9, 3.2))
    ax.plot(fc.history_time, fc.history, color="0.4", lw=1, label="history")
    marker = "." if len(fc.time) < 8 else None
    ax.plot(fc.time, fc.forecast, color="tab:blue", lw=1.5, marker=marker, label="forecast")
    if np.isfinite(fc.lower).all():
        ax.fill_between(fc.time, fc.lower, fc.upper, color="tab:blue", alpha=0.2, label="80% interval")
    if fc.actual is not None:
        ax.plot(fc.time, fc.actual, color="black", lw=1.2, marker=marker, label="actual")
    ax.set_ylabel(fc.target)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig
