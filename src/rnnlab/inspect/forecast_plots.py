"""Forecast pictures: a few test windows (history, truth, forecast, interval, seasonal naive) and error by
horizon step for the model against every baseline."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from rnnlab.inspect.figures import plt


def pick_windows(n: int, k: int = 4) -> list[int]:
    """k test windows spread evenly over the test period (first, last and between)."""
    return sorted(set(np.linspace(0, n - 1, min(k, n)).round().astype(int).tolist()))


def forecast_examples(time, origins: np.ndarray, ev, target: str, naive_season: int, k: int = 4) -> Figure:
    """One panel per chosen test window: the last part of its lookback, the truth over the horizon, the
    forecast with its interval band, and the seasonal-naive (or last-value) forecast for comparison."""
    picks = pick_windows(len(origins), k)
    fig, axes = plt.subplots(len(picks), 1, figsize=(9, 2.4 * len(picks)), squeeze=False)
    horizon = ev.y.shape[1]
    show_hist = min(ev.history.shape[1], max(3 * horizon, 2 * naive_season if naive_season > 1 else 0, 20))
    naive_name = "seasonal_naive" if "seasonal_naive" in ev.baselines else "last_value"
    for ax, i in zip(axes[:, 0], picks, strict=True):
        o = int(origins[i])
        t_hist = time[o - show_hist : o]
        t_fut = time[o : o + horizon]
        ax.plot(t_hist, ev.history[i, -show_hist:], color="0.4", lw=1, label="history")
        ax.plot(t_fut, ev.y[i], color="black", lw=1.5, marker="." if horizon < 8 else None, label="actual")
        ax.plot(
            t_fut,
            ev.point[i],
            color="tab:blue",
            lw=1.5,
            marker="." if horizon < 8 else None,
            label="forecast",
        )
        ax.fill_between(t_fut, ev.lower[i], ev.upper[i], color="tab:blue", alpha=0.2, label="80% interval")
        ax.plot(
            t_fut,
            ev.baselines[naive_name][i],
            color="tab:orange",
            lw=1,
            ls="--",
            label=naive_name.replace("_", " "),
        )
        ax.set_ylabel(target)
        ax.grid(alpha=0.3)
        ax.set_title(f"forecast from {time[o]}", fontsize=9)
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
