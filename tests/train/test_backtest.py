"""`rnnlab backtest RUN`: the batched rolling-origin forecasts equal `rnnlab forecast --origin` at the same
origins (points and MC-dropout intervals), the files and table it writes, and its one-line errors."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from rnnlab.cli import main
from rnnlab.data.windows import Standardiser, Windows
from rnnlab.errors import ConfigError, DataError
from rnnlab.models.forecaster import Forecaster
from rnnlab.tasks.forecast.backtest import backtest_run
from rnnlab.tasks.forecast.mc_shared import mc_variance
from rnnlab.tasks.forecast.predict import forecast_run

N, LOOKBACK, H = 400, 24, 3


def _csv(path, n: int = N, drop_temp: bool = False) -> None:
    rng = np.random.default_rng(0)
    t = np.arange(n)
    df = pd.DataFrame(
        {
            "ts": pd.date_range("2024-01-01", periods=n, freq="h").strftime("%Y-%m-%d %H:%M"),
            "load": np.round(10 + np.sin(2 * np.pi * t / 24) + 0.1 * rng.standard_normal(n), 4),
            "temp": np.round(5 + np.cos(2 * np.pi * t / 24), 4),
        }
    )
    (df.drop(columns="temp") if drop_temp else df).to_csv(path, index=False)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A small forecasting run on a CSV: measured temperature known ahead, calendar features, MC dropout."""
    d = tmp_path_factory.mktemp("bt")
    _csv(d / "load.csv")
    args = ["train", "forecast", "--csv", str(d / "load.csv"), "--target", "load", "--time", "ts"]
    args += ["--future", "temp", "--lookback", str(LOOKBACK), "--horizon", str(H), "--epochs", "1"]
    args += [
        "--model.hidden",
        "8",
        "--model.dropout",
        "0.3",
        "--model.mc_samples",
        "4",
        "--out",
        str(d / "r"),
    ]
    assert main(args) == 0
    return d / "r"


def _err(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, f"want one 'error:' line, got: {err!r}"
    return err


def test_batched_backtest_equals_single_forecasts(run):
    bt = backtest_run(run)
    data = json.loads((run / "data.json").read_text())
    assert data["future"][0] == "temp" and bt.summary["measured_future"] == ["temp"]
    assert bt.summary["origins"] == N - int(round(N * 0.8)) - H + 1  # every row of the test span
    assert bt.summary["interval_exact"] and bt.lower is not None
    for i in (0, 7, bt.summary["origins"] - 1):
        fc = forecast_run(run, origin=str(bt.origin_time[i]))
        np.testing.assert_allclose(bt.point[i], fc.forecast, atol=1e-5)
        np.testing.assert_allclose(bt.lower[i], fc.lower, atol=1e-5)  # the same conformal half-width
        np.testing.assert_allclose(bt.upper[i], fc.upper, atol=1e-5)
        np.testing.assert_allclose(bt.y[i], fc.actual, atol=1e-9)
    assert (bt.upper - bt.lower).std() > 0  # the dropout spread varies by origin: not only the noise term
    assert {"model", "last_value", "seasonal_naive", "linear_ar", "linear_arx"} == set(bt.summary["errors"])
    np.testing.assert_allclose(bt.baselines["last_value"][1:, 0], bt.y[:-1, 0], rtol=1e-5)  # the row before
    every3 = backtest_run(run, step=3)
    np.testing.assert_allclose(every3.point, bt.point[::3], atol=1e-5)


def test_recurrent_dropout_is_flagged_approximate():
    torch.manual_seed(0)
    model = Forecaster(2, H, hidden=4, layers=2, dropout=0.5)
    w = Windows(
        np.zeros((5, 6, 2), np.float32), np.zeros((5, H, 0), np.float32), np.zeros((5, H)), np.arange(5)
    )
    var, exact = mc_variance(model, w, Standardiser(np.zeros(2), np.ones(2)), 3)
    assert not exact and var.shape == (5, H)
    assert "forward" not in vars(model.drop) and not model.training  # patches removed, eval mode back


def test_cli_writes_csv_json_png_and_a_table(run, tmp_path, capsys):
    out = tmp_path / "bt"
    assert main(["backtest", str(run), "--step", "2", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert (
        "backtest:" in printed
        and "model" in printed
        and "seasonal_naive" in printed
        and "interval" in printed
    )
    summary = json.loads((out / "backtest.json").read_text())
    rows = list(csv.DictReader((out / "backtest.csv").open()))
    assert len(rows) == summary["origins"] * H and rows[H - 1]["step"] == str(H)
    assert {"origin", "step", "actual", "forecast", "lower", "upper", "last_value", "linear_arx"} <= set(
        rows[0]
    )
    assert set(summary["errors"]["model"]) >= {"mae", "rmse", "mase", "by_horizon"}
    assert len(summary["coverage_by_horizon"]) == H and 0 <= summary["interval_coverage"] <= 1
    assert (out / "backtest.png").stat().st_size > 0


def test_newer_csv_extends_the_test_span(run, tmp_path):
    _csv(tmp_path / "newer.csv", n=N + 30)
    own, newer = backtest_run(run), backtest_run(run, tmp_path / "newer.csv")
    assert newer.summary["origins"] == own.summary["origins"] + 30
    np.testing.assert_allclose(newer.point[: len(own.point)], own.point, atol=1e-5)


def test_bad_inputs_are_one_line_errors(run, tmp_path, capsys):
    assert main(["backtest", str(run), "--step", "0"]) == 2
    assert "--step must be >= 1" in _err(capsys)
    _csv(tmp_path / "notemp.csv", drop_temp=True)
    assert main(["backtest", str(run), "--csv", str(tmp_path / "notemp.csv")]) == 2
    assert "temp" in _err(capsys)
    _csv(tmp_path / "short.csv", n=int(round(N * 0.8)) + H - 1)
    assert main(["backtest", str(run), "--csv", str(tmp_path / "short.csv")]) == 2
    assert "fewer than one horizon (3)" in _err(capsys)
    other = tmp_path / "other"
    shutil.copytree(run, other)
    data = json.loads((other / "data.json").read_text())
    (other / "data.json").write_text(json.dumps({**data, "task": "classify"}))
    assert main(["backtest", str(other)]) == 2
    assert "is not a forecasting run" in _err(capsys)
    with pytest.raises(ConfigError):
        backtest_run(run, step=-1)
    with pytest.raises(DataError):
        backtest_run(run, tmp_path / "short.csv")


@pytest.mark.parametrize("decoder, conv", [("direct", 0), ("autoregressive", 4)])
def test_mc_variance_equals_the_single_window_passes(decoder, conv):
    """Every window gets the masks `forecast_window` draws for it alone, also with a dropout call per decoder
    step and a convolutional front-end (reused across passes), over several batches."""
    from rnnlab.tasks.forecast.evaluate import mc_dropout_var
    from rnnlab.tasks.forecast.predict import _Unscale

    torch.manual_seed(0)
    model = Forecaster(
        3, H, n_future=1, hidden=6, layers=1, dropout=0.4, decoder=decoder, conv_channels=conv
    ).eval()
    rng = np.random.default_rng(0)
    n = 7
    w = Windows(
        rng.standard_normal((n, 10, 3)).astype(np.float32),
        rng.standard_normal((n, H, 1)).astype(np.float32),
        np.zeros((n, H), np.float32),
        np.arange(n),
    )
    scaler = Standardiser(np.array([2.0, 0, 0]), np.array([3.0, 1, 1]))
    var, exact = mc_variance(model, w, scaler, 5, batch=3)  # several batches share each pass's masks
    assert exact and var.min() > 0
    for i in range(n):
        one = Windows(w.x[i : i + 1], w.xf[i : i + 1], w.y[i : i + 1], w.origin[i : i + 1])
        np.testing.assert_allclose(
            var[i], mc_dropout_var(model, _Unscale(scaler), one, 5)[0], rtol=1e-5, atol=1e-9
        )


def test_csv_with_another_time_column_name(run, tmp_path, capsys):
    """A CSV whose time column is named otherwise: a one-line error, then --time names it."""
    _csv(tmp_path / "renamed.csv")
    df = pd.read_csv(tmp_path / "renamed.csv").rename(columns={"ts": "when"})
    df.to_csv(tmp_path / "renamed.csv", index=False)
    assert main(["backtest", str(run), "--csv", str(tmp_path / "renamed.csv"), "--out", str(tmp_path)]) == 2
    assert "'ts'" in _err(capsys)
    out = tmp_path / "o"
    args = ["backtest", str(run), "--csv", str(tmp_path / "renamed.csv"), "--time", "when", "--out", str(out)]
    assert main(args) == 0
    got = json.loads((out / "backtest.json").read_text())
    own = backtest_run(run).summary
    assert got["origins"] == own["origins"]
    assert got["errors"]["model"]["mae"] == pytest.approx(own["errors"]["model"]["mae"], abs=1e-6)


def test_backtest_scores_seasonal_naive_as_training_does_even_past_the_lookback():
    from rnnlab.tasks.forecast.backtest import cut_windows, run_baselines

    values = np.arange(100, dtype=float)[:, None]
    scaled = (values - 50.0) / 10.0
    data = {"lookback": 4, "horizon": 2, "scaler": {"mean": [50.0], "std": [10.0]}, "season": 12}
    w = cut_windows(scaled, np.array([20, 30]), 4, 2, [])
    out = run_baselines(values, scaled, w, data, [], train_end=60)
    np.testing.assert_allclose(out["seasonal_naive"], [[8, 9], [18, 19]])  # a season back, from the series
    np.testing.assert_allclose(out["last_value"], [[19, 19], [29, 29]])
    assert set(out) == {"last_value", "seasonal_naive", "linear_ar"}
    data["season"] = 1
    assert "seasonal_naive (season 1 = last value)" in run_baselines(values, scaled, w, data, [], train_end=60)
