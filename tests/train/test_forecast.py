"""Forecast training (rnnlab.fit) end to end on a learnable synthetic series, and `rnnlab train forecast` on the user's CSV,
with its one-line errors (exit code 2)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pandas as pd
import pytest
import torch

import rnnlab
from rnnlab.cli import main
from rnnlab.config import ModelConfig, Recipe
from rnnlab.data.forecastdata import ForecastDataModule
from rnnlab.data.windows import Series
from rnnlab.models.forecaster import Forecaster
from rnnlab.tasks.forecast.evaluate import baseline_forecasts, evaluate_forecast
from rnnlab.train.rundir import open_run

METRICS = {"mae", "rmse", "smape", "mase"}


def _sine(n: int = 800, noise: float = 0.05, seed: int = 0) -> Series:
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=float)
    y = np.sin(2 * np.pi * t / 24) + noise * rng.standard_normal(n)
    time = pd.date_range("2024-01-01", periods=n, freq="h")
    return Series(y[:, None], ["y"], time, [], 24)


def _recipe() -> Recipe:
    model = ModelConfig(kind="Forecaster", hidden=16, layers=1, dropout=0.1, mc_samples=5)
    return Recipe(name="sine", task="forecast", model=model)


def _model(dm: ForecastDataModule) -> Forecaster:
    torch.manual_seed(0)
    return Forecaster(dm.n_features, dm.horizon, n_future=len(dm.future), hidden=16, layers=1, dropout=0.1)


def test_fit_forecast_learns_a_sine_and_writes_the_run(tmp_path):
    dm = ForecastDataModule(_sine(), "y", lookback=48, horizon=6, batch_size=32, name="sine")
    model = _model(dm)
    run = rnnlab.fit(model, dm, recipe=_recipe(), out=tmp_path / "run", max_epochs=8, lr=1e-2, patience=0)
    results = json.loads((run.path / "results.json").read_text())
    assert results == json.loads(json.dumps(run.results))
    test = results["test"]
    assert {"model", "seasonal_naive", "last_value", "linear_ar"} <= set(test)
    assert "zero_change" not in test
    for name, m in test.items():
        assert METRICS <= set(m), name
        assert all(len(v) == 6 for v in m["by_horizon"].values()), name
    assert set(results["interval_coverage"]) == {"0.8"}
    assert 0.0 <= results["interval_coverage"]["0.8"] <= 1.0
    assert isinstance(results["train_seconds"], float) and results["train_seconds"] >= 0
    assert results["n_windows"] == len(dm.parts["test"])
    # learned, not mocked: six steps ahead the last value is far off a 24-step cycle, the model is not
    assert test["model"]["mase"] < 0.25 * test["last_value"]["mase"], test
    assert test["model"]["mae"] < test["last_value"]["mae"]

    rows = list(csv.DictReader((run.path / "forecasts.csv").open()))
    assert len(rows) == results["n_windows"] * 6
    assert {"origin", "step", "time", "actual", "forecast", "lower", "upper", "last_value"} <= set(rows[0])
    first = int(dm.parts["test"].origin[0])
    assert rows[0]["origin"] == str(dm.series.time[first]) and rows[5]["step"] == "6"
    actual = np.array([float(r["actual"]) for r in rows[:6]])
    np.testing.assert_allclose(actual, dm.series.values[first : first + 6, 0], rtol=1e-4, atol=1e-5)
    assert all(float(r["lower"]) <= float(r["forecast"]) <= float(r["upper"]) for r in rows)
    for f in ("forecast.png", "error_by_horizon.png", "model.json", "model.safetensors", "data.json"):
        assert (run.path / f).is_file() and (run.path / f).stat().st_size > 0, f
    again = open_run(run.path).model  # the saved weights are the evaluated ones
    x, xf = torch.from_numpy(dm.parts["test"].x[:4]), torch.from_numpy(dm.parts["test"].xf[:4])
    model.eval()
    torch.testing.assert_close(again.eval()(x, xf), model(x, xf))


def test_target_is_change_adds_a_zero_change_baseline():
    s = _sine(300)
    dm = ForecastDataModule(s, "y", lookback=24, horizon=3, target_is_change=True)
    base = baseline_forecasts(dm)
    assert "zero_change" in base and base["zero_change"].shape == (len(dm.parts["test"]), 3)
    assert not base["zero_change"].any()
    ev = evaluate_forecast(_model(dm), dm, mc_samples=2)
    assert "zero_change" in ev.metrics["test"]
    assert "zero_change" not in ev.metrics["directional_accuracy"]  # a flat forecast has no direction
    plain = ForecastDataModule(s, "y", lookback=24, horizon=3)
    assert "zero_change" not in baseline_forecasts(plain)


# --- the command line -------------------------------------------------------------------------------------


def _write_csv(path, n: int = 400, drop: int | None = None, bad: tuple[int, str] | None = None) -> None:
    rng = np.random.default_rng(0)
    t = np.arange(n)
    df = pd.DataFrame(
        {
            "ts": pd.date_range("2024-01-01", periods=n, freq="h").strftime("%Y-%m-%d %H:%M"),
            "load": np.round(10 + np.sin(2 * np.pi * t / 24) + 0.1 * rng.standard_normal(n), 4),
            "temp": np.round(5 + np.cos(2 * np.pi * t / 24), 4),
        }
    )
    if bad is not None:
        df["load"] = df["load"].astype(object)
        df.loc[bad[0], "load"] = bad[1]
    if drop is not None:
        df = df.drop(index=drop)
    df.to_csv(path, index=False)


def _args(path, out, *extra: str) -> list[str]:
    return [
        "train",
        "forecast",
        "--csv",
        str(path),
        "--target",
        "load",
        "--time",
        "ts",
        "--covariates",
        "temp",
        "--lookback",
        "24",
        "--horizon",
        "3",
        "--epochs",
        "2",
        "--model.hidden",
        "8",
        "--model.mc_samples",
        "3",
        "--out",
        str(out),
        *extra,
    ]


def _err(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, f"want one 'error:' line, got: {err!r}"
    return err


def test_cli_trains_a_forecaster_on_a_csv(tmp_path, capsys):
    data = tmp_path / "load.csv"
    _write_csv(data)
    out = tmp_path / "r"
    assert main(_args(data, out)) == 0
    printed = capsys.readouterr().out
    assert "target 'load'" in printed and "lookback 24 -> horizon 3" in printed and str(out) in printed
    results = json.loads((out / "results.json").read_text())
    assert {"model", "last_value", "seasonal_naive", "linear_ar", "linear_arx"} <= set(results["test"])
    d = json.loads((out / "data.json").read_text())
    assert d["columns"] == ["load", "temp", "dow_sin", "dow_cos", "tod_sin", "tod_cos"]
    assert d["season"] == 24 and d["freq"] == "h"
    assert (out / "forecasts.csv").is_file() and (out / "forecast.png").is_file()
    # the classifier verbs on a forecasting run: one line naming the verb and the run's kind
    for verb in (["evaluate", str(out)], ["predict", str(out), "--data", str(data)]):
        assert main(verb) == 2
        err = capsys.readouterr().err.strip()
        assert f"`rnnlab {verb[0]}` does not support 'forecast' runs" in err and "\n" not in err


def test_cli_gap_in_time_names_the_timestamps(tmp_path, capsys):
    data = tmp_path / "gap.csv"
    _write_csv(data, drop=100)  # 2024-01-05 04:00 is missing
    assert main(_args(data, tmp_path / "r")) == 2
    err = _err(capsys)
    assert "gap" in err and "2024-01-05 03:00:00" in err and "2024-01-05 05:00:00" in err
    assert not (tmp_path / "r" / "results.json").exists()


def test_cli_non_numeric_target_names_the_row(tmp_path, capsys):
    data = tmp_path / "bad.csv"
    _write_csv(data, bad=(7, "n/a?"))
    assert main(_args(data, tmp_path / "r")) == 2
    err = _err(capsys)
    assert "'load'" in err and "'n/a?'" in err and "row 7 (line 9 of the file)" in err


def test_cli_series_too_short_for_the_lookback(tmp_path, capsys):
    data = tmp_path / "short.csv"
    _write_csv(data, n=30)  # (100 rows would straddle automatically; 30 leave too few training rows)
    assert main(_args(data, tmp_path / "r")) == 2
    err = _err(capsys)
    assert "30 rows" in err and "lookback 24" in err and "at least 270 rows" in err


@pytest.mark.parametrize(
    "flag, value, what",
    [
        ("--target", "lod", "unknown target column 'lod'"),
        ("--covariates", "tmp", "unknown covariate column 'tmp'"),
    ],
)
def test_cli_unknown_column_names_it(tmp_path, capsys, flag, value, what):
    data = tmp_path / "load.csv"
    _write_csv(data)
    args = _args(data, tmp_path / "r")
    args[args.index(flag) + 1] = value
    assert main(args) == 2
    err = _err(capsys)
    assert what in err and "'load'" in err  # the message lists the file's columns


def test_cli_forecast_past_the_end_from_an_origin_and_from_a_new_csv(tmp_path, capsys):
    data, out = tmp_path / "load.csv", tmp_path / "r"
    _write_csv(data)
    assert main(_args(data, out)) == 0
    capsys.readouterr()
    assert main(["forecast", str(out)]) == 0  # calendar-only future: forecasts the 3 hours after the last row
    rows = list(csv.reader(capsys.readouterr().out.splitlines()))
    assert rows[0] == ["time", "load", "lower_80", "upper_80", "actual"] and len(rows) == 4
    last = pd.Timestamp(pd.read_csv(data)["ts"].iloc[-1])
    assert [pd.Timestamp(r[0]) for r in rows[1:]] == [last + pd.Timedelta(hours=k) for k in (1, 2, 3)]
    for r in rows[1:]:
        lo, f, hi = float(r[2]), float(r[1]), float(r[3])
        assert lo < f < hi and 7 < f < 13 and r[4] == ""
    assert (out / "forecast_latest.png").is_file()

    assert main(["forecast", str(out), "--origin", "2024-01-10 05:00", "--horizon", "2"]) == 0
    rows = list(csv.reader(capsys.readouterr().out.splitlines()))
    assert len(rows) == 3 and rows[1][0].startswith("2024-01-10 05:00") and rows[1][4] != ""

    newer = tmp_path / "newer.csv"
    _write_csv(newer, n=450)
    assert main(["forecast", str(out), "--csv", str(newer), "--plot", str(tmp_path / "p.png")]) == 0
    rows = list(csv.reader(capsys.readouterr().out.splitlines()))
    assert pd.Timestamp(rows[1][0]) == pd.Timestamp(pd.read_csv(newer)["ts"].iloc[-1]) + pd.Timedelta(hours=1)
    assert (tmp_path / "p.png").is_file()

    assert main(["forecast", str(out), "--horizon", "5"]) == 2
    assert "outside 1..3" in _err(capsys)


def test_cli_forecast_with_a_measured_future_covariate_uses_the_last_rows(tmp_path, capsys):
    data, out = tmp_path / "load.csv", tmp_path / "r"
    _write_csv(data)
    assert main(_args(data, out, "--future", "temp")) == 0
    capsys.readouterr()
    assert main(["forecast", str(out)]) == 0  # temp ahead is needed: the last 3 rows supply it
    rows = list(csv.reader(capsys.readouterr().out.splitlines()))
    tail = pd.read_csv(data).tail(3)
    assert [r[0][:16] for r in rows[1:]] == list(tail["ts"]) and all(r[4] for r in rows[1:])
    wrong = tmp_path / "wrong.csv"
    pd.read_csv(data).rename(columns={"temp": "t2"}).to_csv(wrong, index=False)
    assert main(["forecast", str(out), "--csv", str(wrong)]) == 2
    assert "temp" in _err(capsys)
