"""Sliding lookback/horizon windows over time series, with a chronological split that cannot leak.

A series is a (T, F) float array whose column `target` is forecast; the other columns are covariates.
`past` covariates are known only up to the forecast origin (e.g. measured temperature); `future`
covariates are known ahead (calendar features) and are also given over the horizon.
The split is chronological (train, then validation, then test, by time); a window belongs to the part
that holds its whole span (lookback + horizon), so no window straddles a boundary unless `straddle=True`.
Scalers are fit on the training part only. Missing values are an error unless a fill method is named.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from rnnlab.errors import DataError

FILL_METHODS = ("error", "ffill", "interpolate")


def fill_missing(values: np.ndarray, names: list[str], method: str = "error") -> np.ndarray:
    """NaNs filled by `method` ('ffill' carries the last value, 'interpolate' is linear), or a DataError."""
    if method not in FILL_METHODS:
        raise DataError(f"unknown fill method {method!r}; choose one of {list(FILL_METHODS)}")
    values = np.array(values, dtype=np.float64, copy=True)
    if not np.isinf(values).any() and not np.isnan(values).any():
        return values
    if np.isinf(values).any():
        r, c = np.argwhere(np.isinf(values))[0]
        raise DataError(f"column {names[c]!r} has an infinite value at row {r}; fix or drop it")
    bad = np.isnan(values)
    if method == "error":
        r, c = np.argwhere(bad)[0]
        raise DataError(
            f"column {names[c]!r} has {int(bad[:, c].sum())} missing value(s), the first at row {r}; "
            "fill them (data.fill: ffill or interpolate) or clean the file"
        )
    for c in range(values.shape[1]):
        col, miss = values[:, c], bad[:, c]
        if not miss.any():
            continue
        if miss.all():
            raise DataError(f"column {names[c]!r} is entirely missing; fill it with numbers or leave it out")
        idx = np.arange(len(col))
        if method == "interpolate":
            col[miss] = np.interp(idx[miss], idx[~miss], col[~miss])
        else:
            last = np.maximum.accumulate(np.where(miss, 0, idx))
            first = idx[~miss][0]
            col[:] = col[last]
            col[:first] = col[first]  # leading gaps take the first observed value
    return values


@dataclass
class Series:
    """One multivariate series (T rows, F columns): values (T, F) float64, column names, timestamps, and which columns are
    known in the future (calendar) as opposed to only observed up to now."""

    values: np.ndarray
    names: list[str]
    time: pd.DatetimeIndex
    future: list[str]
    season: int  # steps per seasonal cycle (48 half-hours, 7 days) for seasonal-naive and MASE


@dataclass
class Windows:
    """Model-ready windows: x (N, lookback, F) of the past, xf (N, horizon, Ff) known-future covariates,
    y (N, horizon) targets, origin (N,) row index of the first forecast step (for plots and baselines)."""

    x: np.ndarray
    xf: np.ndarray
    y: np.ndarray
    origin: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


@dataclass
class Standardiser:
    """Per-column mean and standard deviation, fit on the training rows only."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, values: np.ndarray) -> Standardiser:
        std = values.std(0)
        return cls(values.mean(0), np.where(std > 1e-12, std, 1.0))

    def transform(self, values: np.ndarray) -> np.ndarray:
        return (values - self.mean) / self.std

    def inverse(self, values: np.ndarray, column: int) -> np.ndarray:
        return values * self.std[column] + self.mean[column]

    def to_dict(self) -> dict:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}


def split_points(n_rows: int, val_fraction: float, test_fraction: float) -> tuple[int, int]:
    """Row indices where validation and test begin (chronological)."""
    if not (0 <= val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 0.9):
        raise DataError(
            f"val_fraction {val_fraction} and test_fraction {test_fraction} must be in [0, 1) and sum below 0.9"
        )
    test_start = int(round(n_rows * (1 - test_fraction)))
    val_start = int(round(n_rows * (1 - test_fraction - val_fraction)))
    return val_start, test_start


def make_windows(
    values: np.ndarray,
    target: int,
    lookback: int,
    horizon: int,
    future: list[int] | None = None,
    start: int = 0,
    stop: int | None = None,
    stride: int = 1,
    context_from: int | None = None,
) -> Windows:
    """Every window whose forecast span [o, o+horizon) lies in [start, stop) and whose lookback starts at or
    after `context_from` (default `start`: the window lies wholly in the part; 0 lets it read earlier rows)."""
    n = len(values) if stop is None else stop
    if lookback < 1 or horizon < 1 or stride < 1:
        raise DataError(f"lookback, horizon and stride must be >= 1, got {lookback}, {horizon}, {stride}")
    lo = start if context_from is None else context_from
    first = max(start, lo + lookback)
    origins = np.arange(first, n - horizon + 1, stride)
    if len(origins) == 0:
        raise DataError(
            f"rows {start}-{n} ({n - start} steps) are too short for lookback {lookback} + horizon {horizon}; "
            "use a shorter lookback or horizon, or a longer series"
        )
    future = future or []
    past_idx = origins[:, None] + np.arange(-lookback, 0)[None, :]
    fut_idx = origins[:, None] + np.arange(horizon)[None, :]
    return Windows(
        x=values[past_idx].astype(np.float32),
        xf=values[fut_idx][:, :, future].astype(np.float32),
        y=values[fut_idx, target].astype(np.float32),
        origin=origins,
    )


def chronological_windows(
    values: np.ndarray,
    names: list[str],
    target: str,
    lookback: int,
    horizon: int,
    future: list[str] | None = None,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    stride: int = 1,
    straddle: bool = False,
    fill: str = "error",
) -> tuple[dict[str, Windows], Standardiser]:
    """Scaled train/val/test windows split by time, plus the train-only scaler (to invert forecasts).

    straddle=False: every window lies wholly inside its part. straddle=True: validation and test windows may
    read their lookback from the part before (still forecasting only inside their own part).
    """
    if target not in names:
        raise DataError(f"unknown target column {target!r}; columns are {names}")
    unknown = [c for c in (future or []) if c not in names]
    if unknown:
        raise DataError(f"unknown covariate column(s) {unknown}; columns are {names}")
    values = fill_missing(values, names, fill)
    val_start, test_start = split_points(len(values), val_fraction, test_fraction)
    scaler = Standardiser.fit(values[:val_start])
    scaled = scaler.transform(values)
    t = names.index(target)
    fut = [names.index(c) for c in (future or [])]
    parts = {"train": (0, val_start), "val": (val_start, test_start), "test": (test_start, len(values))}
    out = {}
    for name, (a, b) in parts.items():
        if b <= a:
            continue
        ctx = 0 if straddle and name != "train" else None
        out[name] = make_windows(scaled, t, lookback, horizon, fut, a, b, stride, context_from=ctx)
    return out, scaler


CALENDAR = ("dow_sin", "dow_cos", "tod_sin", "tod_cos")


def calendar_values(time: pd.DatetimeIndex, name: str) -> np.ndarray:
    """One calendar feature for any timestamps: day of week or time of day on a circle (sin/cos)."""
    if name.startswith("dow_"):
        phase = time.day_of_week.to_numpy() / 7
    elif name.startswith("tod_"):
        phase = ((time - time.normalize()) / pd.Timedelta(days=1)).to_numpy(dtype=np.float64)
    else:
        raise DataError(f"{name!r} is not a calendar feature; calendar features are {list(CALENDAR)}")
    return np.sin(2 * np.pi * phase) if name.endswith("_sin") else np.cos(2 * np.pi * phase)
