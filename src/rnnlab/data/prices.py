"""Two price series for forecasting, read from sha256-pinned PyPI wheels (see sources.py).

bitcoin: Bitcoin price in USD every 3 days, 2013-02-11 to 2019-11-10 (822 rows in the file), from
  `river==0.26.1` (`river/drift/datasets/bitcoin.csv`, columns date, price). Columns here:
    price   the price (USD) on that date; the default target
    return  log(price_t / price_{t-1}), a 3-day log return
  No calendar features (a 3-day step does not line up with weeks) and season 1: seasonal-naive is the
  naive forecast and MASE scales by the one-step naive error.
sp500: S&P 500 index, daily on trading days, 1999-01-04 to 2018-12-31 (5,031 rows in the file), from
  `arch==8.0.0` (`arch/data/sp500/sp500.csv.gz`, columns Date, Open, High, Low, Close, Adj Close, Volume;
  Adj Close equals Close for an index and is dropped). Columns here:
    open, high, low, close  index levels; volume  shares traded
    return      log(close_t / close_{t-1}), the next-day return a CNN-LSTM predicts; the default target
    range       log(high / low), the day's high-low range (a volatility proxy)
    log_volume  log(volume)
    dow_sin, dow_cos  day of week on a 7-day circle; known ahead, so `future` covariates
  season 5: one trading week.
Both: rows sorted by date; the first row is dropped because it has no return. Duplicate dates, missing or
non-positive prices are a DataError (a pinned archive that fails these checks means the pin is wrong).
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from rnnlab.data.sources import read_member
from rnnlab.data.windows import Series, calendar_values
from rnnlab.errors import DataError

# name -> (source, member, date column, date format, {file column: our column})
FILES = {
    "bitcoin": ("river", "river/drift/datasets/bitcoin.csv", "date", "%Y-%m-%d", {"price": "price"}),
    "sp500": (
        "arch",
        "arch/data/sp500/sp500.csv.gz",
        "Date",
        "%m/%d/%Y",
        {"Open": "open", "High": "high", "Low": "low", "Close": "close", "Volume": "volume"},
    ),
}
TARGETS = {"bitcoin": "price", "sp500": "return"}  # the column a recipe forecasts by default
SEASONS = {"bitcoin": 1, "sp500": 5}


def _read(name: str) -> pd.DataFrame:
    """The raw CSV as a frame indexed by date, sorted, with our column names; checked for bad rows."""
    source, member, date_col, fmt, columns = FILES[name]
    raw = read_member(source, member)
    try:
        df = pd.read_csv(io.BytesIO(raw), compression="gzip" if member.endswith(".gz") else None)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError, EOFError) as e:
        raise DataError(
            f"{name} data ({member}) is unreadable ({type(e).__name__}); the pinned source is wrong"
        ) from e
    missing = [c for c in [date_col, *columns] if c not in df.columns]
    if missing or len(df) < 2:
        raise DataError(
            f"{name} data has columns {list(df.columns)} (lacking {missing}) and {len(df)} rows; "
            "the pinned source is wrong"
        )
    dates = pd.to_datetime(df[date_col], format=fmt, errors="coerce")
    if dates.isna().any():
        r = int(np.flatnonzero(dates.isna())[0])
        raise DataError(
            f"{name} data has an unreadable date {df[date_col].iloc[r]!r} at row {r}; the pinned source is wrong"
        )
    out = pd.DataFrame({ours: pd.to_numeric(df[theirs], errors="coerce") for theirs, ours in columns.items()})
    out.index = pd.DatetimeIndex(dates, name="date")
    for theirs, ours in columns.items():
        bad = np.flatnonzero(~(out[ours].to_numpy() > 0))  # NaN, non-numeric, zero and negative alike
        if len(bad):
            r = int(bad[0])
            raise DataError(
                f"{name} column {ours!r} has a missing or non-positive value {str(df[theirs].iloc[r])!r} at row {r} "
                f"({dates.iloc[r].date()}); prices and volume must be > 0, the pinned source is wrong"
            )
    dup = out.index.duplicated()
    if dup.any():
        raise DataError(
            f"{name} data has the date {out.index[dup][0].date()} twice; the pinned source is wrong"
        )
    return out.sort_index(kind="stable")


def _log_return(x: pd.Series) -> np.ndarray:
    return np.log(x.to_numpy(float)[1:] / x.to_numpy(float)[:-1])


def load_prices(name: str) -> Series:
    """The `bitcoin` or `sp500` series with log returns (and, for sp500, range, log volume and day of week)."""
    if name not in FILES:
        raise DataError(f"unknown price series {name!r}; choose one of {sorted(FILES)}")
    df = _read(name)
    time = df.index[1:]
    if name == "bitcoin":
        cols = {"price": df["price"].to_numpy(float)[1:], "return": _log_return(df["price"])}
        future: list[str] = []
    else:
        if (df["high"] < df["low"]).any():
            day = df.index[(df["high"] < df["low"]).to_numpy()][0].date()
            raise DataError(f"sp500 data has high below low on {day}; the pinned source is wrong")
        cols = {c: df[c].to_numpy(float)[1:] for c in ("open", "high", "low", "close", "volume")}
        cols["return"] = _log_return(df["close"])
        cols["range"] = np.log(cols["high"] / cols["low"])
        cols["log_volume"] = np.log(cols["volume"])
        future = ["dow_sin", "dow_cos"]
        cols.update({c: calendar_values(pd.DatetimeIndex(time), c) for c in future})
    names = list(cols)
    return Series(np.stack([cols[n] for n in names], 1), names, pd.DatetimeIndex(time), future, SEASONS[name])
