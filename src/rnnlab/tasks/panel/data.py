"""Recipe -> panel datamodule and GlobalForecaster (task 'panel'); sizes come from the panel."""

from __future__ import annotations

from rnnlab.config import ModelConfig, Recipe
from rnnlab.data.panel import load_panel
from rnnlab.data.panel_windows import PanelDataModule
from rnnlab.models.global_forecaster import GlobalForecaster


def make_panel_datamodule(recipe: Recipe) -> PanelDataModule:
    """Load the recipe's panel (built-in or CSV) and cut its windows."""
    d = recipe.data
    panel = load_panel(d.name, d.path, d.id_col, d.time_col, d.target, d.static, d.season)
    return PanelDataModule(panel, d.lookback, d.horizon, d.batch_size, d.val_origins, name=d.name)


def make_global_forecaster(cfg: ModelConfig, dm: PanelDataModule) -> GlobalForecaster:
    """The recipe's GlobalForecaster sized to the panel (series, static categories, calendar, season)."""
    return GlobalForecaster(
        len(dm.panel.ids),
        dm.static_sizes,
        dm.n_calendar,
        dm.lookback,
        dm.horizon,
        season=dm.panel.season,
        cell=cfg.cell,
        hidden=cfg.hidden,
        layers=cfg.layers,
        dropout=cfg.dropout,
        likelihood=cfg.likelihood,
        anchor=cfg.anchor,
    )
