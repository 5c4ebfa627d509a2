"""The sweep's search space: defaults per model, YAML ranges and choices, and one-line errors for wrong keys
and bad ranges before any trial trains."""

from __future__ import annotations

import pytest

from rnnlab.config import Recipe, load_recipe, load_sweep_section
from rnnlab.errors import ConfigError
from rnnlab.sweep.space import default_space, parse_space, resolve_space
from rnnlab.tasks import get

optuna = pytest.importorskip("optuna")


def _recipe(**model) -> Recipe:
    r = Recipe(name="t", task="classify")
    r.data.name = "user"
    for k, v in model.items():
        setattr(r.model, k, v)
    return r


def test_ranges_and_choices_parse_with_the_keys_types():
    r = _recipe()
    params = parse_space(
        {
            "train.lr": {"low": "1e-4", "high": 1e-2, "log": True},  # YAML reads 1e-4 as a string
            "model.hidden": {"low": 16, "high": 64},
            "model": {"cell": {"choices": ["gru", "lstm", "gru"]}},  # nested sections work too
            "data.batch_size": {"choices": [16, 32]},
        },
        r,
        get("classify"),
    )
    by = {p.key: p for p in params}
    assert by["train.lr"].low == 1e-4 and by["train.lr"].log and not by["train.lr"].integer
    assert by["model.hidden"].integer and (by["model.hidden"].low, by["model.hidden"].high) == (16, 64)
    assert by["model.cell"].choices == ("gru", "lstm")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    values = {p.key: p.suggest(trial) for p in params}
    assert 1e-4 <= values["train.lr"] <= 1e-2 and isinstance(values["model.hidden"], int)


@pytest.mark.parametrize(
    "space, match",
    [
        (
            {"model.hiden": {"low": 8, "high": 64}},
            r"unknown key 'model.hiden'.*did you mean 'hidden'.*model\.\* is one of",
        ),
        ({"hidden": {"low": 8, "high": 64}}, r"unknown key 'hidden'.*allowed: dotted recipe keys"),
        ({"optim.lr": {"low": 1e-4, "high": 1e-2}}, r"unknown key 'optim.lr'"),
        ({"train.lr": {"low": 1e-2, "high": 1e-4}}, r"train.lr .*low must be below high"),
        ({"train.lr": {"low": 0.0, "high": 1e-2, "log": True}}, r"log range needs low > 0"),
        ({"train.lr": {"low": 1e-4}}, r"needs both low and high"),
        ({"train.lr": {"lo": 1e-4, "high": 1e-2}}, r"unknown field\(s\) \['lo'\]"),
        ({"train.lr": 0.01}, r"train.lr .* must be \{low"),
        ({"model.hidden": {"low": 8.5, "high": 64}}, r"integer key"),
        ({"model.cell": {"low": 1, "high": 2}}, r"model.cell .*not a number; give it choices"),
        ({"model.cell": {"choices": ["gru", "grue"]}}, r"model.cell .*'grue' is refused: unknown cell"),
        ({"model.cell": {"choices": []}}, r"non-empty list"),
        ({"train.lr": {"choices": [0.1], "low": 1}}, r"either choices or low/high"),
        ({"data.batch_size": {"low": 0, "high": 8}}, r"data.batch_size .*0 is refused"),
        ([1, 2], r"must be a mapping"),
    ],
)
def test_bad_spaces_are_one_line_errors(space, match):
    with pytest.raises(ConfigError, match=match) as e:
        parse_space(space, _recipe(), get("classify"), "space.yaml")
    assert "\n" not in str(e.value)


def test_defaults_follow_the_model_and_skip_keys_fixed_on_the_command_line():
    rec = _recipe()
    keys = {p.key for p in resolve_space(rec, get("classify"))}
    assert {
        "train.lr",
        "model.hidden",
        "model.layers",
        "model.dropout",
        "data.batch_size",
        "model.cell",
    } <= keys
    cnn = default_space(_recipe(kind="CNN1dClassifier"))
    assert "model.cell" not in cnn and "model.channels" in cnn
    fcn = default_space(_recipe(kind="LSTMFCN"))
    assert "model.layers" not in fcn and fcn["model.dropout"]["high"] == 0.8 and "model.channels" in fcn
    fixed = {p.key for p in resolve_space(rec, get("classify"), fixed=("model.cell", "train.lr"))}
    assert "model.cell" not in fixed and "train.lr" not in fixed
    said = []
    mine = {"model.cell": {"choices": ["rnn", "gru"]}, "train.lr": {"low": 1e-4, "high": 1e-2}}
    kept = resolve_space(
        rec, get("classify"), file_space=mine, fixed=("model.cell",), where="x", say=said.append
    )
    assert [p.key for p in kept] == ["train.lr"] and said == [
        "not searched, fixed on the command line: model.cell"
    ]
    every = {k: {"choices": [v]} for k, v in (("model.cell", "gru"),)}
    with pytest.raises(ConfigError, match="searches nothing"):
        resolve_space(rec, get("classify"), file_space=every, fixed=("model.cell",))
    # every built-in recipe's default space passes its own validation
    for name in ("har", "basic_motions", "shakespeare", "electricity", "folio", "captions", "smnist"):
        r = load_recipe(name)
        assert resolve_space(r, get(r.task)), name


def test_a_recipe_sweep_section_is_read_and_ignored_by_train(tmp_path):
    p = tmp_path / "r.yaml"
    p.write_text(
        "name: mine\ntask: classify\ndata: {name: user}\n"
        "sweep:\n  train.lr: {low: 1.0e-4, high: 1.0e-2, log: true}\n  model.cell: {choices: [rnn, gru]}\n"
    )
    r = load_recipe(str(p))  # what `rnnlab train r.yaml` reads: the sweep section is not a setting
    assert r.name == "mine"
    params = resolve_space(r, get("classify"), section=load_sweep_section(str(p)))
    assert [q.key for q in params] == ["train.lr", "model.cell"]
