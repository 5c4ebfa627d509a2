"""Data-parallel training: 2 real CPU processes (torchrun, gloo) train like one process with the same global
batch, and only rank 0 writes the run directory. Plus the sampler's sharding and the one-line launch errors."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from safetensors.torch import load_file
from smallhar import small_har

from rnnlab.cli import main
from rnnlab.config import TrainConfig
from rnnlab.data.datamodule import EpochShuffle
from rnnlab.errors import ConfigError, DataError
from rnnlab.train.distributed import check_parallel, is_global_zero

EPOCHS = 12
WEIGHT_TOL = 1e-4  # max |w_ddp - w_single| after 96 AdamW steps: the all-reduce sums in another order

RECIPE = """name: tiny
data: {{name: user, path: {data}, batch_size: 8}}
model: {{kind: SequenceClassifier, cell: gru, hidden: 16, layers: 1, dropout: 0.0}}
train: {{max_epochs: {epochs}, seed: 3, deterministic: true, threads: 1, patience: 0, lr: 0.005, max_time: 30}}
"""
# max_time: under a cap each step's schedule reads rank 0's clock (a broadcast per step); 30 minutes never leads

# Records, in every torchrun worker, each write-open / mkdir / rename / remove under the run directory, into
# writes-rank<RANK>.txt beside it: the proof that rank 1 wrote nothing (Python audit hooks see every open).
AUDIT = """import os, sys
if "RANK" in os.environ and os.environ.get("AUDIT_RUN"):
    _root = os.environ["AUDIT_RUN"]
    _log = open(os.path.join(os.environ["AUDIT_DIR"], "writes-rank%s.txt" % os.environ["RANK"]), "w", buffering=1)
    _writes = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

    def _hook(event, args):
        if event == "open":
            path, mode, flags = args
            if not ((mode and any(c in mode for c in "wax+")) or (not mode and flags & _writes)):
                return
        elif event in ("os.mkdir", "os.rename", "os.remove", "os.rmdir", "os.truncate"):
            path = args[0]
        else:
            return
        if isinstance(path, (str, bytes, os.PathLike)) and os.path.abspath(os.fsdecode(path)).startswith(_root):
            _log.write("%s %s\\n" % (event, os.fsdecode(path)))

    sys.addaudithook(_hook)
"""


def _write_recipe(folder: Path) -> Path:
    """100 real HAR windows (every 4th step: 32 x 9): train/val/test = 64/16/20, so 8 full global batches."""
    x, y = small_har()
    pick = np.linspace(0, len(y) - 1, 100).round().astype(int)  # both subjects
    x, y = x[pick], y[pick]
    np.savez(folder / "data.npz", X=x, y=y)
    path = folder / "tiny.yaml"
    path.write_text(RECIPE.format(data=folder / "data.npz", epochs=EPOCHS))
    return path


def _rows(run: Path) -> list[dict[str, str]]:
    return list(csv.DictReader((run / "metrics.csv").open()))


TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore", **extra}


def _ddp_train(recipe: Path, out: Path) -> list[str]:
    """torchrun: 2 CPU processes on this machine train `recipe` into `out` with per-process batch 4 (-v: with
    Lightning's own log lines, which name the process group's backend)."""
    args = ["train", str(recipe), "--out", str(out), "--data.batch_size", "4", "--train.devices", "2"]
    return [
        *TORCHRUN,
        "-m",
        "rnnlab.cli",
        "-v",
        *args,
        "--train.strategy",
        "ddp",
        "--checkpoint-every",
        "0.2",
    ]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, Path, Path, str]:
    """(single run, DDP run, audit folder, DDP stdout): per-process batch 4 on 2 ranks vs batch 8 in one."""
    folder = tmp_path_factory.mktemp("ddp")
    recipe = _write_recipe(folder)
    audit = folder / "audit"
    audit.mkdir()
    (audit / "sitecustomize.py").write_text(AUDIT)
    ddp, single = folder / "ddp", folder / "single"
    path = os.pathsep.join([str(audit), os.environ.get("PYTHONPATH", "")])
    env = _env(PYTHONPATH=path, AUDIT_RUN=str(ddp), AUDIT_DIR=str(audit))
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        _ddp_train(recipe, ddp),
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert main(["train", str(recipe), "--out", str(single)]) == 0  # meanwhile, the single process
        out, err = proc.communicate(timeout=180)
    finally:
        proc.kill()
    assert proc.returncode == 0, (out + err)[-3000:]
    print(f"2-process and 1-process runs took {time.perf_counter() - t0:.1f} s")
    return single, ddp, audit, out


def test_two_processes_train_like_one_with_the_same_global_batch(runs):
    single, ddp, _, _ = runs
    a, b = load_file(str(single / "model.safetensors")), load_file(str(ddp / "model.safetensors"))
    assert a.keys() == b.keys()
    diff = max(float((a[k] - b[k]).abs().max()) for k in a)
    print(
        f"max |w_ddp - w_single| = {diff:.2e} (weights up to {max(float(a[k].abs().max()) for k in a):.2f})"
    )
    assert diff < WEIGHT_TOL, diff

    ra, rb = (json.loads((r / "results.json").read_text()) for r in (single, ddp))
    assert ra["test"]["n"] == rb["test"]["n"] == 20  # rank 0 tested the whole split, not half of it
    assert (
        ra["test"]["accuracy"] == rb["test"]["accuracy"] and ra["test"]["macro_f1"] == rb["test"]["macro_f1"]
    )
    assert rb["test"]["loss"] == pytest.approx(ra["test"]["loss"], abs=1e-4)
    assert rb["best_val"]["val_loss"] == pytest.approx(ra["best_val"]["val_loss"], abs=1e-4)
    assert ra["confusion"] == rb["confusion"] and ra["epochs"] == rb["epochs"] == EPOCHS

    rows_a, rows_b = _rows(single), _rows(ddp)
    for ra_, rb_ in zip(rows_a, rows_b, strict=True):
        for k in ("train_loss", "val_loss", "lr"):  # train_loss: the mean over both ranks' batches
            assert float(rb_[k]) == pytest.approx(float(ra_[k]), abs=1e-4), (k, ra_, rb_)
        for k in ("train_acc", "val_acc", "val_f1"):  # torchmetrics synced over the ranks
            assert float(rb_[k]) == pytest.approx(float(ra_[k]), abs=1e-6), (k, ra_, rb_)
    cfg = yaml.safe_load((ddp / "config.yaml").read_text())
    assert cfg["train"]["devices"] == 2 and cfg["train"]["strategy"] == "ddp"


def test_only_rank_zero_writes_the_run_directory(runs):
    _, ddp, audit, out = runs
    rank0 = (audit / "writes-rank0.txt").read_text()
    rank1 = (audit / "writes-rank1.txt").read_text()
    for name in ("config.yaml", "data.json", "metrics.csv", "results.json", "model.safetensors", "last.ckpt"):
        assert name in rank0, f"the audit hook missed rank 0 writing {name}:\n{rank0}"
    assert rank1 == "", f"rank 1 wrote into the run directory:\n{rank1}"
    assert [r["epoch"] for r in _rows(ddp)] == [
        str(e) for e in range(EPOCHS)
    ]  # one row per epoch, one header
    assert "distributed_backend=gloo" in out and "Starting with 2 processes" in out, (
        out
    )  # Lightning's -v lines
    assert out.count("run directory:") == 1 and out.count("test accuracy") == 1, out  # rank 0 alone prints
    assert not list(ddp.rglob("*.tmp")) and sorted(p.name for p in (ddp / "checkpoints").iterdir()) == [
        "best.ckpt",
        "last.ckpt",
    ]


@pytest.mark.slow  # two more torchrun launches: ~18 s on 2 busy cores; run with -m slow
def test_a_killed_two_process_run_resumes_bit_identical(runs):
    """SIGKILL both workers (and torchrun) at the first checkpoint, resume under torchrun: the same weights."""
    _, ddp, _, _ = runs
    run = ddp.parent / "killed"
    last = run / "checkpoints" / "last.ckpt"
    proc = subprocess.Popen(_ddp_train(ddp.parent / "tiny.yaml", run), cwd=ddp.parent, env=_env())
    while not last.exists() and proc.poll() is None:
        time.sleep(0.01)
    workers = [int(p) for p in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]
    for pid in [*workers, proc.pid]:  # torchrun's workers outlive a killed torchrun: kill them by id
        os.kill(pid, signal.SIGKILL)
    proc.wait()
    assert len(workers) == 2 and not (run / "results.json").exists()
    resume = [*TORCHRUN, "-m", "rnnlab.cli", "train", "tiny", "--resume", str(run)]
    done = subprocess.run(resume, cwd=ddp.parent, env=_env(), capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert (run / "model.safetensors").read_bytes() == (ddp / "model.safetensors").read_bytes()
    assert [r["epoch"] for r in _rows(run)] == [str(e) for e in range(EPOCHS)]
    val = ("val_loss", "val_acc", "val_f1")
    assert [[r[k] for k in val] for r in _rows(run)] == [[r[k] for k in val] for r in _rows(ddp)]


def test_epoch_shuffle_shards_interleave_into_the_single_process_batches():
    n, b, seed = 37, 4, 5
    whole = EpochShuffle(n, seed)
    shards = [EpochShuffle(n, seed, rank=r, world_size=2) for r in range(2)]
    for epoch in (0, 1, 3):
        for s in (whole, *shards):
            s.set_epoch(epoch)
        order, parts = list(whole), [list(s) for s in shards]
        assert len(parts[0]) == len(parts[1]) == len(shards[0]) == 19  # padded: the same batches per rank
        assert sorted(parts[0] + parts[1]) == sorted(order + order[:1])  # one index repeats, none is lost
        for k in range(n // (2 * b)):  # rank batches k together are the single-process batch k of size 2b
            union = parts[0][k * b : (k + 1) * b] + parts[1][k * b : (k + 1) * b]
            assert sorted(union) == sorted(order[2 * b * k : 2 * b * (k + 1)])
    resumed = EpochShuffle(n, seed, rank=1, world_size=2)
    resumed.skip(2, 2 * b)  # two per-rank batches of epoch 2 were trained before a kill
    resumed.set_epoch(2)
    shards[1].set_epoch(2)
    assert list(resumed) == list(shards[1])[2 * b :]
    with pytest.raises(DataError, match="rank 2 of 2"):
        EpochShuffle(n, seed, rank=2, world_size=2)


def test_launch_settings_are_checked_with_one_line_errors(monkeypatch, tmp_path):
    for var in (
        "RANK",
        "LOCAL_RANK",
        "WORLD_SIZE",
        "NODE_RANK",
        "GROUP_RANK",
        "SLURM_PROCID",
        "SLURM_NTASKS",
    ):
        monkeypatch.delenv(var, raising=False)
    assert not check_parallel(TrainConfig(), None, supported=False) and is_global_zero()
    with pytest.raises(ConfigError, match="needs --out RUN_DIR"):
        check_parallel(TrainConfig(devices=2, strategy="ddp"), None, supported=True)
    assert check_parallel(TrainConfig(devices=2, strategy="ddp"), tmp_path, supported=True)
    with pytest.raises(ConfigError, match="not supported for .charlm. runs yet"):
        check_parallel(TrainConfig(devices=2), tmp_path, supported=False, task="charlm")
    with pytest.raises(ConfigError, match="train.strategy must be one of"):
        check_parallel(TrainConfig(devices=2, strategy="ddp_spawn"), tmp_path, supported=True)
    with pytest.raises(ConfigError, match="train.devices must be >= 1"):
        check_parallel(TrainConfig(devices=0), tmp_path, supported=True)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert not is_global_zero()
    with pytest.raises(ConfigError, match="launched as 2 processes but train.devices x train.num_nodes = 1"):
        check_parallel(TrainConfig(), tmp_path, supported=True)
    monkeypatch.delenv("RANK")
    monkeypatch.setenv("LOCAL_RANK", "1")  # a process Lightning's own launcher started
    assert not is_global_zero()
    monkeypatch.setenv("WORLD_SIZE", "1")  # a stray LOCAL_RANK outside a launch does not silence a run
    assert is_global_zero()


def test_cli_refuses_a_multi_process_run_without_out(tmp_path, capsys, monkeypatch):
    recipe = _write_recipe(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["train", str(recipe), "--train.devices", "2", "--train.strategy", "ddp"]) == 2
    err = capsys.readouterr().err.strip()
    assert "needs --out RUN_DIR" in err and "\n" not in err
    assert not (tmp_path / "runs").exists()
