"""Forecast baselines and metrics against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from rnnlab.errors import DataError
from rnnlab.metrics.forecast import forecast_errors, seasonal_scale
from rnnlab.models.baselines import LinearAR, last_value, seasonal_naive


def test_naive_forecasts():
    h = np.array([[1.0, 2, 3, 4, 5, 6]])
    np.testing.assert_array_equal(last_value(h, 3), [[6, 6, 6]])
    np.testing.assert_array_equal(seasonal_naive(h, 5, season=2), [[5, 6, 5, 6, 5]])
    with pytest.raises(DataError, match="at least one season"):
        seasonal_naive(h, 2, season=7)


def test_linear_ar_recovers_a_linear_process():
    rng = np.random.default_rng(0)
    hist = rng.normal(size=(500, 4))
    fut = np.stack([hist @ [0.5, -1, 0, 2] + 1, hist @ [0, 0, 1, 1]], 1)
    ar = LinearAR(ridge=1e-9).fit(hist, fut)
    np.testing.assert_allclose(ar.predict(hist), fut, atol=1e-6)


def test_metrics_by_hand():
    y = np.array([[1.0, 2.0], [3.0, 4.0]])
    p = np.array([[2.0, 2.0], [3.0, 2.0]])
    m = forecast_errors(y, p, scale=0.5)
    assert m["mae"] == pytest.approx(0.75) and m["rmse"] == pytest.approx(np.sqrt(5 / 4))
    assert m["mase"] == pytest.approx(1.5)
    assert m["smape"] == pytest.approx(np.mean([2 / 3, 0, 0, 2 / 3]) * 100)
    assert m["by_horizon"]["mae"] == [0.5, 1.0]
    assert seasonal_scale(np.array([1.0, 2, 4, 8]), 1) == pytest.approx((1 + 2 + 4) / 3)


def test_seasonal_naive_at_reads_past_the_lookback():
    from rnnlab.models.baselines import seasonal_naive_at

    s = np.arange(20.0)
    # origin 10, season 4: steps 0..5 repeat rows 6, 7, 8, 9, 6, 7
    np.testing.assert_array_equal(seasonal_naive_at(s, np.array([10]), 6, 4), [[6, 7, 8, 9, 6, 7]])
    hist = s[None, 6:10]
    np.testing.assert_array_equal(seasonal_naive_at(s, np.array([10]), 6, 4), seasonal_naive(hist, 6, 4))
