"""Crash and resume for the character LM (truncated BPTT with a carried hidden state): a real `rnnlab train`
process SIGKILLed at random points after its first checkpoint and resumed ends bit-identical to an
uninterrupted run (its dropout masks and train.state_reset's cold starts drawn alike); a mid-epoch resume
skips the trained chunks and keeps the epoch's stream offset."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import torch
from killing import finish, kill_and_resume, train_process

from rnnlab.data.text import make_corpus
from rnnlab.data.textstream import TextDataModule

TEXT = Path(__file__).resolve().parents[1] / "fixtures" / "coriolanus_120k.txt"
EPOCHS = 10

RECIPE = """name: tinylm
task: charlm
data: {{name: text, path: {text}, batch_size: 8, bptt: 32, carry: true, val_fraction: 0.1}}
model: {{kind: CharLM, cell: lstm, hidden: 32, layers: 1, embed: 8, dropout: 0.2}}
train: {{max_epochs: {epochs}, seed: 3, deterministic: true, threads: 1, patience: 0, lr: 0.01, state_reset: 0.05}}
"""


def test_charlm_killed_twice_and_resumed_ends_bit_identical(tmp_path):
    # 48k characters: the final evaluation reads the validation text as 16 streams of 256
    (tmp_path / "text.txt").write_text(TEXT.read_text(encoding="utf-8")[:48000], encoding="utf-8")
    recipe = tmp_path / "tinylm.yaml"
    recipe.write_text(RECIPE.format(text=tmp_path / "text.txt", epochs=EPOCHS))
    ref, run = tmp_path / "ref", tmp_path / "killed"
    every = ["--checkpoint-every", "0.05"]
    reference = train_process(recipe, "--out", ref, *every, cwd=tmp_path)  # runs while the other is killed

    seed = random.randrange(10**6)
    rng = random.Random(seed)
    kills = kill_and_resume(
        [recipe, "--out", run, *every], ["tinylm", "--resume", run, *every], run, 2, rng, tmp_path
    )
    finish(reference)
    assert len(kills) == 2 and kills[-1] < EPOCHS, f"too fast to kill twice: {kills} (seed {seed})"

    a, b = (r / "model.safetensors" for r in (ref, run))
    assert a.read_bytes() == b.read_bytes(), f"weights differ after kills at epochs {kills} (seed {seed})"
    ra, rb = (json.loads((r / "results.json").read_text()) for r in (ref, run))
    for key in ("val", "epochs", "chars_trained", "params", "carry"):
        assert ra[key] == rb[key], (key, kills, seed)
    assert (ref / "samples.txt").read_text() == (run / "samples.txt").read_text()
    rows_a, rows_b = (list(csv.DictReader((r / "metrics.csv").open())) for r in (ref, run))
    assert [r["epoch"] for r in rows_b] == [str(e) for e in range(EPOCHS)]  # no duplicate replayed rows
    val = ("val_loss", "val_bpc", "chars")
    assert [[r[k] for k in val] for r in rows_a] == [[r[k] for k in val] for r in rows_b], (kills, seed)


def test_epoch_batches_come_from_the_trainer_epoch_and_skip_the_trained_chunks():
    corpus = make_corpus(TEXT.read_text(encoding="utf-8")[:20000], "c", 0.1)

    class Trainer:  # what train_dataloader reads of the trainer
        current_epoch = 0

    def batches(dm: TextDataModule, epoch: int, skip: int = 0) -> list[torch.Tensor]:
        dm.trainer, Trainer.current_epoch = Trainer(), epoch
        loader = dm.train_dataloader()
        loader.sampler.skip(epoch, skip)
        return [b["x"] for b in loader]

    for carry in (True, False):
        plain = TextDataModule(corpus, batch_size=4, bptt=16, carry=carry, seed=1)
        epochs = [
            [b["x"] for b in plain.train_dataloader()] for _ in range(3)
        ]  # no trainer: successive epochs
        dm = TextDataModule(corpus, batch_size=4, bptt=16, carry=carry, seed=1)
        assert all(map(torch.equal, batches(dm, 2), epochs[2]))  # a resumed process jumps to epoch 2
        resumed = batches(dm, 1, skip=5)
        assert len(resumed) == len(epochs[1]) - 5 and all(map(torch.equal, resumed, epochs[1][5:]))
        assert len(batches(dm, 1, skip=0)) == len(epochs[1])  # a skip applies to one pass only
