"""`model.kind: auto` (the classify recipe's default): the choice read off the data, command-line keys kept,
the concrete model written to config.yaml, and (slow) >= 0.97 on the real JapaneseVowels archive split."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import yaml

from rnnlab.cli import main
from rnnlab.config import apply_overrides, load_recipe
from rnnlab.errors import ConfigError
from rnnlab.tasks.classify.sizing import SMALL, auto_settings, resolve_auto, schedule
from rnnlab.tasks.classify.task import make_model


def test_small_sets_get_lstm_fcn_and_a_longer_schedule():
    tiny = auto_settings(40)
    assert tiny["model.kind"] == "LSTMFCN" and tiny["data.batch_size"] == 16
    assert tiny["train.max_epochs"] == 300 and tiny["train.monitor"] == "val_loss"
    mid = auto_settings(1000)
    assert mid["data.batch_size"] == 32 and 40 <= mid["train.max_epochs"] < 300
    assert auto_settings(SMALL + 1) == {"model.kind": "SequenceClassifier"}
    assert auto_settings(40, tokens=True) == {"model.kind": "SequenceClassifier"}
    assert schedule(270) == {"batch_size": 32, "max_epochs": 214}  # JapaneseVowels' TRAIN


def test_command_line_keys_win_over_auto():
    recipe = load_recipe("classify")
    assert recipe.model.kind == "auto"
    apply_overrides(recipe, {"train.max_epochs": "3", "model.hidden": "16"})
    note = resolve_auto(recipe, 100)
    assert recipe.model.kind == "LSTMFCN" and recipe.model.channels == 128
    assert recipe.train.max_epochs == 3 and recipe.model.hidden == 16 and recipe.train.patience == 100
    assert "LSTMFCN for 100 labelled sequences" in note
    assert "kept from the command line: model.hidden, train.max_epochs" in note


def test_a_recurrent_classifier_key_on_the_command_line_picks_it():
    recipe = apply_overrides(load_recipe("classify"), {"model.layers": "2", "model.hidden": "16"})
    note = resolve_auto(recipe, 100)
    assert recipe.model.kind == "SequenceClassifier" and recipe.model.layers == 2 and recipe.model.hidden == 16
    assert recipe.train.max_epochs == 40 and "model.layers given" in note


def test_large_sets_keep_the_recipes_recurrent_classifier():
    recipe = load_recipe("classify")
    note = resolve_auto(recipe, SMALL + 10)
    assert recipe.model.kind == "SequenceClassifier" and recipe.model.cell == "gru" and recipe.model.hidden == 64
    assert "the recipe's settings" in note


def test_auto_without_the_task_datamodule_is_a_one_line_error():
    cfg = load_recipe("classify").model
    with pytest.raises(ConfigError, match="model.kind auto is chosen from the data"):
        make_model(cfg, SimpleNamespace(n_features=3, n_classes=2))


def test_cli_run_records_the_concrete_model(har_small, tmp_path, capsys):
    data = tmp_path / "mine.npz"
    np.savez(data, X=har_small.x, y=np.array(har_small.classes)[har_small.y])
    run = tmp_path / "run"
    assert main(["train", "classify", "--data", str(data), "--out", str(run), "--epochs", "2"]) == 0
    out = capsys.readouterr().out
    assert "model.kind auto -> LSTMFCN" in out and "kept from the command line: train.max_epochs" in out
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["model"]["kind"] == "LSTMFCN" and config["train"]["max_epochs"] == 2
    assert config["data"]["batch_size"] == 16  # fewer than 100 labelled sequences after the test split
    results = json.loads((run / "results.json").read_text())
    assert results["epochs"] <= 2 and 0.0 <= results["test"]["accuracy"] <= 1.0
    assert main(["evaluate", str(run), "--json"]) == 0  # the run reads back as a concrete LSTMFCN


@pytest.mark.slow
def test_japanese_vowels_reaches_097_on_the_archive_split(tmp_path):
    run = tmp_path / "jv"
    assert main(["train", "classify", "--data.name", "japanese_vowels", "--out", str(run)]) == 0
    results = json.loads((run / "results.json").read_text())
    assert results["test"]["n"] == 370 and results["test"]["accuracy"] >= 0.97
