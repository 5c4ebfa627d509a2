"""report.html and trials.csv of a sweep from in-memory studies: no completed trial, one, a parameter that never
varied, and the best value so far in both directions."""

from __future__ import annotations

import pytest

from rnnlab.config import Recipe

optuna = pytest.importorskip("optuna")
from rnnlab.sweep.objective import trial_recipe  # noqa: E402
from rnnlab.sweep.report import best_so_far, importance, write_report  # noqa: E402
from rnnlab.sweep.study import best_trial, trial_rows  # noqa: E402


def _study(values, direction="minimize", vary=True):
    study = optuna.create_study(direction=direction, sampler=optuna.samplers.RandomSampler(seed=0))
    study.set_user_attr("space", {"train.lr": {}, "model.cell": {}})
    for i, v in enumerate(values):
        t = study.ask()
        t.suggest_float("train.lr", 1e-4, 1e-2, log=True)
        t.suggest_categorical("model.cell", ["gru", "lstm"] if vary else ["gru"])
        t.set_user_attr("run", f"trials/{i:04d}")
        if v is None:
            study.tell(t, state=optuna.trial.TrialState.FAIL)
        else:
            study.tell(t, v)
    return study


@pytest.mark.parametrize(
    "values, direction, best",
    [
        ([3.0, 1.0, 2.0, 0.5], "minimize", [3.0, 1.0, 1.0, 0.5]),
        ([0.5, 0.9, 0.7], "maximize", [0.5, 0.9, 0.9]),
    ],
)
def test_best_so_far_follows_the_direction(values, direction, best):
    study = _study(values, direction)
    assert best_so_far(study)[2] == best
    assert best_trial(study).value == (min if direction == "minimize" else max)(values)


def test_too_few_trials_or_one_value_give_a_note_not_a_crash(tmp_path):
    imp, note = importance(_study([1.0]))
    assert imp == {} and "at least 2 completed trials" in note
    imp, note = importance(_study([1.0, 2.0, 3.0], vary=False))  # model.cell was gru in every trial
    assert set(imp) == {"train.lr"} and "model.cell" in note
    imp, note = importance(_study([1.0, 2.0, 3.0, 1.5]))
    assert set(imp) == {"train.lr", "model.cell"} and abs(sum(imp.values()) - 1) < 1e-6
    for values in ([], [None, None], [1.0]):
        study = _study(values)
        path = write_report(tmp_path / "report.html", study, "val_loss", best_trial(study))
        page = path.read_text()
        assert "<h2>Trials</h2>" in page and "Parameter importance" in page
        assert page.count("data:image/png") == (1 if values == [1.0] else 0)


def test_trials_csv_rows_and_the_trial_recipe():
    header, rows = trial_rows(_study([1.0, None]))
    assert header == ["number", "state", "value", "seconds", "run", "train.lr", "model.cell"]
    assert [r[1] for r in rows] == ["COMPLETE", "FAIL"] and rows[0][4] == "trials/0000"
    base = Recipe()
    base.train.max_time = 5.0
    r = trial_recipe(base, {"train.lr": 0.01, "model.cell": "rnn"}, max_time=2.0)
    assert (r.train.lr, r.model.cell, r.train.max_time) == (0.01, "rnn", 2.0)
    assert base.model.cell == "lstm" and base.train.max_time == 5.0  # the base recipe is untouched
    assert trial_recipe(base, {}, max_time=9.0).train.max_time == 5.0  # never longer than the recipe's own
