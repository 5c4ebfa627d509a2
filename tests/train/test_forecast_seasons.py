"""Seasons of a user's series: inferred from the time step, overridable, seasonal naive always scored."""

import numpy as np
import pandas as pd

from rnnlab.cli_parser import parse_overrides
from rnnlab.data.forecastdata import make_forecast_datamodule
from rnnlab.tasks.forecast.evaluate import baseline_forecasts


def _weekly_csv(tmp_path, n=300, slope=0.01):
    t = pd.date_range("2000-01-03", periods=n, freq="7D")
    v = np.sin(2 * np.pi * np.arange(n) / 52) + slope * np.arange(n)
    path = tmp_path / "weekly.csv"
    pd.DataFrame({"date": t.strftime("%Y-%m-%d"), "value": v}).to_csv(path, index=False)
    return str(path)


def test_weekly_season_is_52_and_seasonal_naive_reads_past_a_short_lookback(tmp_path):
    dm = make_forecast_datamodule(
        "series", 12, 4, path=_weekly_csv(tmp_path), target="value", time_col="date"
    )
    assert dm.season == 52 and dm.describe()["season"] == 52
    b = baseline_forecasts(dm)
    assert "seasonal_naive" in b and b["seasonal_naive"].shape == (len(dm.parts["test"]), 4)


def test_season_override_and_season_one_is_named_last_value(tmp_path):
    assert parse_overrides(["--season", "1"]) == {"data.season": "1"}
    dm = make_forecast_datamodule(
        "series", 12, 4, path=_weekly_csv(tmp_path), target="value", time_col="date", season=1
    )
    b = baseline_forecasts(dm)
    np.testing.assert_array_equal(b["seasonal_naive (season 1 = last value)"], b["last_value"])


def test_auto_normalize_picks_window_for_a_drifting_target(tmp_path):
    from rnnlab.config import ModelConfig
    from rnnlab.tasks.forecast.data import choose_normalize, make_forecaster

    t = pd.date_range("2000-01-01", periods=200, freq="MS")
    v = np.arange(200.0) + np.sin(np.arange(200) / 2)
    path = tmp_path / "trend.csv"
    pd.DataFrame({"date": t.strftime("%Y-%m-%d"), "value": v}).to_csv(path, index=False)
    dm = make_forecast_datamodule("series", 6, 3, path=str(path), target="value", time_col="date")
    assert choose_normalize(ModelConfig(kind="Forecaster"), dm) == "window"
    assert make_forecaster(ModelConfig(kind="Forecaster", normalize="none"), dm).config["normalize"] == "none"
    flat = make_forecast_datamodule(
        "series", 24, 3, path=_weekly_csv(tmp_path, slope=0.0), target="value", time_col="date"
    )
    assert choose_normalize(ModelConfig(kind="Forecaster"), flat) == "level"
