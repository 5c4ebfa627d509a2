"""DTW against a naive O(n^2) dynamic programme (windows, unequal lengths), and 1-NN DTW on real GunPoint rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rnnlab.data.uea import parse_ts, to_set
from rnnlab.models.dtw import dtw_distances, nn1_predict

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "tsc"


def naive_dtw(a: np.ndarray, b: np.ndarray, r: int | None) -> float:
    n, m = len(a), len(b)
    d = np.full((n + 1, m + 1), np.inf)
    d[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            if r is not None and abs(i - j) > r:
                continue
            cost = float(((a[i - 1] - b[j - 1]) ** 2).sum())
            d[i, j] = cost + min(d[i - 1, j - 1], d[i - 1, j], d[i, j - 1])
    return d[n, m]


@pytest.mark.parametrize("window", [None, 0.0, 0.1, 0.3])
def test_matches_the_naive_recursion(window):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4, 10, 3)), rng.normal(size=(3, 12, 3))
    la, lb = np.array([10, 6, 8, 2]), np.array([12, 7, 5])
    got = dtw_distances(a, b, la, lb, window)
    for i in range(4):
        for j in range(3):
            r = None if window is None else max(int(np.floor(window * max(la[i], lb[j]))), abs(la[i] - lb[j]))
            assert got[i, j] == pytest.approx(naive_dtw(a[i, : la[i]], b[j, : lb[j]], r))


def test_window_behaviour():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(5, 20, 2)), rng.normal(size=(5, 20, 2))
    euclid = ((a[:, None] - b[None]) ** 2).sum((2, 3))
    np.testing.assert_allclose(dtw_distances(a, b, window=0.0), euclid)  # no warping: Euclidean
    d = [dtw_distances(a, b, window=w) for w in (0.0, 0.1, 0.25, None)]
    for wide, narrow in zip(d[1:], d[:-1], strict=True):
        assert (wide <= narrow + 1e-9).all()  # a wider band can only find a cheaper path
    shifted = np.roll(a[:1], 2, axis=1)
    shifted[:, :2] = a[:1, :1]
    assert dtw_distances(a[:1], shifted, window=0.1)[0, 0] < dtw_distances(a[:1], shifted, window=0.0)[0, 0]
    assert dtw_distances(a[:2], a[:2], window=0.1).diagonal() == pytest.approx([0, 0])


def test_1nn_dtw_on_real_gunpoint_rows():
    sets = [
        to_set(*parse_ts((FIX / f"GunPointSmall_{s}.ts").read_text()), "GunPoint", s, {})
        for s in ("TRAIN", "TEST")
    ]
    train, test = sets
    pred = nn1_predict(train.x, train.lengths, train.y, test.x, test.lengths, window=0.1)
    assert pred.shape == (16,) and (pred == test.y).mean() >= 0.8  # 14 of 16 with these 12 training series
