"""A panel run's picture (panel.png): small multiples of the test forecasts, history, the model's median and
80% band against the truth and seasonal naive, for the series where the model did worst and best."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from rnnlab.inspect.figures import plt

PANELS = 9  # series drawn: the worst 3, best 3 and 3 around the median by the model's error


def pick(examples: list[dict], k: int = PANELS) -> list[dict]:
    """The k series to draw: worst, median and best by the model's mean absolute error over its level."""
    if len(examples) <= k:
        return examples
    err = [
        np.mean(np.abs(np.subtract(e["median"], e["actual"]))) / (np.mean(np.abs(e["actual"])) or 1.0)
        for e in examples
    ]
    order = list(np.argsort(err))
    third = k // 3
    mid = len(order) // 2
    chosen = (
        order[-third:][::-1] + order[mid - third // 2 : mid - third // 2 + third] + order[: k - 2 * third]
    )
    return [examples[i] for i in dict.fromkeys(chosen)]


def panel_figure(examples: list[dict], target: str = "value") -> Figure:
    """One small plot per chosen series: history, the truth over the horizon, the model's median and 80% band,
    and the seasonal-naive forecast."""
    shown = pick(examples)
    cols = 3
    rows = int(np.ceil(len(shown) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(11, 2.6 * rows), squeeze=False)
    for ax, e in zip(axes.flat, shown, strict=False):
        th, tf = pd.to_datetime(e["history_time"]), pd.to_datetime(e["time"])
        ax.plot(th, e["history"], color="0.35", lw=1)
        ax.plot(tf, e["actual"], color="black", lw=1.4, marker=".", label="actual")
        ax.fill_between(tf, e["q10"], e["q90"], color="tab:blue", alpha=0.25, label="model 80%")
        ax.plot(tf, e["median"], color="tab:blue", lw=1.8, label="model median")
        ax.plot(tf, e["baseline"], color="tab:orange", ls="--", lw=1.1, label=e["baseline_name"])
        ax.set_title(e["id"], fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(shown) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7, loc="best")
    fig.suptitle(f"{target}: test forecasts of the worst, median and best series (of {len(examples)})")
    fig.tight_layout()
    return fig
