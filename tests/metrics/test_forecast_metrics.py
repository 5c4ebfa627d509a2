"""Forecast metrics by hand: Wilson interval, directional accuracy, interval coverage, errors and MASE."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rnnlab.metrics.forecast import (
    directional_accuracy,
    forecast_errors,
    interval_coverage,
    seasonal_scale,
    wilson_interval,
)


def test_wilson_interval_matches_the_hand_computed_value():
    lo, hi = wilson_interval(50, 100)
    # centre 0.5, half = 1.96 * sqrt(0.25/100 + 1.96^2/40000) / (1 + 1.96^2/100) = 0.09617
    assert lo == pytest.approx(0.40383, abs=1e-4) and hi == pytest.approx(0.59617, abs=1e-4)
    lo, hi = wilson_interval(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)
    # unlike the normal approximation it stays inside [0, 1] at the extremes
    assert wilson_interval(0, 10)[0] == pytest.approx(0.0, abs=1e-12)
    assert wilson_interval(10, 10)[1] == pytest.approx(1.0, abs=1e-12)
    lo90, hi90 = wilson_interval(50, 100, z=1.644854)
    assert 0.4038 < lo90 < 0.5 < hi90 < 0.5962  # a narrower level gives a narrower interval


def test_wilson_interval_of_nothing_is_nan():
    lo, hi = wilson_interval(0, 0)
    assert math.isnan(lo) and math.isnan(hi)


def test_directional_accuracy_leaves_ties_out():
    last = np.zeros(5)
    y = np.array([[1.0, 9], [-1, 9], [1, 9], [0, 9], [2, 9]])  # only the first step counts
    pred = np.array([[2.0, -9], [-3, -9], [-1, -9], [1, -9], [0, -9]])
    d = directional_accuracy(last, y, pred)
    # windows 3 (truth flat) and 4 (forecast flat) are ties; of 0-2, windows 0 and 1 get the direction right
    assert d["n"] == 3 and d["accuracy"] == pytest.approx(2 / 3)
    assert d["ci95"] == pytest.approx(list(wilson_interval(2, 3)))
    assert d["up_share"] == pytest.approx(3 / 4)  # of the 4 real moves, 3 went up (window 3 did not move)


def test_directional_accuracy_with_no_moves_is_nan():
    d = directional_accuracy(np.ones(3), np.ones((3, 2)), np.array([[2.0, 0], [0, 0], [3, 0]]))
    assert d["n"] == 0 and math.isnan(d["accuracy"]) and math.isnan(d["up_share"])
    assert all(math.isnan(v) for v in d["ci95"])


def test_interval_coverage_counts_the_ends_as_inside():
    y = np.array([1.0, 2, 3, 4])
    lower = np.array([0.0, 2, 3.5, 0])
    upper = np.array([2.0, 2, 4, 3])
    assert interval_coverage(y, lower, upper) == 0.5
    assert interval_coverage(y[:, None], lower[:, None] - 10, upper[:, None] + 10) == 1.0


def test_forecast_errors_by_horizon_and_mase():
    y = np.array([[1.0, 2, 0], [3, 4, 0], [5, 6, 2]])
    pred = np.array([[2.0, 2, 0], [3, 1, 0], [4, 6, 0]])
    scale = seasonal_scale(np.array([0.0, 2, 4, 2, 0]), 2)  # |4-0|, |2-2|, |0-4| -> 8/3
    assert scale == pytest.approx(8 / 3)
    m = forecast_errors(y, pred, scale)
    assert set(m) == {"mae", "rmse", "smape", "mase", "by_horizon"}
    assert all(len(v) == 3 for v in m["by_horizon"].values())
    assert set(m["by_horizon"]) == {"mae", "rmse", "smape", "mase"}
    assert m["mae"] == pytest.approx(7 / 9)
    assert m["rmse"] == pytest.approx(np.sqrt(15 / 9))
    assert m["mase"] == pytest.approx(m["mae"] / scale)
    assert m["by_horizon"]["mae"] == pytest.approx([2 / 3, 1.0, 2 / 3], abs=1e-6)
    assert m["by_horizon"]["mase"] == pytest.approx(np.array([2 / 3, 1.0, 2 / 3]) / scale, abs=1e-6)
    # both zero: no error, not a division by zero
    assert m["by_horizon"]["smape"][2] == pytest.approx(200 / 3, abs=1e-4)  # (0 + 0 + 200) / 3
    assert seasonal_scale(np.arange(3.0), 3) == 1.0  # too short for one season: lag 1
    assert seasonal_scale(np.array([1.0, 2, 1, 2]), 2) == 1.0  # seasonal error 0: lag 1
    assert math.isnan(seasonal_scale(np.ones(5), 2))  # constant: undefined


def test_conformal_half_width_uses_the_n_plus_one_rank():
    from rnnlab.metrics.forecast import conformal_half_width

    r = np.arange(1.0, 10.0)[:, None]  # 9 residuals 1..9: ceil(10 * 0.8) = 8th smallest = 8
    assert conformal_half_width(r, 0.8).tolist() == [8.0]
    assert conformal_half_width(r, 0.95).tolist() == [9.0]  # ceil(9.5) = 10 > 9: the largest
    assert conformal_half_width(r, 0.0).tolist() == [0.0]
    two = np.array([[1.0, 10], [2, 20], [3, 30], [4, 40]])  # per horizon step: ceil(5 * 0.5) = 3rd
    assert conformal_half_width(two, 0.5).tolist() == [3.0, 30.0]


def test_quantile_loss_wql_and_crps_by_hand():
    from rnnlab.metrics.forecast import (
        conformal_quantiles,
        crps_from_quantiles,
        pinball,
        weighted_quantile_loss,
    )

    assert pinball(np.array([3.0]), np.array([1.0]), 0.9).tolist() == pytest.approx([1.8])  # under: 0.9 * 2
    assert pinball(np.array([1.0]), np.array([3.0]), 0.9).tolist() == pytest.approx([0.2])  # over: 0.1 * 2
    y = np.array([[2.0], [4.0]])
    q = {0.1: np.array([[1.0], [1.0]]), 0.9: np.array([[3.0], [3.0]])}
    # tau 0.1: pinball 0.1, 0.3 -> sum 0.4; tau 0.9: 0.9 * 1 (over 2? no: y=2 < 3 -> 0.1), y=4 > 3 -> 0.9
    assert weighted_quantile_loss(y, q) == pytest.approx(np.mean([2 * 0.4 / 6, 2 * 1.0 / 6]))
    assert crps_from_quantiles(y, q) == pytest.approx(np.mean([2 * 0.2, 2 * 0.5]))
    qs = conformal_quantiles(np.zeros((1, 1)), np.arange(1.0, 10.0)[:, None], (0.1, 0.5, 0.9))
    assert [qs[t][0, 0] for t in (0.1, 0.5, 0.9)] == [-8.0, 0.0, 8.0]
