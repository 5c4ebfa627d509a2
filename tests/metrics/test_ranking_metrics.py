"""AUROC, average precision and bootstrap intervals against hand-computed cases and brute-force definitions."""

from __future__ import annotations

import numpy as np
import pytest

from rnnlab.errors import DataError
from rnnlab.metrics.ranking import auprc, auroc, bootstrap_ci


def _pairwise_auroc(y, s):
    """The definition: over all (positive, negative) pairs, 1 if the positive scores higher, 0.5 on a tie."""
    pos, neg = s[y == 1], s[y == 0]
    d = pos[:, None] - neg[None, :]
    return float(((d > 0) + 0.5 * (d == 0)).mean())


def _threshold_ap(y, s):
    """The definition: for each distinct threshold t (high to low), precision and recall of score >= t."""
    ap, prev_r = 0.0, 0.0
    for t in sorted(set(s.tolist()), reverse=True):
        pred = s >= t
        p, r = (y[pred] == 1).mean(), (y[pred] == 1).sum() / (y == 1).sum()
        ap += (r - prev_r) * p
        prev_r = r
    return ap


def test_perfect_and_reversed():
    y = np.array([0, 0, 1, 1])
    s = np.array([0.1, 0.2, 0.8, 0.9])
    assert auroc(y, s) == 1.0 and auprc(y, s) == 1.0
    assert auroc(y, -s) == 0.0
    # reversed: ranked 0,0,1,1 -> positives found at ranks 3 and 4: AP = 0.5 * 1/3 + 0.5 * 2/4 = 5/12
    assert auprc(y, -s) == pytest.approx(5 / 12)


def test_sklearn_docs_example_by_hand():
    # sklearn's docstring example (AP 0.83, AUROC 0.75). Ranked high to low: 0.8 (pos), 0.4 (neg),
    # 0.35 (pos), 0.1 (neg): P@1 = 1 at R = 1/2, P@3 = 2/3 at R = 1 -> AP = 1/2 + 1/2 * 2/3 = 5/6.
    # Pairs: 0.8 beats both negatives, 0.35 beats 0.1 but not 0.4 -> 3 of 4.
    y = np.array([0, 0, 1, 1])
    s = np.array([0.1, 0.4, 0.35, 0.8])
    assert auprc(y, s) == pytest.approx(5 / 6)
    assert auroc(y, s) == pytest.approx(0.75)


def test_ties_across_classes():
    # positives 0.5, 0.5, 0.9; negatives 0.2, 0.5, 0.1
    y = np.array([0, 1, 1, 0, 1, 0])
    s = np.array([0.2, 0.5, 0.5, 0.5, 0.9, 0.1])
    # AUROC: 0.9 beats 3 (3); each 0.5 beats 0.2 and 0.1 and ties 0.5 (2.5 each) -> 8 / 9
    assert auroc(y, s) == pytest.approx(8 / 9)
    # AP: t=0.9: P 1, R 1/3; t=0.5 (three tied enter together): P 3/4, R 1 -> 1/3 + 2/3 * 3/4 = 5/6
    assert auprc(y, s) == pytest.approx(5 / 6)


def test_all_scores_tied():
    y = np.array([1, 0, 0, 1, 0])
    s = np.full(5, 0.3)
    assert auroc(y, s) == 0.5
    assert auprc(y, s) == pytest.approx(2 / 5)  # one threshold: precision = prevalence


def test_matches_brute_force_definitions_on_random_data_with_ties():
    rng = np.random.default_rng(3)
    for _ in range(20):
        n = int(rng.integers(5, 60))
        y = rng.integers(0, 2, n)
        y[:2] = [0, 1]
        s = rng.integers(0, 6, n) / 5.0  # few distinct values: many ties
        assert auroc(y, s) == pytest.approx(_pairwise_auroc(y, s))
        assert auprc(y, s) == pytest.approx(_threshold_ap(y, s))


def test_bool_labels_and_bad_inputs():
    assert auroc(np.array([False, True]), np.array([0.0, 1.0])) == 1.0
    with pytest.raises(DataError, match="both classes"):
        auroc(np.ones(3), np.arange(3.0))
    with pytest.raises(DataError, match="at least one positive"):
        auprc(np.zeros(3), np.arange(3.0))
    with pytest.raises(DataError, match="y in"):
        auroc(np.array([0, 2]), np.arange(2.0))
    with pytest.raises(DataError, match="NaN/inf score at index 1"):
        auroc(np.array([0, 1]), np.array([0.0, np.nan]))
    with pytest.raises(DataError, match="one length"):
        auprc(np.array([0, 1]), np.arange(3.0))


def test_bootstrap_is_deterministic_and_brackets_the_point():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 80)
    s = y + rng.normal(0, 1.0, 80)
    point, low, high = bootstrap_ci(y, s, auroc, n=300, seed=1)
    assert point == auroc(y, s)
    assert 0 <= low < point < high <= 1
    assert bootstrap_ci(y, s, "auroc", n=300, seed=1) == (point, low, high)
    assert bootstrap_ci(y, s, auroc, n=300, seed=2) != (point, low, high)
    p2, l2, h2 = bootstrap_ci(y, s, "auprc", n=300, seed=1, level=0.5)
    assert p2 == auprc(y, s) and l2 < p2 < h2


def test_bootstrap_perfect_separation_and_skipped_one_class_resamples():
    y = np.array([0, 0, 1, 1])
    s = np.array([0.1, 0.2, 0.8, 0.9])
    assert bootstrap_ci(y, s, auroc, n=200) == (1.0, 1.0, 1.0)
    # one positive in three: about 30% of resamples hold one class and are skipped, never passed to metric
    seen = []

    def metric(yb, sb):
        seen.append(int(yb.sum()))
        return auroc(yb, sb)

    bootstrap_ci(np.array([0, 0, 1]), np.array([0.1, 0.5, 0.4]), metric, n=200)
    assert 100 < len(seen) - 1 < 200 and min(seen) >= 1


def test_bootstrap_bad_arguments():
    y, s = np.array([0, 1]), np.array([0.0, 1.0])
    with pytest.raises(DataError, match="unknown ranking metric 'auc'"):
        bootstrap_ci(y, s, "auc")
    with pytest.raises(DataError, match="level must be in"):
        bootstrap_ci(y, s, auroc, level=95)
    with pytest.raises(DataError, match="positive number of resamples"):
        bootstrap_ci(y, s, auroc, n=0)


def test_bootstrap_with_no_two_class_resample_is_an_error():
    with pytest.raises(DataError, match="none of 50 bootstrap resamples"):
        bootstrap_ci(np.ones(4), np.arange(4.0), lambda y, s: 0.0, n=50)
