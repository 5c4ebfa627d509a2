"""One trial of a sweep: the recipe with the trial's sampled values, trained by the same driver as `rnnlab
train` into SWEEP_DIR/trials/NNNN, its monitored validation metric reported to optuna after every epoch and
the trial pruned when the pruner says so."""

from __future__ import annotations

import copy
import math
import time
from pathlib import Path

import optuna
from lightning import Callback, LightningModule, Trainer

from rnnlab.config import Recipe, apply_overrides
from rnnlab.errors import RnnlabError
from rnnlab.sweep.space import Param


class PruneOnValidation(Callback):
    """After each epoch's validation, report `monitor` to the optuna trial (step = epoch) and raise
    optuna.TrialPruned when its pruner says the trial is behind. Runs after rnnlab's own callbacks, so the
    epoch's metrics.csv row and checkpoints are written before a trial stops."""

    def __init__(self, trial: optuna.trial.Trial, monitor: str) -> None:
        self.trial = trial
        self.monitor = monitor
        self.last: float | None = None  # the last epoch's value (the trial's value under train.restore: last)

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        value = trainer.callback_metrics.get(self.monitor)
        if trainer.sanity_checking or value is None:
            return
        epoch = int(trainer.current_epoch)
        self.last = float(value)
        self.trial.report(self.last, step=epoch)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned after epoch {epoch + 1}: {self.monitor}={float(value):.4g}")


def trial_dir(sweep_dir: Path, number: int) -> Path:
    return Path(sweep_dir) / "trials" / f"{number:04d}"


def trial_recipe(base: Recipe, values: dict, max_time: float | None) -> Recipe:
    """The base recipe with a trial's sampled values (dotted keys) and its time cap in minutes."""
    recipe = copy.deepcopy(base)
    apply_overrides(recipe, values)
    if max_time is not None:
        recipe.train.max_time = min(recipe.train.max_time or math.inf, max_time)
    return recipe


class Objective:
    """optuna's objective: sample, train one run, return the validation value of the weights it keeps
    (results.json's `best_val[monitor]`; the last epoch's value when the recipe says train.restore: last).

    `cap`: () -> minutes the trial may train (None: the recipe's own max_time), read when the trial starts.
    `say` gets one line per finished trial."""

    def __init__(self, base: Recipe, params: list[Param], sweep_dir: Path, monitor: str, cap, say) -> None:
        self.base, self.params, self.dir, self.monitor = base, params, Path(sweep_dir), monitor
        self.cap, self.say = cap, say
        self.calls = 0  # trials started

    def __call__(self, trial: optuna.trial.Trial) -> float:
        from rnnlab.tasks.fit import fit_recipe

        self.calls += 1
        values = {p.key: p.suggest(trial) for p in self.params}
        run = trial_dir(self.dir, trial.number)
        trial.set_user_attr("run", str(run.relative_to(self.dir)))
        recipe = trial_recipe(self.base, values, self.cap())
        trial.set_user_attr("max_time", recipe.train.max_time)  # part of the trial's recipe (best.yaml)
        shown = " ".join(f"{k}={_short(v)}" for k, v in values.items())
        t0 = time.perf_counter()
        prune = PruneOnValidation(trial, self.monitor)
        try:
            result = fit_recipe(recipe, out=run, checkpoint_every=0, callbacks=[prune])
        except optuna.TrialPruned as e:
            self.say(f"trial {trial.number}: {e} [{time.perf_counter() - t0:.0f} s] {shown}")
            raise
        except RnnlabError as e:  # this trial's values fail (the sweep goes on; the trial is FAIL)
            self.say(f"trial {trial.number}: failed: {e} {shown}")
            raise
        # the value of the weights the run keeps: the best epoch's, or the last one's under restore: last
        value = (result.results.get("best_val") or {}).get(self.monitor)
        if recipe.train.restore == "last":
            value = prune.last
        self.say(
            f"trial {trial.number}: {self.monitor}={_short(value)} [{time.perf_counter() - t0:.0f} s] {shown}"
        )
        return float("nan") if value is None else float(value)


def _short(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)
