"""Crash and resume: a real `rnnlab train` process SIGKILLed at random points and resumed ends bit-identical
to an uninterrupted run; a damaged last.ckpt is refused by name; the sampler's order is a function of
(seed, epoch) and equals the order of the plain shuffled DataLoader it replaced."""

from __future__ import annotations

import csv
import json
import random
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from killing import finish, kill_and_resume, mtime, train_process
from smallhar import small_har
from torch.utils.data import DataLoader

from rnnlab.cli import main
from rnnlab.data.datamodule import EpochShuffle
from rnnlab.errors import RunDirError

EPOCHS = 24

RECIPE = """name: tiny
data: {{name: user, path: {data}, batch_size: 4, augment_scale: 0.1, augment_jitter: 0.05}}
model: {{kind: SequenceClassifier, cell: gru, hidden: 16, layers: 1, dropout: 0.2}}
train: {{max_epochs: {epochs}, seed: 3, deterministic: true, threads: 1, patience: 0, lr: 0.005}}
"""


def _write_recipe(folder: Path, epochs: int = EPOCHS) -> Path:
    """118 real HAR windows (every 4th step: 32 x 9) as an .npz, and a recipe that trains on them for seconds."""
    x, y = small_har()
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / "data.npz", X=x, y=y)
    path = folder / "tiny.yaml"
    path.write_text(RECIPE.format(data=folder / "data.npz", epochs=epochs))
    return path


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, Path]:
    """(recipe, run) of one uninterrupted run, shared by the tests that compare against it."""
    folder = tmp_path_factory.mktemp("resume")
    recipe = _write_recipe(folder)
    finish(train_process(recipe, "--out", folder / "ref", "--checkpoint-every", "0.05", cwd=folder))
    return recipe, folder / "ref"


def test_killed_three_times_and_resumed_ends_bit_identical(reference):
    recipe, ref = reference
    run = ref.parent / "killed"
    seed = random.randrange(10**6)
    rng = random.Random(seed)
    every = ["--checkpoint-every", "0.05"]
    kills = kill_and_resume(
        [recipe, "--out", run, *every], ["tiny", "--resume", run, *every], run, 3, rng, run.parent
    )
    assert len(kills) == 3 and kills[-1] < EPOCHS, f"too fast to kill 3 times: {kills} (seed {seed})"

    a, b = (r / "model.safetensors" for r in (ref, run))
    assert a.read_bytes() == b.read_bytes(), f"weights differ after kills at epochs {kills} (seed {seed})"
    ra, rb = (json.loads((r / "results.json").read_text()) for r in (ref, run))
    assert ra["test"] == rb["test"] and ra["best_val"] == rb["best_val"] and ra["epochs"] == rb["epochs"]
    rows_a, rows_b = (list(csv.DictReader((r / "metrics.csv").open())) for r in (ref, run))
    assert [r["epoch"] for r in rows_b] == [str(e) for e in range(EPOCHS)]  # no duplicate replayed rows
    val = ("val_loss", "val_acc", "val_f1")  # train_* and lr of an epoch cut mid-way average fewer batches
    assert [[r[k] for k in val] for r in rows_a] == [[r[k] for k in val] for r in rows_b]
    train = ("train_loss", "train_acc", "lr")
    same = sum([a[k] for k in train] == [b[k] for k in train] for a, b in zip(rows_a, rows_b, strict=True))
    assert same >= EPOCHS - len(kills), f"train columns differ beyond the {len(kills)} interrupted epochs"


def test_garbage_last_ckpt_is_refused_by_name_and_best_is_the_fallback(reference, capsys):
    recipe, ref = reference
    run = ref.parent / "damaged"
    proc = train_process(recipe, "--out", run, "--epochs", "3", "--checkpoint-every", "0", cwd=ref.parent)
    last = run / "checkpoints" / "last.ckpt"
    while mtime(last) == 0 and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert last.is_file() and not (run / "results.json").exists()
    last.write_bytes(last.read_bytes()[:1000])  # what a non-atomic writer leaves when killed mid-write

    assert main(["train", "tiny", "--resume", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(last) in err and "delete it" in err, err
    with pytest.raises(RunDirError, match="last.ckpt is unreadable"):
        from rnnlab.train.checkpoints import safe_load

        safe_load(last)

    last.unlink()  # the fix the message names: resume from best.ckpt, an earlier epoch-end checkpoint
    assert main(["train", "tiny", "--resume", str(run)]) == 0
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    assert [r["epoch"] for r in rows] == ["0", "1", "2"] and (run / "model.safetensors").is_file()


def test_resume_refuses_another_recipe_and_new_overrides(reference, capsys):
    recipe, ref = reference
    run = ref.parent / "mismatch"
    run.mkdir()
    (run / "config.yaml").write_text((ref / "config.yaml").read_text())
    assert main(["train", "har", "--resume", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert "it is a run of recipe 'tiny'" in err and "rnnlab train tiny --resume" in err and "\n" not in err
    assert main(["train", "tiny", "--resume", str(run), "--model.hidden", "8"]) == 2
    assert "drop the overrides" in capsys.readouterr().err
    assert main(["train", "tiny", "--resume", str(run)]) == 2  # no checkpoint yet
    assert "no checkpoint to resume from" in capsys.readouterr().err
    assert main(["train", "tiny", "--resume", str(ref)]) == 2
    assert "already finished" in capsys.readouterr().err


def test_epoch_order_is_a_function_of_seed_and_epoch_and_matches_the_old_loader():
    n, bs, seed = 37, 8, 5
    old = DataLoader(
        list(range(n)), batch_size=bs, shuffle=True, generator=torch.Generator().manual_seed(seed)
    )
    epochs = [[i for b in old for i in b.tolist()] for _ in range(4)]
    s = EpochShuffle(n, seed)
    assert [list(s) for _ in range(4)] == epochs  # successive passes without set_epoch
    jumped = EpochShuffle(n, seed)
    jumped.set_epoch(3)
    assert list(jumped) == epochs[3]
    jumped.set_epoch(1)
    assert list(jumped) == epochs[1]
    mid = EpochShuffle(n, seed)
    mid.skip(2, 2 * bs)  # resuming after two batches of epoch 2
    mid.set_epoch(2)
    assert list(mid) == epochs[2][2 * bs :]
