"""The built-in forecasting recipes on the real series (slow: fetches and trains): learned results, not mocks."""

from __future__ import annotations

import json

import pytest

from rnnlab.cli import main


@pytest.mark.slow
def test_electricity_daily_recipe_beats_seasonal_naive_and_linear_ar(tmp_path, capsys):
    assert main(["train", "electricity-daily", "--out", str(tmp_path / "run")]) == 0
    r = json.loads((tmp_path / "run" / "results.json").read_text())
    t = r["test"]
    assert t["model"]["mase"] < 0.8 * t["seasonal_naive"]["mase"]
    assert t["model"]["mase"] < t["linear_ar"]["mase"]
    assert 0.5 < r["interval_coverage"]["0.8"] <= 1.0
    assert main(["forecast", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("time,demand,lower_80,upper_80,actual") and len(out) == 2


@pytest.mark.slow
def test_prices_recipe_reports_direction_against_the_random_walk(tmp_path):
    assert main(["train", "prices", "--out", str(tmp_path / "run"), "--epochs", "3"]) == 0
    r = json.loads((tmp_path / "run" / "results.json").read_text())
    assert {"model", "zero_change", "last_value", "linear_ar"} <= set(r["test"])
    d = r["directional_accuracy"]["model"]
    assert d["n"] > 500 and d["ci95"][0] < d["accuracy"] < d["ci95"][1]
