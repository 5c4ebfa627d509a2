"""`rnnlab backtest`'s picture: error by horizon step for the model against every baseline, and each origin's
error over time (a rolling mean over about a fiftieth of the span) so drifts and bad spells show."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from rnnlab.inspect.figures import plt

BASELINE_COLOURS = ("tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:gray", "tab:olive")


def _styles(names) -> dict[str, dict]:
    """The model thick and blue; each baseline dashed in its own colour (the same in both panels)."""
    base = iter(BASELINE_COLOURS * 2)
    return {
        n: dict(lw=2.2, color="tab:blue") if n == "model" else dict(lw=1.1, ls="--", color=next(base))
        for n in names
    }


def backtest_figure(
    mae_by_step: dict[str, list[float]],
    origin_time: pd.DatetimeIndex,
    origin_mae: dict[str, np.ndarray],
    target: str,
) -> Figure:
    """Two panels: MAE per horizon step (one line per forecaster) and per-origin MAE over origin time."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6.4))
    style = _styles(mae_by_step)
    for name, maes in mae_by_step.items():
        steps = np.arange(1, len(maes) + 1)
        top.plot(
            steps, maes, marker="o" if len(maes) < 8 else None, label=name.replace("_", " "), **style[name]
        )
    top.set_xlabel("horizon step")
    top.set_ylabel(f"MAE ({target})")
    top.set_title(f"backtest error by horizon ({len(origin_time)} origins)")
    top.grid(alpha=0.3)
    top.legend(fontsize=8)
    window = max(1, len(origin_time) // 50)  # about 50 independent points across the span
    for name, err in origin_mae.items():
        smooth = pd.Series(err).rolling(window, min_periods=1, center=True).mean().to_numpy()
        bottom.plot(origin_time, smooth, label=name.replace("_", " "), **style[name])
    bottom.set_ylabel(f"MAE over the horizon ({target})")
    title = "error by forecast origin" + (f" (rolling mean of {window} origins)" if window > 1 else "")
    bottom.set_title(title)
    bottom.grid(alpha=0.3)
    bottom.tick_params(axis="x", labelrotation=20, labelsize=8)
    fig.tight_layout()
    return fig
