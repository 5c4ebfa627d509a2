"""Data-parallel training for the kinds beyond classification, through the one fit driver: a character LM
(each of 2 real torchrun processes carries the state of half the streams) and a forecaster (each process
half of every global batch of windows) train like one process, and rank 0 alone writes; the LM's carried
state is gathered into its checkpoints."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file

from rnnlab.cli import main
from rnnlab.data.text import make_corpus
from rnnlab.data.textstream import TextDataModule
from rnnlab.errors import DataError

TEXT = Path(__file__).resolve().parents[1] / "fixtures" / "coriolanus_120k.txt"
LM = [
    "--model.hidden", "32", "--model.layers", "1", "--model.embed", "16", "--data.batch_size", "8",
    "--data.bptt", "64", "--epochs", "2", "--train.patience", "0", "--train.threads", "1",
    "--train.deterministic", "true", "--train.lr", "0.01", "--model.dropout", "0",
]  # fmt: skip
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
WEIGHT_TOL = 1e-4  # the all-reduce sums the two halves' gradients in another order than one process does


def _rows(run: Path) -> list[dict[str, str]]:
    return list(csv.DictReader((run / "metrics.csv").open()))


@pytest.fixture(scope="module")
def lm_runs(tmp_path_factory) -> tuple[Path, Path, str]:
    folder = tmp_path_factory.mktemp("ddp-lm")
    single, ddp = folder / "single", folder / "ddp"
    argv = ["train", "charlm", "--text", str(TEXT), *LM]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    cmd = [*TORCHRUN, "-m", "rnnlab.cli", *argv, "--out", str(ddp), "--train.devices", "2"]
    proc = subprocess.Popen(cmd, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert main([*argv, "--out", str(single)]) == 0
        out, err = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == 0, (out + err)[-3000:]
    return single, ddp, out


def test_two_lm_processes_train_like_one_on_the_same_streams(lm_runs):
    single, ddp, out = lm_runs
    a, b = load_file(str(single / "model.safetensors")), load_file(str(ddp / "model.safetensors"))
    diff = max(float((a[k] - b[k]).abs().max()) for k in a)
    assert diff < WEIGHT_TOL, diff
    ra, rb = (json.loads((r / "results.json").read_text()) for r in (single, ddp))
    assert rb["val"]["loss_nats"] == pytest.approx(ra["val"]["loss_nats"], abs=1e-4)
    assert rb["chars_trained"] == ra["chars_trained"]  # both ranks' characters are counted
    for x, y in zip(_rows(single), _rows(ddp), strict=True):
        for k in ("train_loss", "val_loss"):  # train_loss: the mean over both ranks' streams
            assert float(y[k]) == pytest.approx(float(x[k]), abs=1e-4), (k, x, y)
    assert out.count("run directory:") == 1  # rank 0 alone prints
    assert sorted(p.name for p in (ddp / "checkpoints").iterdir()) == ["best.ckpt", "last.ckpt"]


def test_lm_resumed_in_one_process_from_a_two_process_checkpoint_continues(lm_runs, tmp_path):
    """The checkpoint holds all 8 streams' carried state (gathered from both ranks), so a single process
    can resume it: the state comes back whole, not one rank's half."""
    from rnnlab.train.checkpoints import safe_load

    _, ddp, _ = lm_runs
    carry = safe_load(ddp / "checkpoints" / "last.ckpt")["lm_carry"]
    assert carry["train"] is not None and carry["train"][0].shape[1] == 8  # (layers, all 8 streams, hidden)


def test_two_forecast_processes_train_like_one_with_the_same_global_batch(tmp_path):
    from test_resume_more import _write_load_csv

    data = tmp_path / "load.csv"
    _write_load_csv(data)
    flags = (
        "--target load --time ts --covariates temp --lookback 24 --horizon 3 --epochs 4 --model.hidden 16 "
        "--model.dropout 0 --model.mc_samples 0 --train.deterministic true --train.threads 1 --train.patience 0"
    ).split()
    argv = ["train", "forecast", "--csv", str(data), *flags]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    ddp, single = tmp_path / "ddp", tmp_path / "single"
    cmd = [*TORCHRUN, "-m", "rnnlab.cli", *argv, "--data.batch_size", "4", "--train.devices", "2", "--out", str(ddp)]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert main([*argv, "--data.batch_size", "8", "--out", str(single)]) == 0
        out, err = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == 0, (out + err)[-3000:]
    a, b = load_file(str(single / "model.safetensors")), load_file(str(ddp / "model.safetensors"))
    assert max(float((a[k] - b[k]).abs().max()) for k in a) < WEIGHT_TOL
    ra, rb = (json.loads((r / "results.json").read_text()) for r in (single, ddp))
    assert rb["test"]["model"]["mase"] == pytest.approx(ra["test"]["model"]["mase"], abs=1e-4)
    assert rb["n_windows"] == ra["n_windows"]  # rank 0 evaluated every test window
    assert (ddp / "forecasts.csv").is_file() and (ddp / "forecast.png").is_file()
    assert out.count("run directory:") == 1


def test_streams_must_divide_among_the_processes():
    dm = TextDataModule(make_corpus(TEXT.read_text()[:40000], "c", 0.1), batch_size=6, bptt=32)
    with pytest.raises(DataError, match="data.batch_size 6 streams cannot be shared by 4 processes"):
        dm.set_shard(0, 4)
    dm.set_shard(1, 2)
    rows = next(iter(dm.train_dataloader()))["x"]
    whole = TextDataModule(make_corpus(TEXT.read_text()[:40000], "c", 0.1), batch_size=6, bptt=32)
    assert rows.shape[0] == 3 and (rows == next(iter(whole.train_dataloader()))["x"][3:]).all()
