"""Attention maps: which source positions each output token read (rows: outputs, columns: source).

For captions the image strip is drawn above the map, columns aligned (the CNN pools 4 pixels per column),
so a word attending to its digit shows as a bright block under that digit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from torch import Tensor

from rnnlab.inspect.figures import plt

POOL = 4


def _save(fig, path: Path) -> Path:
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_caption_attention(
    image: np.ndarray, words: list[str], attn: Tensor | np.ndarray, path: Path
) -> Path:
    """The strip (28, W) on top, the (words, columns) attention below on the same horizontal scale."""
    a = np.asarray(attn, dtype=np.float64)[: max(1, len(words))]
    w = image.shape[1]
    cols = -(-w // POOL)
    fig, (top, bottom) = plt.subplots(
        2,
        1,
        figsize=(max(3.0, w / 18), 1.2 + 0.35 * max(1, len(words))),
        height_ratios=[28, 7 * max(1, len(a))],
    )
    top.imshow(image, cmap="gray", aspect="auto", extent=(0, w, 28, 0))
    top.set_axis_off()
    bottom.imshow(
        a[:, :cols], cmap="viridis", aspect="auto", extent=(0, cols * POOL, len(a), 0), vmin=0, vmax=1
    )
    bottom.set_yticks(np.arange(len(a)) + 0.5, (words + ["<eos>"])[: len(a)])
    bottom.set_xlabel("image column (pixels)")
    bottom.set_xlim(0, w)
    fig.suptitle(" ".join(words) or "(empty)", fontsize=9)
    return _save(fig, Path(path))


def plot_text_attention(source: str, output: str, attn: Tensor | np.ndarray, path: Path) -> Path:
    """Output characters (rows) against source characters (columns); the source's EOS is the last column."""
    a = np.asarray(attn, dtype=np.float64)
    src = [*source, "</s>"][: a.shape[1]]
    out = [*output, "</s>"][: a.shape[0]]
    a = a[: len(out), : len(src)]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.16 * len(src)), max(3.0, 0.16 * len(out))))
    ax.imshow(a, cmap="viridis", aspect="auto", vmin=0, vmax=1)
    ax.set_xticks(range(len(src)), [c if c != " " else "_" for c in src], fontsize=6)
    ax.set_yticks(range(len(out)), [c if c != " " else "_" for c in out], fontsize=6)
    ax.set_xlabel("source (First Folio)")
    ax.set_ylabel("output (modern)")
    return _save(fig, Path(path))
