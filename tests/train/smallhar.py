"""A tiny real data set for training-process tests: 118 HAR windows from the committed HAPT fixture."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rnnlab.data.har import recording_windows

FIXTURES = Path(__file__).parents[1] / "fixtures"


def small_har(step: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """(X (118, 128 / step, 9) float32, y): both fixture recordings' UCI windows, every `step`-th sample, so
    a GRU trains on them in seconds."""
    z = np.load(FIXTURES / "hapt_small.npz")
    xs, ys = [], []
    for k in (0, 1):
        x, y = recording_windows(z[f"acc_{k}"], z[f"gyro_{k}"], z[f"label_{k}"])
        xs.append(x[:, ::step])
        ys.append(y)
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys)
