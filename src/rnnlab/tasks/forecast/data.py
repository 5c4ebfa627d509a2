"""Recipe -> forecasting datamodule and Forecaster (task 'forecast'); sizes come from the series."""

from __future__ import annotations

import numpy as np

from rnnlab.config import DataConfig, ModelConfig, Recipe
from rnnlab.data.forecastdata import ForecastDataModule, load_series, make_forecast_datamodule
from rnnlab.data.windows import Series
from rnnlab.errors import ConfigError
from rnnlab.models.forecaster import Forecaster


def _source(cfg: DataConfig) -> dict:
    """The data section's say on which series and how its CSV is read, as load_series' keyword arguments."""
    return {
        "path": cfg.path,
        "target": cfg.target,
        "time_col": cfg.time_col,
        "covariates": cfg.covariates,
        "future": cfg.future,
        "fill": cfg.fill,
    }


def load_recipe_series(cfg: DataConfig) -> Series:
    """The series the data section names (a built-in one, or the CSV at data.path for 'series')."""
    return load_series(cfg.name, **_source(cfg))


def make_series_datamodule(recipe: Recipe) -> ForecastDataModule:
    """Load the series and cut its windows (the recipe is checked first: ForecastTask.check)."""
    cfg = recipe.data
    return make_forecast_datamodule(
        cfg.name,
        cfg.lookback,
        cfg.horizon,
        **_source(cfg),
        val_fraction=cfg.val_fraction,
        test_fraction=cfg.test_fraction,
        train_stride=cfg.train_stride,
        straddle=cfg.straddle,
        batch_size=cfg.batch_size,
        naive_season=cfg.naive_season,
        season=cfg.season,
        target_is_change=cfg.target_is_change,
    )


DRIFT = 0.5  # |mean of the last fifth - mean of the first fifth| of the training target, in its std


def drift(train: np.ndarray) -> float:
    """How far the training target's level moves: last fifth's mean minus first fifth's, in standard deviations."""
    f = max(len(train) // 5, 1)
    sd = float(np.std(train))
    return float(abs(np.mean(train[-f:]) - np.mean(train[:f])) / sd) if sd > 0 else 0.0


def choose_normalize(cfg: ModelConfig, dm: ForecastDataModule) -> str:
    """model.normalize, with 'auto' resolved: 'window' when the training target drifts (a trend or a level
    shift: the test range is likely outside the training range), else 'level'."""
    if cfg.normalize != "auto":
        return cfg.normalize
    return "window" if drift(dm.train_rows()) > DRIFT else "level"


def make_forecaster(cfg: ModelConfig, dm: ForecastDataModule) -> Forecaster:
    """The recipe's Forecaster sized to the series (features, known-future columns, horizon)."""
    highway = dm.lookback if cfg.highway < 0 else cfg.highway  # -1: the whole lookback
    if highway > dm.lookback:
        raise ConfigError(f"model.highway {cfg.highway} exceeds data.lookback {dm.lookback}; lower it")
    return Forecaster(
        dm.n_features,
        dm.horizon,
        n_future=len(dm.future),
        target_index=0,
        cell=cfg.cell,
        hidden=cfg.hidden,
        layers=cfg.layers,
        dropout=cfg.dropout,
        decoder=cfg.decoder,
        conv_channels=cfg.conv_channels,
        conv_layers=cfg.conv_layers,
        conv_kernel=cfg.kernel,
        fast_path=cfg.fast_path,
        highway=highway,
        normalize=choose_normalize(cfg, dm),
        head=cfg.head,
    )
