"""Price loaders: small CSVs in the real formats stand in for the wheels; the real archives in slow tests."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from rnnlab.data import prices, sources
from rnnlab.errors import DataError

SP500_HEADER = "Date,Open,High,Low,Close,Adj Close,Volume\n"
SP500_ROWS = [
    "1/4/1999,1229.2,1248.8,1219.1,1228.1,1228.1,877000000",
    "1/5/1999,1228.1,1246.1,1228.1,1244.8,1244.8,775000000",
    "1/6/1999,1244.8,1272.5,1244.8,1272.3,1272.3,986900000",
    "1/7/1999,1272.3,1272.3,1257.7,1269.7,1269.7,863000000",
]
BITCOIN = "date,price\n2013-02-11,24.1955\n2013-02-14,26.53092\n2013-02-17,25.6083\n2013-02-20,29.81231\n"


def _serve(
    monkeypatch: pytest.MonkeyPatch, bitcoin: str = BITCOIN, sp500_rows: list[str] = SP500_ROWS
) -> None:
    """read_member in the prices module returns fixture bytes: plain CSV for river, gzip for arch."""
    files = {
        ("river", "river/drift/datasets/bitcoin.csv"): bitcoin.encode(),
        ("arch", "arch/data/sp500/sp500.csv.gz"): gzip.compress(
            (SP500_HEADER + "\n".join(sp500_rows)).encode()
        ),
    }
    monkeypatch.setattr(prices, "read_member", lambda source, member: files[(source, member)])


def test_bitcoin_price_and_log_return(monkeypatch):
    _serve(monkeypatch)
    s = prices.load_prices("bitcoin")
    assert s.names == ["price", "return"] and s.future == [] and s.season == 1
    assert s.values.shape == (3, 2) and s.values.dtype == np.float64
    assert str(s.time[0].date()) == "2013-02-14" and str(s.time[-1].date()) == "2013-02-20"
    np.testing.assert_allclose(s.values[:, 0], [26.53092, 25.6083, 29.81231])
    np.testing.assert_allclose(s.values[0, 1], np.log(26.53092 / 24.1955))
    assert prices.TARGETS["bitcoin"] in s.names


def test_sp500_columns_returns_range_volume_and_calendar(monkeypatch):
    _serve(monkeypatch)
    s = prices.load_prices("sp500")
    assert s.names == [
        *("open", "high", "low", "close", "volume", "return", "range", "log_volume", "dow_sin", "dow_cos")
    ]
    assert s.future == ["dow_sin", "dow_cos"] and s.season == 5 and s.values.shape == (3, 10)
    col = {n: s.values[:, i] for i, n in enumerate(s.names)}
    close = np.array([1228.1, 1244.8, 1272.3, 1269.7])
    np.testing.assert_allclose(col["return"], np.log(close[1:] / close[:-1]))
    np.testing.assert_allclose(col["close"], close[1:])
    np.testing.assert_allclose(col["range"], np.log([1246.1 / 1228.1, 1272.5 / 1244.8, 1272.3 / 1257.7]))
    np.testing.assert_allclose(col["log_volume"], np.log([775e6, 986.9e6, 863e6]))
    dow = np.array([1, 2, 3])  # 1999-01-05 was a Tuesday
    np.testing.assert_allclose(col["dow_sin"], np.sin(2 * np.pi * dow / 7))
    assert str(s.time[0].date()) == "1999-01-05" and prices.TARGETS["sp500"] in s.names


def test_rows_are_sorted_by_date_before_returns(monkeypatch):
    _serve(monkeypatch, sp500_rows=[SP500_ROWS[i] for i in (2, 0, 3, 1)])
    s = prices.load_prices("sp500")
    assert list(s.time.strftime("%m/%d")) == ["01/05", "01/06", "01/07"]
    np.testing.assert_allclose(s.values[0, s.names.index("return")], np.log(1244.8 / 1228.1))


@pytest.mark.parametrize(
    ("bitcoin", "match"),
    [
        (BITCOIN + "2013-02-20,30.1\n", "date 2013-02-20 twice"),
        (BITCOIN + "2013-02-23,0\n", r"column 'price' has a missing or non-positive value .* at row 4"),
        (BITCOIN + "2013-02-23,-3\n", "non-positive value"),
        (BITCOIN + "2013-02-23,\n", "missing or non-positive value"),
        (BITCOIN + "2013-02-23,abc\n", "'abc' at row 4"),
        (BITCOIN + "23/02/2013,30.1\n", "unreadable date '23/02/2013' at row 4"),
        ("day,price\n2013-02-11,1\n2013-02-14,2\n", r"lacking \['date'\]"),
    ],
)
def test_bad_bitcoin_data_is_a_one_line_error(monkeypatch, bitcoin, match):
    _serve(monkeypatch, bitcoin=bitcoin)
    with pytest.raises(DataError, match=match) as e:
        prices.load_prices("bitcoin")
    assert "\n" not in str(e.value)


def test_bad_sp500_data_and_unknown_name(monkeypatch):
    _serve(monkeypatch, sp500_rows=[*SP500_ROWS, "1/8/1999,1269.7,1278.2,1261.8,1275.1,1275.1,0"])
    with pytest.raises(DataError, match="column 'volume' has a missing or non-positive value '0' at row 4"):
        prices.load_prices("sp500")
    _serve(monkeypatch, sp500_rows=[*SP500_ROWS, "1/8/1999,1269.7,1250.0,1261.8,1275.1,1275.1,9"])
    with pytest.raises(DataError, match="high below low on 1999-01-08"):
        prices.load_prices("sp500")
    with pytest.raises(
        DataError, match=r"unknown price series 'nasdaq'; choose one of \['bitcoin', 'sp500'\]"
    ):
        prices.load_prices("nasdaq")


def _need(name: str) -> None:
    if not sources.is_cached(name):
        pytest.skip(f"{name} archive not cached; run `rnnlab data fetch {name}`")


@pytest.mark.slow
def test_real_bitcoin():
    _need("river")
    s = prices.load_prices("bitcoin")
    assert s.values.shape == (821, 2)  # 822 rows in the file, the first has no return
    assert str(s.time[0].date()) == "2013-02-14" and str(s.time[-1].date()) == "2019-11-10"
    assert (np.diff(s.time).astype("timedelta64[D]") == np.timedelta64(3, "D")).all()
    assert 20 < s.values[:, 0].min() < s.values[:, 0].max() < 20_000 and np.isfinite(s.values).all()


@pytest.mark.slow
def test_real_sp500():
    _need("arch")
    s = prices.load_prices("sp500")
    assert s.values.shape == (5030, 10)  # 5,031 trading days in the file
    assert str(s.time[0].date()) == "1999-01-05" and str(s.time[-1].date()) == "2018-12-31"
    r = s.values[:, s.names.index("return")]
    assert np.isfinite(s.values).all() and abs(r.mean()) < 1e-3 and 0.005 < r.std() < 0.02
    assert -0.1 < r.min() < -0.09  # 2008-10-15, the largest one-day fall in the span
