"""Forecasting data: a Series cut into chronological lookback/horizon windows, as Lightning batches.

Batches are dicts {x (B, lookback, F), xf (B, horizon, Ff), y (B, horizon), index (B,)} in scaled units; the
train-only scaler and the window origins stay on the datamodule so forecasts can be put back in the data's
units and times (and baselines computed on exactly the same test windows).
"""

from __future__ import annotations

import logging

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from rnnlab.data.datamodule import SplitDataModule, epoch_loader
from rnnlab.data.electricity import load_electricity
from rnnlab.data.prices import load_prices
from rnnlab.data.rdatasets_series import RDATASETS, load_rdataset
from rnnlab.data.series_csv import check_length, read_series_csv
from rnnlab.data.windows import Series, Windows, chronological_windows, fill_missing, split_points
from rnnlab.errors import ConfigError, DataError

SERIES_DATA = ("electricity", "electricity-daily", "sp500", "bitcoin", *RDATASETS, "series")


def load_series(
    name: str,
    path: str | None = None,
    target: str | None = None,
    time_col: str | None = None,
    covariates: list[str] | None = None,
    future: list[str] | None = None,
    fill: str = "error",
) -> Series:
    """A series by name: a built-in one, or the user's CSV at `path` for name 'series' (the CSV options apply
    only then)."""
    if name in ("electricity", "electricity-daily"):
        return load_electricity("half-hourly" if name == "electricity" else "daily")
    if name in ("sp500", "bitcoin"):
        return load_prices(name)
    if name in RDATASETS:
        return load_rdataset(name)
    if name == "series":
        if not path:
            raise ConfigError("data.name 'series' needs a file: pass --csv PATH (one row per time step)")
        if not target:
            raise ConfigError("a forecasting CSV needs its target column: pass --target COLUMN")
        return read_series_csv(path, target, time=time_col, covariates=covariates, future=future, fill=fill)
    raise ConfigError(f"unknown series {name!r}; choose one of {list(SERIES_DATA)}")


def select_columns(
    series: Series, target: str, covariates: list[str] | None, future: list[str] | None
) -> Series:
    """The series restricted to target + covariates + known-future columns (covariates None: keep all)."""
    names = series.names
    for what, cols in (("target", [target]), ("covariate", covariates or []), ("future", future or [])):
        unknown = [c for c in cols if c not in names]
        if unknown:
            raise DataError(f"unknown {what} column(s) {unknown}; the series has {names}")
    fut = list(dict.fromkeys(series.future + list(future or [])))
    if target in fut:
        raise ConfigError(
            f"the target {target!r} cannot also be a known-future covariate; drop it from data.future"
        )
    keep = names if covariates is None else list(dict.fromkeys([target, *covariates, *fut]))
    keep = [target] + [c for c in keep if c != target]
    idx = [names.index(c) for c in keep]
    return Series(series.values[:, idx], keep, series.time, [c for c in fut if c in keep], series.season)


log = logging.getLogger(__name__)
FEW_VALIDATION = 20  # fewer validation windows make early stopping, calibration and baseline choice noisy


class _WindowSet(Dataset):
    def __init__(self, w: Windows) -> None:
        self.x, self.xf, self.y = (torch.from_numpy(a) for a in (w.x, w.xf, w.y))

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> dict:
        return {"x": self.x[i], "xf": self.xf[i], "y": self.y[i], "index": i}


class ForecastDataModule(L.LightningDataModule):
    """Windows of one series split by time; the scaler is fit on the training rows only."""

    rank, world_size = 0, 1
    set_shard = SplitDataModule.set_shard  # data-parallel: this process's share of the training windows

    def __init__(
        self,
        series: Series,
        target: str,
        lookback: int,
        horizon: int,
        future: list[str] | None = None,
        val_fraction: float = 0.1,
        test_fraction: float = 0.2,
        train_stride: int = 1,
        straddle: bool = False,
        fill: str = "error",
        batch_size: int = 64,
        naive_season: int = 0,
        target_is_change: bool = False,
        name: str = "series",
        season: int = 0,
    ) -> None:
        super().__init__()
        if season < 0 or naive_season < 0:
            raise ConfigError(f"data.season must be >= 0 (0: inferred from the time step), got {season}")
        if batch_size < 1 or train_stride < 1:
            raise ConfigError(f"batch_size and train_stride must be >= 1, got {batch_size}, {train_stride}")
        if target not in series.names:
            raise DataError(f"unknown target column {target!r}; the series has {series.names}")
        if series.names[0] != target:  # baselines, direction and Forecaster(target_index=0) read column 0
            series = select_columns(series, target, None, None)
        self.series, self.target, self.name = series, target, name
        self.lookback, self.horizon, self.batch_size = lookback, horizon, batch_size
        self.future = list(dict.fromkeys(series.future + list(future or [])))
        self.val_fraction, self.test_fraction = val_fraction, test_fraction
        self.season = season or series.season  # MASE's scale and the seasonal-naive period
        self.naive_season = naive_season or self.season
        self.straddle, self.fill = straddle, fill
        self.straddle_auto = False  # make_forecast_datamodule turned straddle on for a short series
        self.target_is_change = target_is_change
        self.parts, self.scaler = chronological_windows(
            series.values,
            series.names,
            target,
            lookback,
            horizon,
            self.future,
            val_fraction,
            test_fraction,
            straddle=straddle,
            fill=fill,
        )
        for part in ("train", "val", "test"):
            if part not in self.parts:
                raise DataError(
                    f"the {part} part has no windows (data.{part}_fraction is 0 or the series is too short)"
                )
        self.train_stride = train_stride  # the loader's subsample; baselines still fit on every window
        first_val, _ = split_points(len(series.values), val_fraction, test_fraction)
        tr = self.target_values()[:first_val]
        if np.ptp(tr) == 0:
            raise DataError(
                f"target column {target!r} is constant ({tr[0]:g}) over all {len(tr)} training rows; there is "
                "nothing to learn - check that --target names the series you mean"
            )

    @property
    def n_features(self) -> int:
        return len(self.series.names)

    @property
    def scaler_target(self) -> tuple[float, float]:
        t = self.series.names.index(self.target)
        return float(self.scaler.mean[t]), float(self.scaler.std[t])

    def unscale(self, values: np.ndarray) -> np.ndarray:
        """Scaled target values back to the data's units."""
        return self.scaler.inverse(values, self.series.names.index(self.target))

    def target_values(self) -> np.ndarray:
        """The whole target column in data units, missing values filled as the windows were."""
        return fill_missing(self.series.values[:, :1], self.series.names[:1], self.fill)[:, 0]

    def train_rows(self) -> np.ndarray:
        """The target over the training part of the series (for MASE's in-sample scale), in data units."""
        first_val, _ = split_points(len(self.series.values), self.val_fraction, self.test_fraction)
        t = self.series.names.index(self.target)
        return self.series.values[:first_val, t]

    def _loader(self, w: Windows, shuffle: bool) -> DataLoader:
        # seed 0, as before resume existed; the training windows sharded across data-parallel ranks
        return epoch_loader(_WindowSet(w), self.batch_size, 0, shuffle, None, self.rank, self.world_size)

    def train_dataloader(self) -> DataLoader:
        w = self.parts["train"]
        if self.train_stride > 1:
            keep = np.arange(0, len(w), self.train_stride)
            w = Windows(w.x[keep], w.xf[keep], w.y[keep], w.origin[keep])
        return self._loader(w, True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.parts["val"], False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.parts["test"], False)

    def describe(self) -> dict:
        """data.json: what the windows are, the split times and the scaler (needed to forecast later)."""
        time = self.series.time
        parts = {}
        for k, w in self.parts.items():
            parts[k] = {
                "windows": len(w),
                "stride": self.train_stride if k == "train" else 1,
                "first_forecast": str(time[int(w.origin.min())]),
                "last_forecast": str(time[int(w.origin.max()) + self.horizon - 1]),
            }
        return {
            "name": self.name,
            "task": "forecast",
            "rows": len(self.series.values),
            "columns": self.series.names,
            "target": self.target,
            "future": self.future,
            "lookback": self.lookback,
            "horizon": self.horizon,
            "season": self.season,
            "naive_season": self.naive_season,
            "freq": _freq(time),
            "start": str(time[0]),
            "end": str(time[-1]),
            "straddle": self.straddle,
            "straddle_auto": self.straddle_auto,
            "target_is_change": self.target_is_change,
            "parts": parts,
            "scaler": self.scaler.to_dict(),
        }


def _freq(time) -> str | None:
    try:
        return str(time.freqstr) if time.freq is not None else None
    except AttributeError:
        return None


def make_forecast_datamodule(
    name: str,
    lookback: int,
    horizon: int,
    *,
    path: str | None = None,
    target: str | None = None,
    time_col: str | None = None,
    covariates: list[str] | None = None,
    future: list[str] | None = None,
    fill: str = "error",
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    train_stride: int = 1,
    straddle: bool = False,
    batch_size: int = 64,
    naive_season: int = 0,
    target_is_change: bool = False,
    season: int = 0,
) -> ForecastDataModule:
    """Load the named series (see `load_series`), keep the asked-for columns and cut the windows; the target
    defaults to the series' first column. A short series (no room for a validation window, or fewer than
    FEW_VALIDATION of them) straddles automatically: validation and test lookbacks read the part before."""
    series = load_series(name, path, target, time_col, covariates, future, fill)
    target = target or series.names[0]
    series = select_columns(series, target, covariates, future)
    kwargs = dict(
        future=future,
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        train_stride=train_stride,
        fill=fill,
        batch_size=batch_size,
        naive_season=naive_season,
        target_is_change=target_is_change,
        name=name,
        season=season,
    )
    if straddle:
        return ForecastDataModule(series, target, lookback, horizon, straddle=True, **kwargs)
    plain, why = None, None
    try:  # a clear "too short" before cutting (straddling parts need only the horizon)
        check_length(len(series.values), lookback, horizon, val_fraction, test_fraction)
        plain = ForecastDataModule(series, target, lookback, horizon, straddle=False, **kwargs)
        if len(plain.parts["val"]) >= FEW_VALIDATION:
            return plain
        why = f"its validation part holds only {len(plain.parts['val'])} lookback + horizon windows"
    except DataError as too_short:
        why = too_short
    # a short series: validation and test windows read their lookback from the part before
    try:
        wide = ForecastDataModule(series, target, lookback, horizon, straddle=True, **kwargs)
    except DataError:
        if plain is None:
            raise why from None
        return plain
    if plain is not None and len(wide.parts["val"]) <= len(plain.parts["val"]):
        return plain
    wide.straddle_auto = True
    log.warning(
        "a short series (%d rows, %s): validation and test windows read their lookback from the part "
        "before (data.straddle, chosen automatically)",
        len(series.values),
        why if isinstance(why, str) else f"lookback {lookback} + horizon {horizon} fit no part",
    )
    return wide
