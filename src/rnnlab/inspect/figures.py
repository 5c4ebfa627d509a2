"""Figures for the report: matplotlib (Agg) to PNG, embedded as data URIs so report.html opens offline."""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


def to_data_uri(fig: Figure, dpi: int = 90) -> str:
    """PNG bytes of `fig` as a data: URI; the figure is closed."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def curves(rows: list[dict[str, str]], panels: list[tuple[str, list[str]]]) -> Figure:
    """One panel per (title, metric columns) of metrics.csv rows, epochs on x; missing columns are skipped."""
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.2), squeeze=False)
    epochs = [int(r["epoch"]) + 1 for r in rows]
    for ax, (title, cols) in zip(axes[0], panels, strict=True):
        for c in cols:
            ys = [float(r[c]) if r.get(c) not in (None, "") else np.nan for r in rows]
            if not np.all(np.isnan(ys)):
                ax.plot(epochs, ys, marker="o", ms=3, label=c)
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def confusion(matrix: np.ndarray, classes: list[str], normalise: bool) -> Figure:
    """Confusion matrix heat map (rows = true class), counts or row-normalised recall."""
    m = matrix.astype(float)
    if normalise:
        m = m / np.clip(m.sum(1, keepdims=True), 1, None)
    fig, ax = plt.subplots(figsize=(1.0 + 0.75 * len(classes), 0.8 + 0.7 * len(classes)))
    ax.imshow(m, cmap="Blues", vmin=0, vmax=1 if normalise else None)
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            txt = f"{m[i, j]:.2f}" if normalise else f"{int(m[i, j])}"
            ax.text(
                j,
                i,
                txt,
                ha="center",
                va="center",
                fontsize=8,
                color="white" if m[i, j] > m.max() / 2 else "black",
            )
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(classes)), classes, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("recall (row-normalised)" if normalise else "counts")
    fig.tight_layout()
    return fig


def reliability(conf: np.ndarray, correct: np.ndarray, bins: int, ece: float) -> Figure:
    """Reliability diagram: accuracy per confidence bin against the diagonal, with bin counts."""
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(conf, edges) - 1, 0, bins - 1)
    acc = np.array([correct[idx == b].mean() if (idx == b).any() else np.nan for b in range(bins)])
    cnt = np.bincount(idx, minlength=bins)
    fig, (ax, ax2) = plt.subplots(
        2, 1, figsize=(4.2, 4.6), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    centers = (edges[:-1] + edges[1:]) / 2
    ax.bar(centers, acc, width=1 / bins, edgecolor="k", alpha=0.7, label="accuracy")
    ax.plot([0, 1], [0, 1], "r--", label="perfect calibration")
    ax.set_ylabel("accuracy")
    ax.set_title(f"reliability (ECE {ece:.3f})")
    ax.legend(fontsize=8)
    ax2.bar(centers, cnt, width=1 / bins, color="gray")
    ax2.set_xlabel("confidence (max probability)")
    ax2.set_ylabel("count")
    fig.tight_layout()
    return fig


def signals(examples: list[dict], features: list[str], max_channels: int = 9) -> Figure:
    """Small multiples: each example's channels over time, titled with true/predicted label and confidence."""
    n = len(examples)
    cols = min(3, max(n, 1))
    rows = max(1, -(-n // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 2.4 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, ex in zip(axes.flat, examples, strict=False):
        ax.axis("on")
        x = ex["x"]
        for c in range(min(x.shape[1], max_channels)):
            ax.plot(x[:, c], lw=0.8, label=features[c] if c < len(features) else str(c))
        ax.set_title(f"{ex['id']}: true {ex['label']}, said {ex['pred']} ({ex['conf']:.2f})", fontsize=8)
        ax.tick_params(labelsize=7)
    if examples:
        axes.flat[0].legend(fontsize=6, ncol=3, loc="upper right")
    fig.tight_layout()
    return fig


def heatmap(
    values: np.ndarray, x: np.ndarray | None, title: str, features: list[str] | None = None
) -> Figure:
    """Units x time heat map of activations (values (T, H)) above the input signals (x (T, F))."""
    rows = 2 if x is not None else 1
    fig, axes = plt.subplots(rows, 1, figsize=(9, 2.0 + 1.8 * rows), sharex=True, squeeze=False)
    ax = axes[0, 0]
    im = ax.imshow(values.T, aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
    ax.set_ylabel("unit")
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.02, pad=0.01)
    if x is not None:
        ax2 = axes[1, 0]
        for c in range(x.shape[1]):
            ax2.plot(x[:, c], lw=0.7, label=(features or [])[c] if features and c < len(features) else str(c))
        ax2.set_xlabel("time step")
        ax2.set_ylabel("input (scaled)")
        ax2.legend(fontsize=6, ncol=5, loc="upper right")
    fig.tight_layout()
    return fig
