"""Validate a recipe's names before any data is fetched, so a typo fails in a second, not after a download:
the task's own lists (data sets, model kinds, monitored metrics) and the names every kind shares."""

from __future__ import annotations

from rnnlab.config import Recipe
from rnnlab.data.textclass import LEVELS
from rnnlab.data.windows import FILL_METHODS
from rnnlab.errors import ConfigError
from rnnlab.models.classifier import RAGGED
from rnnlab.models.forecaster import DECODERS
from rnnlab.models.heads import READOUTS
from rnnlab.models.seq2seq import ATTENTION_KINDS
from rnnlab.nn.layers import LAYER_KINDS, LAYER_OPTIONS
from rnnlab.nn.recurrent import CELL_STATE_CELLS, FAST_PATH_MODES
from rnnlab.nn.regularize import INITS, check_rate
from rnnlab.tasks.contract import Task
from rnnlab.train.optim import SCHEDULES
from rnnlab.train.precision import PRECISIONS, check_precision


def check_names(checks: list[tuple[str, object, tuple | list]]) -> None:
    """Raise one line for the first (key, value, allowed) whose value is not allowed."""
    for key, value, allowed in checks:
        if value not in allowed:
            word = "cell" if key == "model.cell" else key
            raise ConfigError(f"unknown {word} {value!r} for {key}; choose one of {sorted(allowed)}")


def check_recipe(recipe: Recipe, task: Task) -> None:
    """The task's names, then those of the layers, heads, schedule and data handling, then the task's own
    checks (Task.check)."""
    m, d, t = recipe.model, recipe.data, recipe.train
    check_names(
        [
            ("data.name", d.name, task.data_names),
            ("model.kind", m.kind, task.model_kinds),
            ("model.cell", m.cell, LAYER_KINDS),
            ("model.readout", m.readout, READOUTS),
            ("model.fast_path", m.fast_path, FAST_PATH_MODES),
            ("train.schedule", t.schedule, SCHEDULES),
            ("train.monitor", t.monitor, task.monitors),
            ("model.decoder", m.decoder, DECODERS),
            ("model.attention", m.attention, ATTENTION_KINDS),
            ("train.restore", t.restore, ("best", "last")),
            ("data.level", d.level, LEVELS),
            ("model.ragged", m.ragged, RAGGED),
            ("data.fill", d.fill, FILL_METHODS),
        ]
    )
    check_names([("model.init", m.init, INITS), ("train.precision", t.precision, PRECISIONS)])
    check_precision(t.precision)
    for key, rate in (
        ("model.weight_drop", m.weight_drop),
        ("model.locked_dropout", m.locked_dropout),
        ("model.embed_dropout", m.embed_dropout),
        ("model.zoneout", m.zoneout),
        ("model.zoneout_c", m.zoneout_c or 0.0),
        ("train.label_smoothing", t.label_smoothing),
        ("train.state_reset", t.state_reset),
    ):
        check_rate(key, rate)
    if m.zoneout_c is not None and m.cell not in CELL_STATE_CELLS:
        raise ConfigError(
            f"model.zoneout_c zones the LSTM's cell state, and model.cell {m.cell!r} has none; use "
            "model.zoneout alone, or leave model.zoneout_c unset"
        )
    if m.proj_size < 0 or (m.proj_size and m.proj_size >= m.hidden):
        raise ConfigError(
            f"model.proj_size must be 0 (none) or in [1, model.hidden={m.hidden}), got {m.proj_size}"
        )
    if t.ar < 0 or t.tar < 0:
        raise ConfigError(f"train.ar and train.tar must be >= 0 (0 = off), got {t.ar} and {t.tar}")
    check_kit_applies(recipe)
    if d.bptt < 1 or d.batch_size < 1:
        raise ConfigError(f"data.bptt and data.batch_size must be >= 1, got {d.bptt} and {d.batch_size}")
    task.check(recipe)



def check_kit_applies(recipe: Recipe) -> None:
    """The regularisation kit's keys (issue 18) only where a model reads them, so none is silently ignored:
    the layer options on CharLM and SequenceClassifier, embed_dropout on CharLM, train.ar/tar on task charlm,
    train.state_reset on task charlm with carry, train.label_smoothing on task classify."""
    m, t = recipe.model, recipe.train
    kinds = {k: ("CharLM", "SequenceClassifier") for k in LAYER_OPTIONS} | {"embed_dropout": ("CharLM",)}
    for key, where in kinds.items():
        default = LAYER_OPTIONS.get(key, 0.0)
        if getattr(m, key) != default and m.kind not in where:
            raise ConfigError(
                f"model.{key} applies to {' and '.join(where)}, not {m.kind}; leave it at {default!r}"
            )
    if (t.ar or t.tar) and recipe.task != "charlm":
        raise ConfigError(f"train.ar and train.tar apply to task charlm, not {recipe.task}; leave them at 0")
    if t.state_reset and (recipe.task != "charlm" or not recipe.data.carry):
        raise ConfigError(
            f"train.state_reset applies to task charlm with data.carry true (here task {recipe.task}, carry "
            f"{recipe.data.carry}); leave it at 0"
        )
    if t.label_smoothing and recipe.task != "classify":
        raise ConfigError(f"train.label_smoothing applies to task classify, not {recipe.task}; leave it at 0")
