"""The search space of `rnnlab sweep`: dotted recipe keys (the same as `--model.hidden 64`) -> a range
{low, high[, log]} or {choices: [...]}; defaults per task kind and model, checked against the recipe before
any trial trains (one-line errors naming the key and what is allowed)."""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from dataclasses import dataclass
from typing import Any

from rnnlab.config import Recipe, _nearest, apply_overrides
from rnnlab.errors import ConfigError, RnnlabError

SPEC_FIELDS = ("low", "high", "log", "choices")
RECURRENT_KINDS = (
    "SequenceClassifier",
    "SequenceTagger",
    "CharLM",
    "Forecaster",
    "GlobalForecaster",
    "Seq2Seq",
    "Captioner",
)
CELLS = ["rnn", "lstm", "gru"]
SECTIONS = ("data", "model", "train")


@dataclass(frozen=True)
class Param:
    """One searched recipe key: a numeric range (int or float, optionally log-uniform) or a list of choices."""

    key: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple | None = None
    integer: bool = False

    def suggest(self, trial) -> Any:
        """The trial's value for this key (optuna's suggest_*; the key is the parameter's name)."""
        if self.choices is not None:
            return trial.suggest_categorical(self.key, list(self.choices))
        if self.integer:
            return trial.suggest_int(self.key, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(self.key, float(self.low), float(self.high), log=self.log)

    def to_dict(self) -> dict:
        if self.choices is not None:
            return {"choices": list(self.choices)}
        return {"low": self.low, "high": self.high, "log": self.log}


def recipe_keys(recipe: Recipe) -> list[str]:
    """Every dotted key a recipe (and so a sweep) can set: data.*, model.*, train.*."""
    return [f"{s}.{f.name}" for s in SECTIONS for f in dataclasses.fields(getattr(recipe, s))]


def _field_type(recipe: Recipe, key: str) -> Any:
    section, name = key.split(".", 1)
    typ = typing.get_type_hints(type(getattr(recipe, section)))[name]
    if typing.get_origin(typ) in (typing.Union, types.UnionType):  # int | None -> int
        args = [a for a in typing.get_args(typ) if a is not type(None)]
        typ = args[0] if len(args) == 1 else typ
    return typ


def _check_key(key: str, recipe: Recipe, where: str) -> None:
    section, _, name = key.partition(".")
    if section in SECTIONS and name:
        fields = [f.name for f in dataclasses.fields(getattr(recipe, section))]
        if name in fields:
            return
        hint = _nearest(name, fields)
        raise ConfigError(
            f"unknown key {key!r} in {where}; {hint} (allowed: dotted recipe keys, {section}.* is one of "
            f"{', '.join(fields)})"
        )
    close = _nearest(key, recipe_keys(recipe))
    close = close if close.startswith("did you mean") else ""
    raise ConfigError(
        f"unknown key {key!r} in {where}; {close + ' ' if close else ''}(allowed: dotted recipe keys "
        f"data.*, model.*, train.* such as model.hidden or train.lr)"
    )


def _number(value: Any, key: str, what: str, where: str) -> float:
    if isinstance(value, str):  # YAML reads 1e-4 (no dot) as a string
        try:
            value = float(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{key}: {what} must be a number, got {value!r} (in {where})")
    return value


def _flatten(space: dict, where: str) -> dict:
    """Accept nested sections too ({'model': {'hidden': {...}}} -> {'model.hidden': {...}})."""
    out: dict = {}
    for key, spec in space.items():
        key = str(key)
        if "." not in key and isinstance(spec, dict) and not set(spec) & set(SPEC_FIELDS):
            for k, v in spec.items():
                out[f"{key}.{k}"] = v
        else:
            out[key] = spec
    return out


def parse_space(space: Any, recipe: Recipe, task, where: str = "the sweep space") -> list[Param]:
    """Check a space mapping against `recipe` and its Task and return its Params.

    Every key must be a recipe key; a range needs low < high (low > 0 when log) and fits the key's type (int
    keys take int bounds, string and bool keys take choices only); every bound and choice must pass the
    recipe's own validation (`task.check`, e.g. an unknown cell name)."""
    if not isinstance(space, dict) or not space:
        raise ConfigError(
            f"{where} must be a mapping of dotted recipe keys to {{low, high, log}} or {{choices: [...]}}, "
            f"got {space!r}"
        )
    params = []
    for key, spec in _flatten(space, where).items():
        _check_key(key, recipe, where)
        params.append(_parse_one(key, spec, recipe, task, where))
    return params


def _parse_one(key: str, spec: Any, recipe: Recipe, task, where: str) -> Param:
    form = "{low: A, high: B[, log: true]} or {choices: [A, B, ...]}"
    if not isinstance(spec, dict):
        raise ConfigError(f"{key} in {where} must be {form}, got {spec!r}")
    extra = [k for k in spec if k not in SPEC_FIELDS]
    if extra:
        raise ConfigError(f"{key} in {where}: unknown field(s) {extra}; use {form}")
    typ = _field_type(recipe, key)
    if "choices" in spec:
        if set(spec) - {"choices"}:
            raise ConfigError(f"{key} in {where}: give either choices or low/high, not both")
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"{key} in {where}: choices must be a non-empty list, got {choices!r}")
        if any(isinstance(c, (dict, list)) for c in choices):
            raise ConfigError(
                f"{key} in {where}: choices must be plain values (numbers, strings, true/false)"
            )
        if typ is float:
            choices = [_number(c, key, "a choice", where) for c in choices]
        for c in choices:
            _try(recipe, task, key, c, where)
        return Param(key, choices=tuple(dict.fromkeys(choices)))
    if typ not in (int, float):
        raise ConfigError(f"{key} in {where} is not a number; give it choices: [...] instead of low/high")
    if "low" not in spec or "high" not in spec:
        raise ConfigError(f"{key} in {where}: a range needs both low and high ({form})")
    low = _number(spec["low"], key, "low", where)
    high = _number(spec["high"], key, "high", where)
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise ConfigError(f"{key} in {where}: log must be true or false, got {log!r}")
    if typ is int and not (float(low).is_integer() and float(high).is_integer()):
        raise ConfigError(
            f"{key} in {where} is an integer key; low and high must be integers, got {low}, {high}"
        )
    if not low < high:
        raise ConfigError(f"{key} in {where}: low must be below high, got low={low} high={high}")
    if log and low <= 0:
        raise ConfigError(f"{key} in {where}: a log range needs low > 0, got low={low}")
    for v in (low, high):
        _try(recipe, task, key, int(v) if typ is int else float(v), where)
    if typ is int:
        return Param(key, int(low), int(high), log, integer=True)
    return Param(key, float(low), float(high), log)


def _try(recipe: Recipe, task, key: str, value: Any, where: str) -> None:
    """Apply `key: value` to a copy of the recipe and run its validation; one line naming the key if refused."""
    r = copy.deepcopy(recipe)
    try:
        apply_overrides(r, {key: value})
        if task is not None:
            from rnnlab.tasks.checks import check_recipe

            check_recipe(r, task)
    except RnnlabError as e:
        raise ConfigError(f"{key} in {where}: the value {value!r} is refused: {e}") from None


def default_space(recipe: Recipe) -> dict:
    """A sensible space for the recipe's model: learning rate (log, a decade either side of the recipe's),
    weight decay, width, depth, dropout, batch size, and the cell for recurrent models."""
    m, d, t = recipe.model, recipe.data, recipe.train
    lr = t.lr if t.lr > 0 else 1e-3
    space: dict = {
        "train.lr": {"low": float(f"{lr / 10:.3g}"), "high": float(f"{lr * 10:.3g}"), "log": True},
        "train.weight_decay": {"low": 1e-5, "high": 1e-1, "log": True},
        "model.dropout": {"low": 0.0, "high": 0.5},
        "data.batch_size": {"choices": sorted({max(1, d.batch_size // 2), d.batch_size, d.batch_size * 2})},
    }
    if m.kind == "CNN1dClassifier":
        space["model.channels"] = {"low": max(8, m.channels // 2), "high": m.channels * 2, "log": True}
        space["model.layers"] = {"low": 1, "high": 4}
        space["model.kernel"] = {"choices": [3, 5, 7]}
        return space
    if m.kind == "LSTMFCN":  # one LSTM layer beside the FCN: its width, the FCN's, the LSTM's dropout
        space["model.hidden"] = {"low": 8, "high": 128, "log": True}
        space["model.channels"] = {"choices": [64, 128]}
        space["model.dropout"] = {"low": 0.0, "high": 0.8}
        return space
    space["model.hidden"] = {"low": max(8, m.hidden // 2), "high": max(16, m.hidden * 2), "log": True}
    space["model.layers"] = {"low": 1, "high": 2 if recipe.task == "seq2seq" else 3}
    if m.kind in RECURRENT_KINDS:
        space["model.cell"] = {"choices": list(CELLS)}
    if m.kind == "GlobalForecaster":  # the likelihood and what the forecast is an offset from
        space["model.likelihood"] = {"choices": ["studentt", "gaussian"]}
        space["model.anchor"] = {"choices": ["seasonal", "last"]}
    return space


def resolve_space(
    recipe: Recipe,
    task,
    section: dict | None = None,
    file_space: dict | None = None,
    fixed: tuple[str, ...] = (),
    where: str = "the sweep space",
    say=None,
) -> list[Param]:
    """The space a sweep searches: `--space FILE` if given, else the recipe's `sweep:` section, else the
    defaults for its model; keys fixed on the command line are left out (they keep the given value)."""
    space = file_space if file_space is not None else section
    if space is None:
        space, where = default_space(recipe), "the default sweep space"
    every = parse_space(space, recipe, task, where)
    params = [p for p in every if p.key not in fixed]
    dropped = [p.key for p in every if p.key in fixed]
    if dropped and say is not None and where != "the default sweep space":
        say(f"not searched, fixed on the command line: {', '.join(dropped)}")
    if not params:
        raise ConfigError(
            f"{where} searches nothing: every key is fixed on the command line ({', '.join(fixed)})"
        )
    return params
