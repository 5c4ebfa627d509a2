"""Shared fixtures: real HAR windows cut from the committed slice of the UCI HAPT recordings (no network)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from rnnlab.data.har import CLASSES, FEATURES, recording_windows
from rnnlab.data.sequences import SequenceSet

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def _one_thread():
    """Small tensors run fastest on one thread, and tests must not fight a training run for cores."""
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def har_small() -> SequenceSet:
    """118 real 128x9 HAR windows from two subjects (all six activities), processed by the real pipeline."""
    z = np.load(FIXTURES / "hapt_small.npz")
    xs, ys, groups = [], [], []
    for k in (0, 1):
        x, y = recording_windows(z[f"acc_{k}"], z[f"gyro_{k}"], z[f"label_{k}"])
        xs.append(x)
        ys.append(y)
        groups.append(np.full(len(y), int(z[f"subject_{k}"])))
    x = np.concatenate(xs)
    return SequenceSet(
        x=x,
        lengths=np.full(len(x), x.shape[1]),
        y=np.concatenate(ys),
        classes=list(CLASSES),
        features=list(FEATURES),
        groups=np.concatenate(groups),
        ids=[f"w{i:03d}" for i in range(len(x))],
    )
