"""`rnnlab bench tsc` end to end on real GunPoint / JapaneseVowels rows (fixture .ts files), a couple of epochs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rnnlab.benchmark.tsc import load_set, neural_recipe, ranks, run, sizing
from rnnlab.cli import main
from rnnlab.errors import ConfigError

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "tsc"


def test_bench_tsc_cli_end_to_end(tmp_path, capsys):
    sets = f"{FIX / 'GunPointSmall'},{FIX / 'JapaneseVowelsSmall'}"
    out_json, out_md = tmp_path / "tsc.json", tmp_path / "tsc.md"
    args = ["bench", "tsc", "--sets", sets, "--models", "lstm,cnn_lstm,lstm_fcn,1nn_dtw,minirocket"]
    args += ["--epochs", "2", "--out", str(tmp_path / "runs"), "--json", str(out_json), "--md", str(out_md)]
    assert main(args) == 0
    summary = json.loads(out_json.read_text())
    assert summary["sets"] == ["GunPointSmall", "JapaneseVowelsSmall"]
    assert set(summary["accuracy"]["GunPointSmall"]) == {
        "lstm",
        "cnn_lstm",
        "lstm_fcn",
        "1nn_dtw",
        "minirocket",
    }
    assert summary["accuracy"]["GunPointSmall"]["1nn_dtw"] >= 0.8
    assert all(0 <= a <= 1 for accs in summary["accuracy"].values() for a in accs.values())
    assert sorted(summary["mean_rank"].values())[0] >= 1
    neural = [r for r in summary["rows"] if r["model"] == "lstm_fcn"]
    assert len(neural) == 2 and all(
        r["epochs"] >= 1 and Path(r["run"], "results.json").is_file() for r in neural
    )
    table = out_md.read_text()
    assert "| mean rank |" in table and "GunPointSmall (12/16, 1 ch x 150, 2 cl)" in table
    assert "JapaneseVowelsSmall (18/9, 12 ch x 10-26, 9 cl)" in capsys.readouterr().out


def test_sizing_and_recipe():
    s = load_set(str(FIX / "GunPointSmall"))
    size = sizing(s)
    assert size["hidden"] == 32 and size["batch_size"] == 16 and 40 <= size["max_epochs"] <= 300
    r = neural_recipe("cnn_lstm", s, seed=1, max_time=2.0, epochs=None)
    assert r.model.conv_channels == 32 and r.train.seed == 1 and r.train.max_time == 2.0
    assert neural_recipe("lstm_fcn", s, 0, None, 5).model.kind == "LSTMFCN"


def test_ranks_share_ties():
    r = ranks({"a": {"x": 0.9, "y": 0.9, "z": 0.5}, "b": {"x": 1.0, "y": 0.8, "z": 0.7}}, ["x", "y", "z"])
    assert r == {"x": 1.25, "y": 1.75, "z": 3.0}


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(sets="nosuchset"), "unknown set 'nosuchset'"),
        (dict(models="lstm,svm"), r"unknown model \['svm'\]"),
        (dict(seeds=0), "--seeds must be >= 1"),
    ],
)
def test_bad_arguments_are_one_line(kwargs, match, tmp_path):
    with pytest.raises(ConfigError, match=match):
        run(out=tmp_path, echo=lambda _: None, **kwargs)
