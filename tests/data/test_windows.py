"""Sliding windows: exact contents, chronological split without leakage, train-only scaling, missing values."""

from __future__ import annotations

import numpy as np
import pytest

from rnnlab.data.windows import chronological_windows, fill_missing, make_windows
from rnnlab.errors import DataError


def _series(n=200):
    t = np.arange(n, dtype=float)
    return np.stack([t, np.sin(t / 5), t % 7], 1), ["y", "temp", "dow"]


def test_window_contents_are_exact():
    v, _ = _series(50)
    w = make_windows(v, target=0, lookback=5, horizon=3, future=[2], stride=2)
    assert w.x.shape == (len(w), 5, 3) and w.y.shape == (len(w), 3) and w.xf.shape == (len(w), 3, 1)
    o = int(w.origin[1])
    assert o == 7  # first origin = lookback, then every `stride`
    np.testing.assert_array_equal(w.x[1, :, 0], np.arange(o - 5, o))
    np.testing.assert_array_equal(w.y[1], np.arange(o, o + 3))
    np.testing.assert_array_equal(w.xf[1, :, 0], (np.arange(o, o + 3)) % 7)
    assert int(w.origin[-1]) + 3 <= 50


def test_split_is_chronological_and_never_straddles():
    v, names = _series(300)
    parts, scaler = chronological_windows(
        v, names, "y", lookback=10, horizon=4, val_fraction=0.1, test_fraction=0.2
    )
    raw = {k: np.round(p.y * scaler.std[0] + scaler.mean[0]) for k, p in parts.items()}  # float32 -> row ids
    raw_x = {k: np.round(p.x[:, :, 0] * scaler.std[0] + scaler.mean[0]) for k, p in parts.items()}
    val_start, test_start = 210, 240
    assert raw["train"].max() < val_start and raw_x["train"].max() < val_start
    assert raw["val"].min() >= val_start and raw_x["val"].min() >= val_start and raw["val"].max() < test_start
    assert raw_x["test"].min() >= test_start
    # the scaler saw training rows only
    np.testing.assert_allclose(scaler.mean[0], np.arange(val_start).mean())
    straddled, _ = chronological_windows(v, names, "y", 10, 4, straddle=True)
    assert len(straddled["test"]) > len(parts["test"])
    assert np.round(straddled["test"].y * scaler.std[0] + scaler.mean[0]).min() >= test_start
    assert np.round(straddled["test"].x[:, :, 0] * scaler.std[0] + scaler.mean[0]).min() < test_start


def test_missing_values_error_by_default_and_fill_on_request():
    v, names = _series(20)
    v[5, 1] = np.nan
    with pytest.raises(DataError, match="column 'temp' has 1 missing value.*row 5"):
        fill_missing(v, names)
    np.testing.assert_allclose(fill_missing(v, names, "interpolate")[5, 1], (v[4, 1] + v[6, 1]) / 2)
    assert fill_missing(v, names, "ffill")[5, 1] == v[4, 1]
    v[0, 1] = np.nan
    assert fill_missing(v, names, "ffill")[0, 1] == v[1, 1]
    v[3, 0] = np.inf
    with pytest.raises(DataError, match="infinite"):
        fill_missing(v, names, "ffill")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"target": "load"}, "unknown target column 'load'"),
        ({"future": ["holiday"]}, r"unknown covariate column\(s\) \['holiday'\]"),
        ({"lookback": 500}, "too short for lookback 500"),
        ({"val_fraction": 0.5, "test_fraction": 0.5}, "sum below 0.9"),
    ],
)
def test_bad_requests_are_one_line_errors(kwargs, match):
    v, names = _series(100)
    args = {"target": "y", "lookback": 10, "horizon": 2, **kwargs}
    with pytest.raises(DataError, match=match) as e:
        chronological_windows(v, names, **args)
    assert "\n" not in str(e.value)
