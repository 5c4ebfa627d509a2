"""A sweep's optuna study: SQLite storage in SWEEP_DIR/study.db (rerunning the same command resumes it), a
seeded TPE sampler, a median pruner, the time budget, and the files a sweep leaves: trials.csv, best.yaml
(the best trial's full recipe, accepted by `rnnlab train SWEEP_DIR/best.yaml`) and report.html."""

from __future__ import annotations

import csv
import fcntl
import io
import logging
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import optuna
import yaml
from optuna.trial import TrialState

from rnnlab.config import Recipe, recipe_from_dict
from rnnlab.errors import ConfigError, RnnlabError
from rnnlab.sweep.objective import Objective, trial_dir, trial_recipe
from rnnlab.sweep.space import Param
from rnnlab.train.rundir import check_writable, write_atomic
from rnnlab.train.trainer import monitor_mode

STUDY = "rnnlab-sweep"
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


@dataclass
class SweepResult:
    path: Path
    study: optuna.Study
    ran: int  # trials started by this call
    seconds: float
    best: optuna.trial.FrozenTrial | None

    @property
    def files(self) -> list[Path]:
        names = ["study.db", "trials.csv", "best.yaml", "report.html"]
        return [self.path / n for n in names if (self.path / n).is_file()]


def open_study(sweep_dir: Path, base: Recipe, params: list[Param], monitor: str, pruner: str, n_trials: int):
    """Create SWEEP_DIR/study.db or load it. A study of another recipe, space or metric is refused (one line);
    trials left RUNNING by a killed process are marked failed and their values queued to run again."""
    sweep_dir.mkdir(parents=True, exist_ok=True)
    check_writable(sweep_dir, what="sweep directory")
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # each trial is one line of ours
    study = optuna.create_study(
        storage=f"sqlite:///{(sweep_dir / 'study.db').resolve()}",
        study_name=STUDY,
        direction="minimize" if monitor_mode(monitor) == "min" else "maximize",
        load_if_exists=True,
        pruner=optuna.pruners.MedianPruner(  # not in the first quarter of training: warm-up epochs are noise
            n_startup_trials=3, n_warmup_steps=max(1, base.train.max_epochs // 4)
        )
        if pruner == "median"
        else optuna.pruners.NopPruner(),
    )
    settings = {"recipe": base.to_dict(), "space": {p.key: p.to_dict() for p in params}, "monitor": monitor}
    stored = study.user_attrs
    if stored:
        differ = [k for k in settings if stored.get(k) != settings[k]]
        if differ:
            what = ", ".join(_differences(stored.get(k), settings[k], k) for k in differ)
            raise ConfigError(
                f"{sweep_dir} holds a sweep with other settings ({what}); rerun the command that started it "
                "to resume, or choose another --out"
            )
    else:
        for k, v in settings.items():
            study.set_user_attr(k, v)
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):  # killed mid-trial
        study._storage.set_trial_user_attr(t._trial_id, "interrupted", True)
        study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
        study.enqueue_trial(t.params)
    study.sampler = optuna.samplers.TPESampler(  # seeded, and offset so a resumed sweep draws new values
        seed=base.train.seed + len(study.trials), n_startup_trials=max(2, min(10, n_trials // 3))
    )
    return study


def _differences(old, new, key: str) -> str:
    if isinstance(old, dict) and isinstance(new, dict):
        keys = sorted(k for k in {*old, *new} if old.get(k) != new.get(k))
        inner = [
            _differences(old.get(k), new.get(k), f"{key}.{k}")
            if isinstance(new.get(k), dict)
            else f"{key}.{k}"
            for k in keys
        ]
        return ", ".join(inner) or key
    return key


def finished(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=FINISHED))


def run_sweep(
    sweep_dir: str | Path,
    base: Recipe,
    params: list[Param],
    monitor: str,
    trials: int,
    budget: float | None = None,
    trial_minutes: float | None = None,
    pruner: str = "median",
    say=print,
) -> SweepResult:
    """Run trials until `trials` have finished (completed or pruned, counting earlier runs of the same
    sweep) or `budget` minutes have passed (no trial starts after it). Each trial trains at most
    `trial_minutes` (default: twice an even share of the budget) and never past the budget's end."""
    sweep_dir = Path(sweep_dir)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    with one_process(sweep_dir):
        return _run(sweep_dir, base, params, monitor, trials, budget, trial_minutes, pruner, say)


@contextmanager
def one_process(sweep_dir: Path) -> Iterator[None]:
    """Hold SWEEP_DIR/sweep.lock while sweeping: a second process on the same directory would take the first
    one's running trial for a killed one. The kernel drops the lock when the process dies (kill -9 too)."""
    f = (sweep_dir / "sweep.lock").open("w")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.close()
        raise ConfigError(
            f"another rnnlab sweep is running in {sweep_dir}; wait for it to end or choose another --out"
        ) from None
    try:
        yield
    finally:
        fcntl.flock(f, fcntl.LOCK_UN)
        f.close()


def _run(sweep_dir, base, params, monitor, trials, budget, trial_minutes, pruner, say) -> SweepResult:
    study = open_study(sweep_dir, base, params, monitor, pruner, trials)
    done = finished(study)
    remaining = max(0, trials - done)
    t0 = time.monotonic()
    share = trial_minutes or (2 * budget / trials if budget else None)

    def cap() -> float | None:
        left = budget - (time.monotonic() - t0) / 60 if budget else None
        caps = [c for c in (share, left) if c is not None]
        return max(0.05, min(caps)) if caps else None

    if done:
        say(f"resuming {sweep_dir}: {done} trials finished, {remaining} to run")
    objective = Objective(base, params, sweep_dir, monitor, cap, say)
    try:
        if remaining:
            study.optimize(
                objective,
                n_trials=remaining,
                timeout=budget * 60 if budget else None,
                catch=(RnnlabError,),
                gc_after_trial=True,
            )
    finally:  # also after Ctrl-C: the files describe every trial so far
        best = write_outputs(sweep_dir, study, base, monitor)
    return SweepResult(sweep_dir, study, objective.calls, time.monotonic() - t0, best)


def best_trial(study: optuna.Study) -> optuna.trial.FrozenTrial | None:
    complete = [
        t
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if t.value is not None and math.isfinite(t.value)
    ]
    if not complete:
        return None
    pick = min if study.direction == optuna.study.StudyDirection.MINIMIZE else max
    return pick(complete, key=lambda t: t.value)


def seconds_of(t: optuna.trial.FrozenTrial) -> float | None:
    """How long the trial ran (None for one killed mid-run: its end is when the next run found it)."""
    if t.datetime_start and t.datetime_complete and not t.user_attrs.get("interrupted"):
        return round((t.datetime_complete - t.datetime_start).total_seconds(), 2)
    return None


def trial_rows(study: optuna.Study) -> tuple[list[str], list[list]]:
    """trials.csv's header and rows: number, state, value, seconds, run directory, then one column per key."""
    keys = list(study.user_attrs.get("space", {}))
    header = ["number", "state", "value", "seconds", "run", *keys]
    rows = []
    for t in study.trials:
        value = "" if t.value is None else t.value
        if t.state == TrialState.PRUNED and t.intermediate_values:  # its last reported value
            value = t.intermediate_values[max(t.intermediate_values)]
        rows.append(
            [
                t.number,
                t.state.name,
                value,
                seconds_of(t) or "",
                t.user_attrs.get("run", ""),
                *(t.params.get(k, "") for k in keys),
            ]
        )
    return header, rows


def write_outputs(sweep_dir: Path, study: optuna.Study, base: Recipe, monitor: str):
    """trials.csv, best.yaml (when a trial completed) and report.html; returns the best trial."""
    from rnnlab.sweep.report import write_report

    header, rows = trial_rows(study)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    write_atomic(sweep_dir / "trials.csv", buf.getvalue())
    best = best_trial(study)
    if best is not None:
        # the trial's own recipe, time cap included: under a time cap some schedules follow the clock
        # (train/optim.py), so the same recipe and seed give the same run; raise train.max_time to train longer
        recipe = trial_recipe(base, best.params, best.user_attrs.get("max_time"))
        ran = trial_dir(sweep_dir, best.number) / "config.yaml"
        if recipe.model.kind == "auto" and ran.is_file():  # what auto chose from the data, as the trial ran
            recipe = recipe_from_dict(yaml.safe_load(ran.read_text(encoding="utf-8")))
        head = (
            f"# rnnlab sweep: best of {len(rows)} trials in {sweep_dir}: trial {best.number}, "
            f"{monitor}={best.value:.6g} ({trial_dir(sweep_dir, best.number)})\n"
            f"# train it: rnnlab train {sweep_dir / 'best.yaml'}\n"
        )
        write_atomic(sweep_dir / "best.yaml", head + yaml.safe_dump(recipe.to_dict(), sort_keys=False))
    try:
        write_report(sweep_dir / "report.html", study, monitor, best)
    except Exception as e:  # the report must never lose the trials: say why and go on
        logging.getLogger("rnnlab.sweep").warning("report.html not written: %s", e)
    return best
