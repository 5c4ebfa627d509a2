"""`rnnlab sweep` end to end on real HAR windows (tiny: 1-2 epochs of a small GRU per trial): the files, best.yaml
training with `rnnlab train`, resuming (also after a trial killed mid-run), the budget, and errors before any trial."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import yaml

from rnnlab.cli import main

optuna = pytest.importorskip("optuna")

SPACE = """\
train.lr: {low: 1.0e-3, high: 3.0e-2, log: true}
model.hidden: {choices: [8, 12]}
model.cell: {choices: [gru, rnn]}
"""


@pytest.fixture(autouse=True)
def _no_network(monkeypatch, tmp_path):
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path / "cache"))

    def no_pip(args):
        raise AssertionError(f"a unit test tried to run pip {args}")

    monkeypatch.setattr("rnnlab.data.sources._run_pip", no_pip)


@pytest.fixture
def setup(har_small, tmp_path):
    data = tmp_path / "mine.npz"
    np.savez(data, X=har_small.x, y=np.array([har_small.classes[i] for i in har_small.y]))
    space = tmp_path / "space.yaml"
    space.write_text(SPACE)
    return data, space


def _sweep(data, space, out, trials, *extra):
    argv = ["sweep", "classify", "--data", str(data), "--space", str(space), "--out", str(out)]
    argv += ["--trials", str(trials), "--epochs", "2", "--model.bidirectional", "false", *extra]
    return main(argv)


def _rows(out):
    with (out / "trials.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def _study(out):
    return optuna.load_study(study_name="rnnlab-sweep", storage=f"sqlite:///{out / 'study.db'}")


def test_sweep_writes_its_files_resumes_and_best_yaml_trains(setup, tmp_path, capsys):
    data, space = setup
    out = tmp_path / "sweep"
    assert _sweep(data, space, out, 2) == 0
    text = capsys.readouterr().out
    assert "trial 0:" in text and "trial 1:" in text and "best: trial" in text
    for name in ("study.db", "trials.csv", "best.yaml", "report.html"):
        assert (out / name).is_file(), name
    rows = _rows(out)
    assert [r["number"] for r in rows] == ["0", "1"]
    assert set(rows[0]) >= {"state", "value", "seconds", "train.lr", "model.hidden", "model.cell"}
    for r in rows:  # every trial is a normal run directory
        assert json.loads((out / r["run"] / "results.json").read_text())["best_val"]["val_loss"] > 0
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 2 and "Parameter importance" in page

    assert _sweep(data, space, out, 3) == 0  # resume: one more trial, the first two kept
    text = capsys.readouterr().out
    assert "2 trials finished, 1 to run" in text and "trial 2:" in text and "trial 0:" not in text
    assert len(_rows(out)) == 3 and len(list((out / "trials").iterdir())) == 3

    assert _sweep(data, space, out, 3) == 0  # nothing left to run
    assert "trial 3" not in capsys.readouterr().out

    best = out / "best.yaml"
    assert main(["train", str(best), "--out", str(tmp_path / "best_run")]) == 0
    trained = json.loads((tmp_path / "best_run" / "results.json").read_text())
    study = _study(out)
    assert trained["best_val"]["val_loss"] == pytest.approx(
        study.best_value, rel=1e-4
    )  # same recipe, same seed

    assert _sweep(data, space, out, 4, "--model.layers", "2") == 2  # another recipe in the same directory
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "other settings (recipe.model.layers)" in err


def test_a_trial_killed_mid_run_is_failed_and_run_again(setup, tmp_path, capsys):
    data, space = setup
    out = tmp_path / "sweep"
    assert _sweep(data, space, out, 1) == 0
    study = _study(out)  # what a killed process leaves: a RUNNING trial with its sampled values
    killed = study.ask()
    values = {
        "train.lr": killed.suggest_float("train.lr", 1e-3, 3e-2, log=True),
        "model.hidden": killed.suggest_categorical("model.hidden", [8, 12]),
        "model.cell": killed.suggest_categorical("model.cell", ["gru", "rnn"]),
    }
    assert _sweep(data, space, out, 2) == 0
    assert "1 trials finished, 1 to run" in capsys.readouterr().out
    trials = _study(out).trials
    assert trials[killed.number].state.name == "FAIL" and trials[killed.number].user_attrs["interrupted"]
    rerun = trials[-1]
    assert rerun.state.name in ("COMPLETE", "PRUNED") and rerun.params == values  # its values ran again
    rows = _rows(out)
    assert [r["state"] for r in rows].count("FAIL") == 1 and rows[killed.number]["seconds"] == ""


def test_the_budget_stops_new_trials(setup, tmp_path, capsys):
    data, space = setup
    out = tmp_path / "sweep"
    assert _sweep(data, space, out, 5, "--budget", "0.001", "--train.restore", "last") == 0
    rows = _rows(out)
    assert len(rows) == 1  # the first trial starts; none after the budget
    with (out / rows[0]["run"] / "metrics.csv").open(newline="") as f:
        last = list(csv.DictReader(f))[-1]
    # under restore: last the trial's value is the last epoch's (the weights the run keeps)
    assert float(rows[0]["value"]) == pytest.approx(float(last["val_loss"]), abs=1e-6)
    best = yaml.safe_load((out / "best.yaml").read_text())
    assert best["train"]["max_time"] == pytest.approx(0.05)  # the trial's cap is part of its recipe


def test_a_failing_trial_is_failed_and_the_sweep_goes_on(setup, tmp_path, capsys):
    data, _ = setup
    space = tmp_path / "zero.yaml"
    space.write_text(
        "model.layers: {choices: [0]}\nmodel.hidden: {choices: [8]}\n"
    )  # passes the recipe checks
    out = tmp_path / "sweep"
    assert _sweep(data, space, out, 2) == 0
    text = capsys.readouterr().out
    assert text.count("failed: num_layers must be >= 1") == 2 and "no trial completed" in text
    assert [r["state"] for r in _rows(out)] == ["FAIL", "FAIL"] and not (out / "best.yaml").exists()


@pytest.mark.parametrize(
    "space_text, match",
    [
        ("model.hiden: {choices: [8, 12]}\n", "unknown key 'model.hiden'"),
        ("train.lr: {low: 0.1, high: 0.01}\n", "low must be below high"),
    ],
)
def test_a_bad_space_fails_before_any_trial(setup, tmp_path, capsys, space_text, match):
    data, _ = setup
    bad = tmp_path / "bad.yaml"
    bad.write_text(space_text)
    out = tmp_path / "sweep"
    assert _sweep(data, bad, out, 2) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and match in err and "--space" in err
    assert not out.exists()


@pytest.mark.parametrize(
    "extra, match",
    [
        (["--trials", "0"], "--trials must be at least 1"),
        (["--budget", "-1"], "--budget is in minutes"),
        (["--trial-minutes", "0"], "--trial-minutes must be positive"),
        (["--model.cel", "gru"], "unknown recipe key 'model.cel'"),
    ],
)
def test_bad_command_lines_are_one_line_errors(tmp_path, capsys, extra, match):
    assert main(["sweep", "classify", "--out", str(tmp_path / "s"), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and match in err
    assert not (tmp_path / "s").exists()


def test_a_second_process_on_the_same_sweep_is_refused(setup, tmp_path, capsys):
    import fcntl

    data, space = setup
    out = tmp_path / "sweep"
    out.mkdir()
    with (out / "sweep.lock").open("w") as held:  # what a running sweep holds
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert _sweep(data, space, out, 1) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "another rnnlab sweep is running" in err
    assert not (out / "study.db").exists()
