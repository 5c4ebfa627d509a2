"""Recipe -> forecasting datamodule and Forecaster (task 'forecast'); sizes come from the series."""

from __future__ import annotations

from rnnlab.config import ModelConfig, Recipe
from rnnlab.data.forecastdata import ForecastDataModule, make_forecast_datamodule
from rnnlab.errors import ConfigError
from rnnlab.models.forecaster import Forecaster


def make_series_datamodule(recipe: Recipe) -> ForecastDataModule:
    """Load the series and cut its windows (the recipe is checked first: ForecastTask.check)."""
    return make_forecast_datamodule(recipe.data)


def make_forecaster(cfg: ModelConfig, dm: ForecastDataModule) -> Forecaster:
    """The recipe's Forecaster sized to the series (features, known-future columns, horizon)."""
    if cfg.highway > dm.lookback:
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
        highway=cfg.highway,
    )
