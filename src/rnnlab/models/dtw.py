"""Dynamic time warping and the 1-nearest-neighbour classifiers of the time-series-classification bake-offs.

`dtw_distances` is dependent multivariate DTW (DTW_D, Shokoohi-Yekta et al. 2017: one warping path for all
channels, the cost of a cell is the squared Euclidean distance between the two time steps' channel vectors)
with a Sakoe-Chiba band: |i - j| <= r, r = floor(window x the longer length), widened to the length
difference so that series of different lengths always have a path. window=None is unconstrained DTW;
window=0 on equal lengths is the squared Euclidean distance. Distances are returned squared (no root: 1-NN only
compares them). The dynamic programme runs row by row in numpy, vectorised over every (query, reference) pair
of a chunk at once, so its Python loop has len x band iterations, not pairs x len x band.
"""

from __future__ import annotations

import math

import numpy as np

from rnnlab.errors import DataError

CELLS_PER_CHUNK = 1 << 22  # pairs x (reference length + 1) held per DP row (32 MiB of float64)


def _band(window: float | None, la: np.ndarray, lb: np.ndarray) -> np.ndarray:
    """Per-pair band half-width r (la (P,), lb (P,) lengths)."""
    longer = np.maximum(la, lb)
    if window is None:
        return longer.astype(np.int64)
    if window < 0:
        raise DataError(f"the DTW window must be >= 0 (a fraction of the length) or None, got {window}")
    r = np.floor(window * longer + 1e-9).astype(np.int64)
    return np.maximum(r, np.abs(la - lb))


def _dtw_chunk(a, la, b, lb, window) -> np.ndarray:
    """Squared DTW of every (query, reference) pair: a (Q, Ta, C), b (R, Tb, C), lengths la (Q,), lb (R,)."""
    q, ta, _ = a.shape
    nr, tb = b.shape[0], b.shape[1]
    r = _band(window, la[:, None], lb[None, :])  # (Q, R)
    big = int(r.max())
    prev = np.full((q, nr, tb + 1), np.inf)
    prev[:, :, 0] = 0.0
    out = np.full((q, nr), np.inf)
    cols = np.arange(nr)
    for i in range(ta):
        cur = np.full((q, nr, tb + 1), np.inf)
        ai = a[:, None, i, :]  # (Q, 1, C)
        for j in range(max(0, i - big), min(tb, i + big + 1)):
            cost = ((ai - b[None, :, j, :]) ** 2).sum(-1)  # (Q, R)
            if j - i > 0 or i - j > 0:
                cost[np.abs(i - j) > r] = np.inf  # outside this pair's band
            best = np.minimum(np.minimum(prev[:, :, j], prev[:, :, j + 1]), cur[:, :, j])
            cur[:, :, j + 1] = cost + best
        done = np.flatnonzero(la == i + 1)
        if len(done):
            out[done] = cur[done][:, cols, lb]
        prev = cur
    return out


def dtw_distances(
    a: np.ndarray,
    b: np.ndarray,
    a_lengths: np.ndarray | None = None,
    b_lengths: np.ndarray | None = None,
    window: float | None = 0.1,
) -> np.ndarray:
    """(Na, Nb) squared dependent-DTW distances between padded series a (Na, Ta, C) and b (Nb, Tb, C)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim == 2:
        a = a[..., None]
    if b.ndim == 2:
        b = b[..., None]
    if a.ndim != 3 or b.ndim != 3 or a.shape[2] != b.shape[2]:
        raise DataError(f"DTW needs (N, T, C) arrays with the same C, got {a.shape} and {b.shape}")
    na, nb = len(a), len(b)
    la = np.full(na, a.shape[1]) if a_lengths is None else np.asarray(a_lengths, dtype=np.int64)
    lb = np.full(nb, b.shape[1]) if b_lengths is None else np.asarray(b_lengths, dtype=np.int64)
    if (la < 1).any() or (lb < 1).any() or la.max() > a.shape[1] or lb.max() > b.shape[1]:
        raise DataError("DTW lengths must be in 1..T")
    tb = int(lb.max())
    b = b[:, :tb]
    out = np.empty((na, nb))
    rows = max(1, CELLS_PER_CHUNK // (nb * (tb + 1)))
    for s in range(0, na, rows):
        e = min(na, s + rows)
        ta = int(la[s:e].max())
        out[s:e] = _dtw_chunk(a[s:e, :ta], la[s:e], b, lb, window)
    return out


def nn1_predict(
    train_x, train_lengths, train_y, test_x, test_lengths, window: float | None = 0.1
) -> np.ndarray:
    """1-NN labels under DTW (ties: the first training series)."""
    d = dtw_distances(test_x, train_x, test_lengths, train_lengths, window)
    return np.asarray(train_y)[d.argmin(1)]


def window_cells(window: float | None, length: int) -> int:
    """The band half-width for two series of `length` steps (for reports)."""
    return length if window is None else int(math.floor(window * length + 1e-9))


__all__ = ["dtw_distances", "nn1_predict", "window_cells"]
