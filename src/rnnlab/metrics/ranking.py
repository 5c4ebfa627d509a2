"""Ranking metrics for a binary outcome, numpy only: AUROC, average precision, subject bootstrap intervals.

Conventions: `y` holds 0/1 (or bool) labels, 1 = the positive class (e.g. death); `score` is any real
number where larger means "more likely positive" (a probability, a logit). One entry per subject.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rnnlab.errors import DataError


def _inputs(y: np.ndarray, score: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    y, score = np.asarray(y), np.asarray(score, dtype=np.float64)
    if y.ndim != 1 or y.shape != score.shape:
        raise DataError(f"{what} needs 1-D y and score of one length, got {y.shape} and {score.shape}")
    if y.dtype != bool and not np.isin(y, (0, 1)).all():
        raise DataError(f"{what} needs y in {{0, 1}}, got values {np.unique(y)[:5].tolist()}")
    if not np.isfinite(score).all():
        raise DataError(f"{what} got a NaN/inf score at index {int(np.flatnonzero(~np.isfinite(score))[0])}")
    return y.astype(bool), score


def _average_ranks(score: np.ndarray) -> np.ndarray:
    """1-based ranks of `score`, tied values sharing the mean of their ranks."""
    _, inv, counts = np.unique(score, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    return (ends - (counts - 1) / 2.0)[inv]


def auroc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve = P(score of a random positive > score of a random negative), ties 0.5.

    Computed as the Mann-Whitney U statistic from average ranks, U / (n_pos * n_neg).
    """
    y, score = _inputs(y, score, "auroc")
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        raise DataError(f"auroc needs both classes, got {n_pos} positives and {n_neg} negatives")
    u = _average_ranks(score)[y].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def auprc(y: np.ndarray, score: np.ndarray) -> float:
    """Average precision, step-wise as sklearn's average_precision_score: sum_k (R_k - R_{k-1}) P_k over
    thresholds at each distinct score, high to low (tied scores enter together; no interpolation)."""
    y, score = _inputs(y, score, "auprc")
    n_pos = int(y.sum())
    if n_pos == 0:
        raise DataError("auprc needs at least one positive; average precision is undefined without one")
    order = np.argsort(-score, kind="mergesort")
    s, hit = score[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # last index of each block of tied scores
    tp = np.cumsum(hit)[last]
    precision = tp / (last + 1)
    recall = tp / n_pos
    return float(np.sum(np.diff(recall, prepend=0.0) * precision))


METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {"auroc": auroc, "auprc": auprc}


def bootstrap_ci(
    y: np.ndarray,
    score: np.ndarray,
    metric: Callable[[np.ndarray, np.ndarray], float] | str,
    n: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float, float]:
    """(point, low, high): `metric` on all subjects, and the percentile interval of `metric` over `n`
    resamples of subjects drawn with replacement (numpy Generator(seed)).

    Resamples holding one class only are skipped (not redrawn), so fewer than `n` may count; if none
    has both classes, a DataError. `metric` is a callable (y, score) -> float or a name in `METRICS`.
    """
    if isinstance(metric, str):
        if metric not in METRICS:
            raise DataError(f"unknown ranking metric {metric!r}; choose one of {', '.join(METRICS)}")
        metric = METRICS[metric]
    if not 0 < level < 1:
        raise DataError(f"level must be in (0, 1), got {level}")
    if n < 1:
        raise DataError(f"n must be a positive number of resamples, got {n}")
    y, score = _inputs(y, score, "bootstrap_ci")
    point = float(metric(y, score))
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n):
        idx = rng.integers(0, len(y), len(y))
        yb = y[idx]
        if yb.all() or not yb.any():
            continue
        values.append(metric(yb, score[idx]))
    if not values:
        raise DataError(f"none of {n} bootstrap resamples had both classes; more subjects are needed")
    alpha = (1 - level) / 2
    low, high = np.quantile(np.asarray(values, dtype=np.float64), [alpha, 1 - alpha])
    return point, float(low), float(high)
