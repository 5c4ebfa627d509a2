"""The user's own time series from a wide CSV (a header line, then one row per time step), as a `Series`.

    time,load,temp,holiday            read_series_csv("load.csv", "load", time="time",
    2024-01-01 00:00,3.1,4.5,1                            covariates=["temp"], future=["holiday"])
    2024-01-01 01:00,3.0,4.1,1

Columns come out as target, covariates, known-ahead `future` columns, then calendar features. With a time
column the step is inferred (median step; business days when there are no weekend rows; calendar months,
quarters and years by date), a missing step is an error unless `fill` names a method, and calendar features
are added as future covariates: dow_sin/dow_cos (day of week) for daily or finer steps, tod_sin/tod_cos
(time of day) for sub-daily ones. Without a time column the rows are taken as equally spaced: time is
1970-01-01 + one step per row (a day, or `freq`), with no calendar features and season 1 unless `freq` is
given. Each problem is a one-line DataError naming the column or row (row 0 is the first data row).
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from rnnlab.data.windows import CALENDAR, FILL_METHODS, Series, calendar_values, fill_missing, split_points
from rnnlab.errors import DataError

MIN_ROWS = 10
DAY = pd.Timedelta(days=1)


def _at(i: int) -> str:
    return f"row {i} (line {i + 2} of the file)"


def _read_frame(path: Path) -> pd.DataFrame:
    """The CSV as a frame of strings/numbers, or a DataError for a missing, empty, non-UTF-8 or broken file."""
    if not path.is_file():
        raise DataError(f"data file {path} not found; check the path")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(
            f"{path} is not UTF-8 text (bad byte at offset {e.start}); save it as UTF-8 CSV"
        ) from None
    if not text.strip():
        raise DataError(f"{path} is empty; write a header line and then one row per time step")
    try:
        # blank lines are rows (an empty cell in a one-column file), so row i stays on line i + 2
        df = pd.read_csv(io.StringIO(text.rstrip() + "\n"), skipinitialspace=True, skip_blank_lines=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as e:
        why = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise DataError(f"{path} is not a parseable CSV ({why}); check the delimiters and quoting") from None
    df.columns = [str(c).strip() for c in df.columns]
    if len(df) < MIN_ROWS:
        raise DataError(
            f"{path} has {len(df)} row{'s' if len(df) != 1 else ''}; a series needs at least {MIN_ROWS} rows, "
            "one per time step"
        )
    return df


def _numeric(df: pd.DataFrame, col: str, role: str) -> np.ndarray:
    """Column `col` as float64 (empty cells NaN); a non-numeric cell is a DataError naming its row."""
    raw = df[col]
    num = pd.to_numeric(raw, errors="coerce")
    bad = (num.isna() & raw.notna()).to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{role} column {col!r} has a non-numeric value {str(raw.iloc[i])!r} at {_at(i)}; fix or remove it"
        )
    return num.to_numpy(dtype=np.float64)


def _parse_time(raw: pd.Series, col: str) -> pd.DatetimeIndex:
    """Timestamps from column `col`, strictly increasing, or a DataError naming the first bad row."""
    fix = "use one date format throughout, e.g. 2024-01-31 or 2024-01-31 13:30"
    if pd.api.types.is_numeric_dtype(raw):
        raise DataError(f"time column {col!r} holds numbers, not dates; {fix}, or leave time out")
    try:
        t = pd.to_datetime(raw, errors="coerce")
    except (ValueError, TypeError) as e:
        why = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise DataError(f"time column {col!r} cannot be read as dates ({why}); {fix}") from None
    if t.isna().any():
        i = int(np.flatnonzero(t.isna().to_numpy())[0])
        raise DataError(
            f"time column {col!r} has a missing or unreadable value {str(raw.iloc[i])!r} at {_at(i)}; {fix}"
        )
    t = pd.DatetimeIndex(t)
    steps = t[1:] - t[:-1]
    if (steps <= pd.Timedelta(0)).any():
        i = int(np.flatnonzero(steps <= pd.Timedelta(0))[0]) + 1
        how = "repeats" if t[i] == t[i - 1] else "comes before"
        raise DataError(
            f"time column {col!r} is not strictly increasing: {t[i]} at {_at(i)} {how} {t[i - 1]} in the row above; "
            "sort the rows by time and drop duplicates"
        )
    return t


def infer_offset(time: pd.DatetimeIndex) -> pd.DateOffset:
    """The step of an increasing time index: business days, calendar months/quarters/years, else the median step."""
    # without its freq: a DateOffset freq (a monthly grid) makes is_month_end raise "Prefix not defined"
    time = pd.DatetimeIndex(time.to_numpy())
    step = pd.Series(time[1:] - time[:-1]).median()
    if step == DAY and (time.day_of_week < 5).all():
        return to_offset("B")
    for lo, hi, months in ((28, 31, 1), (89, 92, 3), (365, 366, 12)):
        if pd.Timedelta(days=lo) <= step <= pd.Timedelta(days=hi):
            if time.is_month_end.all():
                month = time[0].strftime("%b").upper()
                return to_offset({1: "ME", 3: f"QE-{month}", 12: f"YE-{month}"}[months])
            return pd.DateOffset(months=months)
    return to_offset(f"{step // DAY}D" if step % DAY == pd.Timedelta(0) else step)


def season_for(time: pd.DatetimeIndex) -> int:
    """Steps per seasonal cycle for a regular index: a day when sub-daily (30min -> 48, hourly -> 24), a week for
    daily (7) or business-daily (5) data, a year for weekly (52), monthly (12) or quarterly (4) data, else 1."""
    if len(time) < 2:
        return 1
    step = pd.Series(time[1:] - time[:-1]).median()
    if step < DAY:
        return int(DAY // step) if DAY % step == pd.Timedelta(0) else 1
    if step == DAY:
        return 5 if len(time) >= 7 and (time.day_of_week < 5).all() else 7
    days = step / DAY
    for lo, hi, season in ((6.5, 7.5, 52), (28, 31, 12), (89, 92, 4)):
        if lo <= days <= hi:
            return season
    return 1


def _regular(t: pd.DatetimeIndex, col: str, freq: str | None, fill: str) -> pd.DatetimeIndex:
    """The full grid of time steps from t[0] to t[-1]; a missing step is a DataError unless `fill` is set."""
    if freq is None:
        offset = infer_offset(t)
    else:
        try:
            offset = to_offset(freq)
        except ValueError:
            raise DataError(
                f"unknown freq {freq!r}; use a pandas alias such as '30min', 'h', 'D', 'B', 'W', 'MS'"
            ) from None
    grid = pd.date_range(t[0], t[-1], freq=offset)
    off = ~t.isin(grid)
    if off.any():
        i = int(np.flatnonzero(off)[0])
        raise DataError(
            f"time {t[i]} at {_at(i)} is not on the {offset.freqstr} grid from {t[0]}; "
            "pass freq matching the data, or resample it to a regular step"
        )
    missing = grid[~grid.isin(t)]
    if len(missing) and fill == "error":
        before, after = t[t < missing[0]][-1], t[t > missing[0]][0]
        raise DataError(
            f"time column {col!r} has a gap: no rows between {before} and {after} (step {offset.freqstr}, "
            f"{len(missing)} missing step(s) in all); add the rows, or pass fill='ffill' or 'interpolate'"
        )
    return grid


def _calendar(time: pd.DatetimeIndex) -> dict[str, np.ndarray]:
    """sin/cos of day of week (daily or finer steps) and of time of day (sub-daily steps)."""
    step = pd.Series(time[1:] - time[:-1]).median()
    names = (["dow_sin", "dow_cos"] if step <= DAY else []) + (["tod_sin", "tod_cos"] if step < DAY else [])
    return {c: calendar_values(time, c) for c in names}


def read_series_csv(
    path: str | Path,
    target: str,
    time: str | None = None,
    covariates: list[str] | None = None,
    future: list[str] | None = None,
    fill: str = "error",
    freq: str | None = None,
) -> Series:
    """A `Series` from a wide CSV: `target` first, then `covariates` (observed up to now), then `future`
    columns (known ahead) and calendar features; missing cells and missing time steps filled only if asked."""
    if fill not in FILL_METHODS:
        raise DataError(f"unknown fill method {fill!r}; choose one of {list(FILL_METHODS)}")
    path = Path(path)
    df = _read_frame(path)
    covariates, future = list(covariates or []), list(future or [])
    roles = [("target", target)] + [("covariate", c) for c in covariates] + [("future", c) for c in future]
    for role, col in roles + ([("time", time)] if time is not None else []):
        if col not in df.columns:
            raise DataError(f"unknown {role} column {col!r}; columns in {path.name} are {list(df.columns)}")
    names = list(dict.fromkeys(col for _, col in roles))
    if time in names:
        raise DataError(
            f"column {time!r} is the time column; do not also list it as the target or a covariate"
        )
    clash = [c for c in names if c in CALENDAR] if time is not None else []
    if clash:
        raise DataError(f"column {clash[0]!r} clashes with a calendar feature the reader adds; rename it")
    role_of = {col: role for role, col in reversed(roles)}
    values = np.stack([_numeric(df, c, role_of[c]) for c in names], 1)
    if time is None:
        stamps = pd.date_range("1970-01-01", periods=len(df), freq=freq or "D")
        season = season_for(stamps) if freq else 1
        return Series(fill_missing(values, names, fill), names, stamps, list(dict.fromkeys(future)), season)
    t = _parse_time(df[time], time)
    grid = _regular(t, time, freq, fill)
    if len(grid) > len(t):  # insert the missing steps as NaN rows for fill_missing
        values = pd.DataFrame(values, index=t).reindex(grid).to_numpy(dtype=np.float64)
    cal = _calendar(grid)
    values = np.concatenate([fill_missing(values, names, fill), *(v[:, None] for v in cal.values())], axis=1)
    names_out = names + list(cal)
    return Series(values, names_out, grid, list(dict.fromkeys(future + list(cal))), season_for(grid))


def check_length(
    n_rows: int, lookback: int, horizon: int, val_fraction: float = 0.1, test_fraction: float = 0.2
) -> None:
    """A DataError unless each chronological part (train/val/test) of `n_rows` holds one lookback + horizon window."""

    def fits(n: int) -> bool:
        val_start, test_start = split_points(n, val_fraction, test_fraction)
        parts = [val_start, test_start - val_start if val_fraction > 0 else span, n - test_start]
        return min(parts) >= span

    span = lookback + horizon
    if fits(n_rows):
        return
    fractions = [f for f in (1 - val_fraction - test_fraction, val_fraction, test_fraction) if f > 0]
    need = max(math.ceil(span / f - 1e-9) for f in fractions)
    while not fits(need):
        need += 1
    raise DataError(
        f"series has {n_rows} rows; lookback {lookback} + horizon {horizon} needs at least {need} rows "
        f"(for train/val/test); use a shorter lookback or more data"
    )
