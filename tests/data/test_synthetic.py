"""Synthetic tasks (parity, MQAR): deterministic, correct labels, and their recipes train through the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rnnlab.cli import main
from rnnlab.config import load_recipe
from rnnlab.data.synthetic import decode_mqar, mqar_set, parity_set
from rnnlab.errors import ConfigError
from rnnlab.tasks.classify.data import synthetic_sets


def test_parity_labels_lengths_and_padding():
    s = parity_set(300, 3, 9, seed=5)
    assert s.x.shape == (300, 9, 1) and s.classes == ["even", "odd"]
    assert s.lengths.min() >= 3 and s.lengths.max() <= 9 and len(set(s.lengths.tolist())) > 3
    for x, n, y in zip(s.x[..., 0], s.lengths, s.y, strict=True):
        assert set(np.unique(x[:n])) <= {0.0, 1.0} and (x[n:] == 0).all()
        assert y == int(x[:n].sum()) % 2
    assert 0.35 < s.y.mean() < 0.65
    again = parity_set(300, 3, 9, seed=5)
    assert np.array_equal(again.x, s.x) and np.array_equal(again.y, s.y)
    assert not np.array_equal(parity_set(300, 3, 9, seed=6).x, s.x)


def test_mqar_every_answer_is_its_query_keys_value_in_the_context():
    s = mqar_set(20, 6, 10, seed=3)
    assert len(s) == 20 * 6 and s.x.shape == (120, 12, 20) and s.n_classes == 10
    for i in range(len(s)):
        steps = decode_mqar(s.x[i], int(s.lengths[i]), 10)
        context = [(k, v) for k, v in steps if v is not None]
        queries = [k for k, v in steps if v is None]
        assert len(context) == 6 and len({k for k, _ in context}) == 6  # distinct keys
        assert 1 <= len(queries) == int(s.lengths[i]) - 6 and len(set(queries)) == len(queries)
        assert (
            dict(context)[queries[-1]] == s.y[i]
        )  # the label: the last query's value, present in the context
        assert (s.x[i, s.lengths[i] :] == 0).all()
    # the examples of one context are its prefixes ending at each query, all in one group
    assert s.lengths[:6].tolist() == [7, 8, 9, 10, 11, 12] and len(set(s.groups[:6].tolist())) == 1
    again = mqar_set(20, 6, 10, seed=3)
    assert np.array_equal(again.x, s.x) and np.array_equal(again.y, s.y)


def test_bad_sizes_are_one_line_config_errors():
    with pytest.raises(ConfigError, match="min_len <= max_len"):
        parity_set(10, 5, 3, seed=0)
    with pytest.raises(ConfigError, match="vocab >= pairs"):
        mqar_set(10, 8, 4, seed=0)
    cfg = load_recipe("parity").data
    cfg.test_len = cfg.train_len
    with pytest.raises(ConfigError, match="data.test_len .* must exceed data.train_len"):
        synthetic_sets(cfg)


def test_parity_tests_on_longer_strings_than_it_trains_on():
    cfg = load_recipe("parity").data
    cfg.n_train = 50
    train, test = synthetic_sets(cfg)
    assert train.lengths.max() <= cfg.train_len < test.lengths.min() and test.lengths.max() <= cfg.test_len


@pytest.mark.parametrize(
    "recipe,cell,extra",
    [
        ("parity", "slstm", ["--data.n_train", "80", "--data.train_len", "6", "--data.test_len", "10"]),
        ("mqar", "mlstm", ["--data.n_train", "20", "--data.train_len", "4", "--data.vocab_size", "8"]),
    ],
)
def test_recipe_trains_through_the_cli(recipe, cell, extra, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path / "cache"))
    run = tmp_path / "run"
    args = ["train", recipe, "--out", str(run), "--epochs", "1", "--model.hidden", "8", *extra]
    assert main(args) == 0
    assert f"cell: {cell}" in (run / "config.yaml").read_text().replace("'", "")
    results = json.loads((run / "results.json").read_text())
    assert 0.0 <= results["test"]["accuracy"] <= 1.0 and results["test"]["n"] > 0
    assert "test accuracy" in capsys.readouterr().out
