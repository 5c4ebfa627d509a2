"""Crash and resume for forecasting and seq2seq runs: a real `rnnlab train forecast --csv` process SIGKILLed
after its first checkpoint and resumed, and a seq2seq fit interrupted mid-epoch (an exception at a chosen
batch, after a checkpoint every batch) and resumed with fit(resume=...), end bit-identical to an
uninterrupted run."""

from __future__ import annotations

import csv
import json
import random

import numpy as np
import pandas as pd
import pytest
import torch
from killing import finish, kill_and_resume, train_process
from textpairs import swap_pairs

from rnnlab.config import load_recipe
from rnnlab.data.datamodule import EpochShuffle
from rnnlab.data.pairs import PairDataModule
from rnnlab.models.seq2seq import Seq2Seq
from rnnlab.tasks.fit import fit
from rnnlab.tasks.seq2seq.module import Seq2SeqModule

EPOCHS = 8


def _write_load_csv(path, n: int = 360) -> None:
    """Hourly load with a daily cycle, a slow drift and noise, and a temperature covariate."""
    rng = np.random.default_rng(0)
    t = np.arange(n)
    pd.DataFrame(
        {
            "ts": pd.date_range("2024-03-01", periods=n, freq="h").strftime("%Y-%m-%d %H:%M"),
            "load": np.round(40 + 6 * np.sin(2 * np.pi * t / 24) + 0.01 * t + rng.normal(0, 0.8, n), 3),
            "temp": np.round(12 + 4 * np.cos(2 * np.pi * (t - 3) / 24) + rng.normal(0, 0.3, n), 2),
        }
    ).to_csv(path, index=False)


def test_forecast_killed_and_resumed_ends_bit_identical(tmp_path):
    data = tmp_path / "load.csv"
    _write_load_csv(data)
    flags = (
        f"--target load --time ts --covariates temp --lookback 24 --horizon 3 --epochs {EPOCHS} "
        "--model.hidden 16 --model.dropout 0.2 --model.mc_samples 3 --data.batch_size 8 "
        "--train.deterministic true --train.threads 1 --train.patience 0"
    )
    args = ["forecast", "--csv", data, *flags.split()]
    ref, run = tmp_path / "ref", tmp_path / "killed"
    every = ["--checkpoint-every", "0.02"]
    reference = train_process(*args, "--out", ref, *every, cwd=tmp_path)  # runs while the other is killed

    seed = random.randrange(10**6)
    rng = random.Random(seed)
    kills = kill_and_resume(
        [*args, "--out", run, *every], ["forecast", "--resume", run, *every], run, 2, rng, tmp_path
    )
    finish(reference)
    assert kills and kills[-1] < EPOCHS, f"too fast to kill: {kills} (seed {seed})"

    a, b = (r / "model.safetensors" for r in (ref, run))
    assert a.read_bytes() == b.read_bytes(), f"weights differ after kills at epochs {kills} (seed {seed})"
    ra, rb = (json.loads((r / "results.json").read_text()) for r in (ref, run))
    for key in ("test", "best_val", "epochs", "interval_coverage", "params"):
        assert ra[key] == rb[key], (key, kills, seed)
    assert (ref / "forecasts.csv").read_text() == (run / "forecasts.csv").read_text()
    rows_a, rows_b = (list(csv.DictReader((r / "metrics.csv").open())) for r in (ref, run))
    assert [r["epoch"] for r in rows_b] == [str(e) for e in range(EPOCHS)]  # no duplicate replayed rows
    cols = ("val_loss", "val_mae")  # train_loss and lr are means over the batches since a resume
    assert [[r[k] for k in cols] for r in rows_a] == [[r[k] for k in cols] for r in rows_b], (kills, seed)


class Killed(Exception):
    pass


def _seq2seq_run(out, resume=None, kill_at: int | None = None, monkeypatch=None):
    torch.manual_seed(0)
    dm = PairDataModule(swap_pairs(96, 0), swap_pairs(16, 1), swap_pairs(16, 2), batch_size=16, seed=5)
    model = Seq2Seq(dm.vocab_size, src_vocab=dm.vocab_size, cell="gru", hidden=16, embed=8, dropout=0.2)
    recipe = load_recipe("folio")
    recipe.name, recipe.data.name = "swap", "swap"
    recipe.train.max_epochs, recipe.train.max_time, recipe.train.lr = 4, None, 0.01
    recipe.train.teacher_forcing, recipe.train.teacher_forcing_end = 1.0, 0.5  # scheduled sampling draws
    recipe.train.beam, recipe.train.patience, recipe.train.threads = 2, 0, 1
    recipe.train.deterministic = True
    if kill_at is not None:
        step = Seq2SeqModule.training_step

        def dying(self, batch, batch_idx):
            if self.global_step == kill_at:
                raise Killed
            return step(self, batch, batch_idx)

        monkeypatch.setattr(Seq2SeqModule, "training_step", dying)
    try:
        return fit(model, dm, recipe=recipe, out=out, resume=resume, checkpoint_every=1e-9)
    finally:
        monkeypatch.undo() if kill_at is not None else None


@pytest.mark.parametrize("kills", [(9, 14)])  # 6 batches an epoch: mid epoch 1, then mid epoch 2
def test_seq2seq_interrupted_mid_epoch_and_resumed_ends_bit_identical(tmp_path, monkeypatch, kills):
    ref, run = tmp_path / "ref", tmp_path / "killed"
    _seq2seq_run(ref)
    resume = None
    for k in kills:
        with pytest.raises(Killed):
            _seq2seq_run(run, resume=resume, kill_at=k, monkeypatch=monkeypatch)
        resume = run
        assert not (run / "results.json").exists()
    _seq2seq_run(run, resume=run)

    a, b = (r / "model.safetensors" for r in (ref, run))
    assert a.read_bytes() == b.read_bytes()
    ra, rb = (json.loads((r / "results.json").read_text()) for r in (ref, run))
    for key in ("test", "best_val", "epochs", "params"):
        assert ra[key] == rb[key], key
    rows_a, rows_b = (list(csv.DictReader((r / "metrics.csv").open())) for r in (ref, run))
    assert [r["epoch"] for r in rows_b] == ["0", "1", "2", "3"]
    cols = ("val_loss", "val_exact", "val_token_acc", "teacher_forcing")  # train_loss/lr: mean since resume
    assert [[r[k] for k in cols] for r in rows_a] == [[r[k] for k in cols] for r in rows_b]


def test_pair_and_forecast_loaders_keep_the_seeded_order_and_skip_on_resume():
    dm = PairDataModule(swap_pairs(40, 0), swap_pairs(8, 1), batch_size=8, seed=7)
    loader = dm.train_dataloader()
    assert isinstance(loader.sampler, EpochShuffle)
    old = torch.utils.data.DataLoader(
        range(40), batch_size=8, shuffle=True, generator=torch.Generator().manual_seed(7)
    )
    epochs = [[b.tolist() for b in old] for _ in range(3)]
    # the same draws as DataLoader(shuffle=True, generator=seeded), epoch for epoch
    assert [[b["index"].tolist() for b in loader] for _ in range(3)] == epochs
    fresh = dm.train_dataloader()  # a resumed process: jumps to epoch 2 and skips its 2 trained batches
    fresh.sampler.set_epoch(2)
    fresh.sampler.skip(2, 16)
    assert [b["index"].tolist() for b in fresh] == epochs[2][2:]

    from rnnlab.data.forecastdata import ForecastDataModule  # noqa: F401 (same sampler, seed 0)
    from rnnlab.data.windows import Windows

    w = Windows(
        *(np.zeros((30, 2, 1), np.float32) for _ in range(2)), np.zeros((30, 2), np.float32), np.arange(30)
    )
    fdm = ForecastDataModule.__new__(ForecastDataModule)
    fdm.batch_size = 8
    got = fdm._loader(w, True)
    ref = torch.utils.data.DataLoader(
        range(30), batch_size=8, shuffle=True, generator=torch.Generator().manual_seed(0)
    )
    for _ in range(2):
        assert [b["index"].tolist() for b in got] == [b.tolist() for b in ref]
