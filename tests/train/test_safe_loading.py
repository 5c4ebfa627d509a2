"""Loading a run never executes code: crafted pickles as checkpoints, garbage weights and YAML with Python
tags are refused with one line naming the file, and the payload's side effect (a file) never appears."""

from __future__ import annotations

import os
import pickle

import pytest
import torch

from rnnlab.cli import main
from rnnlab.config import Recipe, load_recipe
from rnnlab.data.datamodule import SequenceDataModule, split_by_group
from rnnlab.errors import ConfigError, RunDirError
from rnnlab.models import SequenceClassifier
from rnnlab.tasks.fit import fit
from rnnlab.train.checkpoints import AtomicCheckpointIO, safe_load
from rnnlab.train.rundir import open_run, write_yaml


class _Payload:
    """Unpickling this creates `path` (what an attacker's checkpoint would run)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def _crafted(path, marker, zipped: bool) -> None:
    """A checkpoint-looking file whose unpickling would create `marker`: torch's zip format or a raw pickle."""
    obj = {"state_dict": {}, "epoch": 0, "evil": _Payload(str(marker))}
    if zipped:
        torch.save(obj, path)
    else:
        path.write_bytes(pickle.dumps(obj))


def _dm(s) -> SequenceDataModule:
    train, test = split_by_group(s, 0.25, seed=1)
    train, val = split_by_group(train, 0.2, seed=0)
    return SequenceDataModule(train, val, test, batch_size=32, name="har_small")


@pytest.fixture(scope="module")
def finished_run(har_small, tmp_path_factory):
    """A complete one-epoch run directory (copied by tests that damage it)."""
    dm = _dm(har_small)
    model = SequenceClassifier(dm.n_features, dm.n_classes, cell="gru", hidden=8, layers=1)
    return fit(model, dm, out=tmp_path_factory.mktemp("safe") / "run", max_epochs=1, patience=0).path


@pytest.mark.parametrize("zipped", [True, False], ids=["torch-zip", "raw-pickle"])
def test_crafted_checkpoint_is_refused_and_runs_nothing(tmp_path, zipped):
    ckpt, marker = tmp_path / "last.ckpt", tmp_path / "pwned"
    _crafted(ckpt, marker, zipped)
    with pytest.raises(RunDirError, match=r"last.ckpt was refused: it is not a plain-data checkpoint") as e:
        safe_load(ckpt)
    assert str(ckpt) in str(e.value) and "\n" not in str(e.value)
    # the path Lightning's trainer.fit/test load checkpoints through
    with pytest.raises(RunDirError, match="was refused"):
        AtomicCheckpointIO().load_checkpoint(ckpt)
    assert not marker.exists()


def test_resume_from_a_crafted_last_ckpt_is_refused_and_runs_nothing(har_small, tmp_path):
    dm = _dm(har_small)
    run, marker = tmp_path / "run", tmp_path / "pwned"
    (run / "checkpoints").mkdir(parents=True)
    write_yaml(run / "config.yaml", Recipe(name=dm.name).to_dict())
    _crafted(run / "checkpoints" / "last.ckpt", marker, zipped=True)
    model = SequenceClassifier(dm.n_features, dm.n_classes, hidden=8, layers=1)
    with pytest.raises(RunDirError, match=r"checkpoints/last.ckpt was refused.*delete it"):
        fit(model, dm, resume=run)
    assert not marker.exists()


@pytest.mark.parametrize("content", ["garbage", "pickle"])
def test_damaged_model_safetensors_is_one_line_error(finished_run, tmp_path, capsys, content):
    run, marker = tmp_path / "run", tmp_path / "pwned"
    run.mkdir()
    for f in finished_run.iterdir():
        if f.is_file():
            (run / f.name).write_bytes(f.read_bytes())
    weights = run / "model.safetensors"
    if content == "garbage":
        weights.write_bytes(os.urandom(64))
    else:
        weights.write_bytes(pickle.dumps(_Payload(str(marker))))
    with pytest.raises(RunDirError, match=r"is unreadable .*retrain"):
        open_run(run)
    assert main(["evaluate", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: run directory") and "\n" not in err and not marker.exists()


def test_yaml_with_python_tags_is_refused_and_runs_nothing(tmp_path, finished_run, capsys):
    marker = tmp_path / "pwned"
    evil = f"name: x\ntrain: !!python/object/apply:os.system ['touch {marker}']\n"
    recipe = tmp_path / "evil.yaml"
    recipe.write_text(evil)
    with pytest.raises(ConfigError, match="is not valid YAML"):
        load_recipe(str(recipe))
    assert main(["train", str(recipe)]) == 2 and "not valid YAML" in capsys.readouterr().err

    run = tmp_path / "run"  # the same tag in a run's config.yaml, read by resume and by open_run
    run.mkdir()
    for f in finished_run.iterdir():
        if f.is_file():
            (run / f.name).write_bytes(f.read_bytes())
    (run / "config.yaml").write_text(evil)
    (run / "results.json").unlink()
    assert main(["train", "x", "--resume", str(run)]) == 2
    assert "config.yaml is not valid YAML" in capsys.readouterr().err
    with pytest.raises(RunDirError, match="unreadable"):
        open_run(run)
    assert not marker.exists()
