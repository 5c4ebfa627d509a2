"""Recipes: defaults, YAML, overrides, and one-line errors for unknown keys and bad values."""

from __future__ import annotations

import pytest

from rnnlab.config import apply_overrides, builtin_recipes, load_recipe, recipe_from_dict
from rnnlab.errors import ConfigError


def test_builtin_recipes_load_and_validate():
    names = builtin_recipes()
    assert {"har", "basic_motions", "classify"} <= set(names)
    for name in names:
        r = load_recipe(name)
        assert r.name == name


def test_overrides_are_typed():
    r = apply_overrides(
        load_recipe("har"),
        {
            "model.cell": "gru",
            "model.hidden": "32",
            "train.lr": "1e-3",
            "model.bidirectional": "false",
            "data.features": "a,b",
        },
    )
    assert (r.model.cell, r.model.hidden, r.train.lr, r.model.bidirectional) == ("gru", 32, 1e-3, False)
    assert r.data.features == ["a", "b"]


@pytest.mark.parametrize(
    "d, match",
    [
        ({"model": {"hiden": 3}}, "unknown recipe key 'model.hiden'; did you mean 'hidden'"),
        ({"trian": {}}, "unknown recipe key 'trian'; did you mean 'train'"),
        ({"model": {"hidden": "big"}}, "model.hidden must be an integer"),
        ({"model": {"bidirectional": "yes please"}}, "model.bidirectional must be true or false"),
        ({"train": {"lr": [1]}}, "train.lr must be a number"),
        ({"model": 3}, "'model' must be a mapping"),
    ],
)
def test_bad_recipes_name_the_key(d, match):
    with pytest.raises(ConfigError, match=match):
        recipe_from_dict(d)


def test_unknown_recipe_name_suggests(tmp_path):
    with pytest.raises(ConfigError, match="did you mean 'har'"):
        load_recipe("hra")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: {cell: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_recipe(str(bad))
    with pytest.raises(ConfigError, match="does not exist"):
        load_recipe(str(tmp_path / "missing.yaml"))
