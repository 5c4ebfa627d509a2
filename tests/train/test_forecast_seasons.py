"""Seasons of a user's series: inferred from the time step, overridable, seasonal naive always scored."""

import json

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


def test_a_baseline_that_wins_on_validation_is_named_and_forecast_with_fallback(tmp_path, capsys):
    from rnnlab.cli import main

    n = 400
    t = pd.date_range("2024-01-01", periods=n, freq="h")
    v = np.tile(np.array([5.0, 1, 3, 8, 2, 7, 4, 6, 0, 9, 3, 1] * 2), n // 24 + 1)[:n]  # exactly daily
    data = tmp_path / "periodic.csv"
    pd.DataFrame({"ts": t.strftime("%Y-%m-%d %H:%M"), "v": v}).to_csv(data, index=False)
    out = tmp_path / "r"
    args = ["train", "forecast", "--csv", str(data), "--target", "v", "--time", "ts", "--lookback", "24"]
    args += ["--horizon", "3", "--epochs", "1", "--model.hidden", "4", "--model.mc_samples", "2"]
    assert main([*args, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    r = json.loads((out / "results.json").read_text())
    assert r["best_on_validation"] == "seasonal_naive" and r["season"] == 24
    assert "seasonal naive beats the model on validation" in printed and "--fallback" in printed
    assert {"wql", "crps", "coverage"} <= set(r["test"]["model"]) and 0 <= r["test"]["model"]["wql"]
    assert r["test"]["seasonal_naive"]["mase"] == 0.0 and r["test"]["seasonal_naive"]["coverage"] == 1.0
    assert main(["forecast", str(out), "--fallback", "--plot", str(tmp_path / "p.png")]) == 0
    captured = capsys.readouterr()
    rows = [line.split(",") for line in captured.out.strip().splitlines()[1:]]
    assert [float(r[1]) for r in rows] == list(v[n - 24 : n - 21])  # one season back
    assert [float(r[2]) for r in rows] == list(v[n - 24 : n - 21])  # a zero-width conformal interval
    assert "forecast by seasonal_naive" in captured.err
    # without --fallback the model forecasts, with its split-conformal half-width per step (what serving uses)
    assert main(["forecast", str(out), "--plot", str(tmp_path / "p.png")]) == 0
    rows = [line.split(",") for line in capsys.readouterr().out.strip().splitlines()[1:]]
    half = [float(row[3]) - float(row[1]) for row in rows]
    np.testing.assert_allclose(half, r["interval_half_width"], rtol=1e-4, atol=1e-4)


def test_a_trending_monthly_series_trains_with_window_normalisation(tmp_path, capsys):
    from pathlib import Path

    from rnnlab.cli import main

    data = Path(__file__).parent.parent / "fixtures" / "rdatasets_a10.csv"
    out = tmp_path / "a10"
    args = [
        "train",
        "forecast",
        "--csv",
        str(data),
        "--target",
        "value",
        "--time",
        "date",
        "--lookback",
        "24",
    ]
    args += ["--horizon", "6", "--data.straddle", "true", "--epochs", "3", "--model.hidden", "16"]
    assert main([*args, "--model.mc_samples", "2", "--out", str(out)]) == 0
    r = json.loads((out / "results.json").read_text())
    assert r["normalize"] == "window" and r["season"] == 12 and "seasonal_naive" in r["test"]
    assert r["best_on_validation"] in r["test"] and r["interval_relative_to"] == "window_sd"
    assert np.isfinite([r["test"]["model"][k] for k in ("mase", "wql", "crps", "coverage")]).all()
    # --fallback forecasts with the validation winner; a linear AR from its saved coefficients
    capsys.readouterr()
    assert main(["forecast", str(out), "--fallback", "--plot", str(tmp_path / "p.png")]) == 0
    rows = [line.split(",") for line in capsys.readouterr().out.strip().splitlines()[1:]]
    fb = r["fallback"]
    if fb["name"] == "linear_ar":
        hist = pd.read_csv(data)["value"].to_numpy()[-24:]
        want = np.concatenate([hist, [1.0]]) @ np.asarray(fb["coef"])
        np.testing.assert_allclose([float(x[1]) for x in rows], want, rtol=1e-5)
    assert len(rows) == 6 and all(float(x[2]) <= float(x[1]) <= float(x[3]) for x in rows)
