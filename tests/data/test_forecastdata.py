"""ForecastDataModule on a synthetic hourly series: train-only scaling, windows that never cross a split,
a train-only stride, batch shapes, data.json, column selection and one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from rnnlab.data.forecastdata import ForecastDataModule, make_forecast_datamodule, select_columns
from rnnlab.data.windows import Series, split_points
from rnnlab.errors import ConfigError, DataError

L_, H_ = 24, 6  # lookback, horizon used throughout


def _series(n: int = 600, seed: int = 0) -> Series:
    """Target 'load' (daily cycle + trend + noise), covariate 'temp', known-future 'hour' (a calendar column)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=float)
    load = 10 + np.sin(2 * np.pi * t / 24) + 0.002 * t + 0.1 * rng.standard_normal(n)
    temp = 5 + 3 * np.cos(2 * np.pi * t / 24) + 0.2 * rng.standard_normal(n)
    hour = np.sin(2 * np.pi * (t % 24) / 24)
    time = pd.date_range("2024-01-01", periods=n, freq="h")
    return Series(np.stack([load, temp, hour], 1), ["load", "temp", "hour"], time, ["hour"], 24)


def _dm(series: Series | None = None, **kw) -> ForecastDataModule:
    return ForecastDataModule(series if series is not None else _series(), "load", L_, H_, **kw)


def _bounds(n: int = 600) -> dict[str, tuple[int, int]]:
    val_start, test_start = split_points(n, 0.1, 0.2)
    return {"train": (0, val_start), "val": (val_start, test_start), "test": (test_start, n)}


def test_scaler_is_fit_on_training_rows_only():
    s = _series()
    dm = _dm(s)
    val_start, _ = split_points(600, 0.1, 0.2)
    np.testing.assert_allclose(dm.scaler.mean, s.values[:val_start].mean(0))
    np.testing.assert_allclose(dm.scaler.std, s.values[:val_start].std(0))
    wild = Series(s.values.copy(), s.names, s.time, s.future, s.season)
    wild.values[val_start:] = wild.values[val_start:] * 1000 + 500  # validation and test change drastically
    dm2 = _dm(wild)
    np.testing.assert_array_equal(dm2.scaler.mean, dm.scaler.mean)
    np.testing.assert_array_equal(dm2.scaler.std, dm.scaler.std)
    assert dm2.scaler_target == dm.scaler_target
    # ...while the test windows do see the changed values (in the same train-fit scale)
    assert dm2.unscale(dm2.parts["test"].y).min() > 1000
    rows = dm.parts["test"].origin[:, None] + np.arange(H_)
    np.testing.assert_allclose(dm.unscale(dm.parts["test"].y), s.values[rows, 0], rtol=1e-5)


def test_windows_never_straddle_by_default():
    dm = _dm()
    for part, (a, b) in _bounds().items():
        o = dm.parts[part].origin
        assert (o - L_ >= a).all(), part  # the lookback starts at/after the part's first row
        assert (o + H_ <= b).all(), part
        assert o.min() == a + L_  # and every such window is there
        assert o.max() == b - H_
        assert len(o) == b - a - L_ - H_ + 1


def test_straddle_reads_the_part_before_but_forecasts_only_inside():
    s = _series()
    dm = _dm(s, straddle=True)
    scaled = dm.scaler.transform(s.values)
    for part, (a, b) in _bounds().items():
        w = dm.parts[part]
        assert (w.origin >= a).all() and (w.origin + H_ <= b).all(), part
        if part != "train":
            assert w.origin.min() == a  # the first forecast is the part's first row...
            assert w.origin.min() - L_ < a  # ...so its lookback reads the part before
            o = int(w.origin[0])
            np.testing.assert_allclose(w.x[0], scaled[o - L_ : o], rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(w.y[0], scaled[o : o + H_, 0], rtol=1e-5, atol=1e-6)
    assert len(dm.parts["val"]) > len(_dm(s).parts["val"])
    assert dm.describe()["straddle"] is True


def test_train_stride_subsamples_only_the_train_loader():
    full = _dm()
    dm = _dm(train_stride=4)
    n = len(full.parts["train"])
    assert len(dm.parts["train"]) == n  # baselines still fit on every window
    assert len(dm.train_dataloader().dataset) == len(range(0, n, 4))
    assert abs(len(dm.train_dataloader().dataset) - n / 4) < 1
    for part, loader in (("val", dm.val_dataloader()), ("test", dm.test_dataloader())):
        assert len(loader.dataset) == len(full.parts[part])
    parts = dm.describe()["parts"]
    assert parts["train"]["stride"] == 4 and parts["train"]["windows"] == n
    assert parts["val"]["stride"] == 1


def test_batches_have_the_documented_shapes():
    dm = _dm(batch_size=16)
    assert dm.n_features == 3 and dm.future == ["hour"]
    for loader in (dm.train_dataloader(), dm.val_dataloader(), dm.test_dataloader()):
        b = next(iter(loader))
        assert b["x"].shape == (16, L_, 3)
        assert b["xf"].shape == (16, H_, 1)
        assert b["y"].shape == (16, H_)
        assert b["index"].shape == (16,)
        assert str(b["x"].dtype) == "torch.float32"
    # val is not shuffled: the first batch is the first windows, and xf is the known-future column
    b = next(iter(dm.val_dataloader()))
    w = dm.parts["val"]
    np.testing.assert_array_equal(b["y"].numpy(), w.y[:16])
    rows = w.origin[:16, None] + np.arange(H_)
    scaled = dm.scaler.transform(dm.series.values)
    np.testing.assert_allclose(b["xf"].numpy()[:, :, 0], scaled[rows, 2], rtol=1e-5, atol=1e-6)


def test_describe_holds_what_forecasting_later_needs():
    dm = _dm()
    d = dm.describe()
    json.dumps(d)  # data.json must be serialisable
    assert d["target"] == "load" and d["lookback"] == L_ and d["horizon"] == H_
    assert d["task"] == "forecast" and d["columns"] == ["load", "temp", "hour"] and d["future"] == ["hour"]
    assert d["season"] == 24 and d["naive_season"] == 24 and d["rows"] == 600
    assert set(d["scaler"]) == {"mean", "std"} and len(d["scaler"]["mean"]) == 3
    np.testing.assert_allclose(d["scaler"]["mean"], dm.scaler.mean)
    assert set(d["parts"]) == {"train", "val", "test"}
    t = dm.series.time
    test = dm.parts["test"]
    assert d["parts"]["test"]["windows"] == len(test)
    assert d["parts"]["test"]["first_forecast"] == str(t[int(test.origin.min())])
    assert d["parts"]["test"]["last_forecast"] == str(t[599])
    assert d["freq"] == "h"


def test_select_columns_keeps_target_first_and_the_future_columns():
    s = _series()
    sub = select_columns(s, "temp", [], None)
    assert sub.names == ["temp", "hour"] and sub.future == ["hour"]
    np.testing.assert_array_equal(sub.values, s.values[:, [1, 2]])
    everything = select_columns(s, "temp", None, None)
    assert everything.names == ["temp", "load", "hour"]


@pytest.mark.parametrize(
    "target, covariates, future, match",
    [
        ("lod", None, None, r"unknown target column\(s\) \['lod'\]"),
        ("load", ["temp", "humidity"], None, r"unknown covariate column\(s\) \['humidity'\]"),
        ("load", None, ["holiday"], r"unknown future column\(s\) \['holiday'\]"),
    ],
)
def test_select_columns_unknown_names_are_data_errors(target, covariates, future, match):
    with pytest.raises(DataError, match=match):
        select_columns(_series(), target, covariates, future)


def test_target_as_future_covariate_is_a_config_error():
    with pytest.raises(ConfigError, match="'load' cannot also be a known-future covariate"):
        select_columns(_series(), "load", None, ["load"])


def test_too_short_series_mentions_the_lookback(tmp_path):
    with pytest.raises(DataError, match="lookback 24"):
        _dm(_series(60))
    # loading a CSV by name, the message says how many rows are needed
    # (100 rows would now work: validation and test straddle automatically; 40 leave too few training rows)
    t = pd.date_range("2024-01-01", periods=40, freq="h")
    pd.DataFrame({"ts": t, "load": np.arange(40.0)}).to_csv(tmp_path / "s.csv", index=False)
    csv = {"path": str(tmp_path / "s.csv"), "target": "load", "time_col": "ts"}
    with pytest.raises(DataError, match=r"lookback 24 \+ horizon 6 needs at least 300 rows"):
        make_forecast_datamodule("series", L_, H_, **csv, val_fraction=0.1)  # as in the forecast recipe


def test_bad_batch_size_or_stride():
    with pytest.raises(ConfigError, match="train_stride"):
        _dm(train_stride=0)
    with pytest.raises(ConfigError, match="batch_size"):
        _dm(batch_size=0)
