"""Run directories that cannot be written: a read-only --out fails before training, a full disk while
checkpointing or exporting is one line that says how to resume and loses nothing already saved, and
`rnnlab inspect` on a read-only run suggests --out. Real training runs (a tiny GRU on real HAR windows)
through the CLI; the disk fills up by monkeypatch at a chosen write."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from smallhar import small_har

from rnnlab.cli import main
from rnnlab.errors import DiskFullError, RunDirError
from rnnlab.train import rundir
from rnnlab.train.checkpoints import atomic_torch_save

RECIPE = """name: tiny
data: {{name: user, path: {data}, batch_size: 16}}
model: {{kind: SequenceClassifier, cell: gru, hidden: 8, layers: 1, dropout: 0.0}}
train: {{max_epochs: 3, seed: 0, threads: 1, patience: 0, lr: 0.005}}
"""


@pytest.fixture(autouse=True)
def _no_network(monkeypatch, tmp_path):
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def recipe(tmp_path_factory) -> Path:
    """118 real HAR windows (every 4th step: 32 x 9) as an .npz and a recipe that trains on them in seconds."""
    folder = tmp_path_factory.mktemp("recipe")
    x, y = small_har()
    np.savez(folder / "data.npz", X=x, y=y)
    path = folder / "tiny.yaml"
    path.write_text(RECIPE.format(data=folder / "data.npz"))
    return path


def _err(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("error: "), err
    return err


def _is_temp(p: Path) -> bool:
    return p.name.endswith(".tmp") or p.name == rundir.PROBE


def _files(run: Path) -> dict[str, bytes]:
    """Every saved file of the run (not the temp file being written) and its bytes."""
    return {
        str(p.relative_to(run)): p.read_bytes()
        for p in sorted(run.rglob("*"))
        if p.is_file() and not _is_temp(p)
    }


def _temp_files(run: Path) -> list[Path]:
    return [p for p in run.rglob("*") if _is_temp(p)]


def _read_only(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Make `folder` read-only. chmod does it for a normal user; root ignores permissions, so there the
    kernel's answer (EACCES on creating anything below it) is given by os.open/os.mkdir themselves."""
    folder.chmod(0o555)
    if os.geteuid() != 0:
        return
    real_open, real_mkdir = os.open, os.mkdir
    writes = os.O_WRONLY | os.O_RDWR | os.O_CREAT

    def below(path) -> bool:
        return Path(os.path.abspath(path)).is_relative_to(folder.resolve())

    def guarded_open(path, flags, *args, **kwargs):
        if flags & writes and below(path):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    def guarded_mkdir(path, *args, **kwargs):
        if below(path) and not os.path.exists(path):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", guarded_open)
    monkeypatch.setattr(os, "mkdir", guarded_mkdir)


@pytest.fixture
def restore_modes():
    """Give read-only test folders their write bit back so tmp_path can be cleaned up."""
    folders: list[Path] = []
    yield folders
    for f in folders:
        f.chmod(0o755)


class _FullFile:
    """A binary file that takes `budget` bytes and then fails like a full disk (ENOSPC)."""

    def __init__(self, f, budget: int) -> None:
        self.f, self.budget = f, budget

    def write(self, data) -> int:
        data = bytes(data)
        if len(data) > self.budget:
            self.f.write(data[: self.budget])
            self.budget = 0
            raise OSError(errno.ENOSPC, "No space left on device")
        self.budget -= len(data)
        return self.f.write(data)

    def __getattr__(self, name):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.f.close()


# ---- the atomic writers themselves ----


def test_full_disk_in_write_atomic_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "results.json"
    path.write_text('{"old": true}\n')
    real_fdopen = os.fdopen
    monkeypatch.setattr(
        os, "fdopen", lambda fd, mode="r", *a, **k: _FullFile(real_fdopen(fd, mode, *a, **k), 4)
    )
    with pytest.raises(
        DiskFullError, match=r"^no space left on device while writing .*results\.json; free space"
    ) as e:
        rundir.write_json(path, {"new": list(range(1000))})
    assert "\n" not in str(e.value)
    assert path.read_text() == '{"old": true}\n' and _temp_files(tmp_path) == []


def test_full_disk_in_torch_save_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    """torch.save reports the failed write as a RuntimeError around the OSError; it is still a full disk."""
    path = tmp_path / "last.ckpt"
    atomic_torch_save({"state_dict": {"w": torch.zeros(3)}}, path)
    before = path.read_bytes()
    real_save = torch.save
    monkeypatch.setattr(torch, "save", lambda obj, f, *a, **k: real_save(obj, _FullFile(f, 100), *a, **k))
    with pytest.raises(DiskFullError, match="while writing .*last.ckpt"):
        atomic_torch_save({"state_dict": {"w": torch.ones(10_000)}}, path)
    assert path.read_bytes() == before and _temp_files(tmp_path) == []


def test_check_writable_names_the_directory_and_the_fix(tmp_path, monkeypatch, restore_modes):
    rundir.check_writable(tmp_path / "early" / "run", create=False)  # probes tmp_path, makes nothing
    assert not (tmp_path / "early").exists() and _temp_files(tmp_path) == []
    rundir.check_writable(tmp_path / "fresh" / "run")  # creates it, leaves no probe
    assert (tmp_path / "fresh" / "run").is_dir() and _temp_files(tmp_path) == []
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(
        RunDirError, match=r"cannot write to run directory .*a_file/run \(.*\); choose a writable"
    ):
        rundir.check_writable(tmp_path / "a_file" / "run", create=False)
    ro = tmp_path / "ro"
    ro.mkdir()
    restore_modes.append(ro)
    _read_only(monkeypatch, ro)
    for target, create in ((ro, True), (ro / "run", True), (ro / "run", False)):
        with pytest.raises(
            RunDirError,
            match=r"cannot write to run directory .*ro.* \(Permission denied\); choose a writable --out",
        ):
            rundir.check_writable(target, create=create)
    assert not (ro / "run").exists()


# ---- rnnlab train ----


def test_read_only_out_is_one_line_before_any_data_or_training(
    recipe, tmp_path, monkeypatch, capsys, restore_modes
):
    ro = tmp_path / "ro"
    ro.mkdir()
    restore_modes.append(ro)
    _read_only(monkeypatch, ro)

    def no_data(*args, **kwargs):
        raise AssertionError("data was loaded for a run that cannot be written")

    monkeypatch.setattr("rnnlab.tasks.classify.task.make_datamodule", no_data)
    assert main(["train", str(recipe), "--out", str(ro / "run")]) == 2
    err = _err(capsys)
    assert f"cannot write to run directory {ro / 'run'} (Permission denied)" in err and "--out" in err
    assert not (ro / "run").exists()


def test_read_only_out_through_fit_fails_before_training(har_small, tmp_path, monkeypatch, restore_modes):
    from rnnlab.data.datamodule import SequenceDataModule
    from rnnlab.models import SequenceClassifier
    from rnnlab.tasks.fit import fit

    ro = tmp_path / "ro"
    ro.mkdir()
    restore_modes.append(ro)
    _read_only(monkeypatch, ro)
    dm = SequenceDataModule(har_small, har_small, batch_size=16, name="har_small")
    model = SequenceClassifier(dm.n_features, dm.n_classes, hidden=8, layers=1)
    monkeypatch.setattr("rnnlab.tasks.fit.make_trainer", lambda *a, **k: pytest.fail("a Trainer was built"))
    with pytest.raises(RunDirError, match="cannot write to run directory"):
        fit(model, dm, out=ro / "run", max_epochs=1)


def test_full_disk_while_checkpointing_is_one_line_keeps_the_last_checkpoint_and_resumes(
    recipe, tmp_path, monkeypatch, capsys
):
    run = tmp_path / "run"
    real_save, calls, at_failure = torch.save, [], {}

    def full_on_third_save(obj, f, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # epoch 0 wrote best.ckpt and last.ckpt; the disk fills up in epoch 1
            at_failure.update(_files(run))
            return real_save(obj, _FullFile(f, 4096), *args, **kwargs)
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", full_on_third_save)
    assert main(["train", str(recipe), "--out", str(run), "--checkpoint-every", "0"]) == 2
    err = _err(capsys)
    assert f"error: no space left on device while writing {run / 'checkpoints'}" in err
    assert f"free space and resume with `rnnlab train tiny --resume {run}`" in err
    assert "checkpoints/last.ckpt" in at_failure and "checkpoints/best.ckpt" in at_failure
    assert _files(run) == at_failure  # every file, checkpoints included, is byte for byte what it was
    assert _temp_files(run) == []
    monkeypatch.setattr(torch, "save", real_save)  # space freed: resume as the message says
    assert main(["train", "tiny", "--resume", str(run)]) == 0
    assert (run / "results.json").is_file() and (run / "model.safetensors").is_file()


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="names the file behind a descriptor via /proc")
def test_full_disk_at_export_keeps_every_saved_file_and_resume_finishes(
    recipe, tmp_path, monkeypatch, capsys
):
    run = tmp_path / "run"
    real_fdopen, at_failure = os.fdopen, {}

    def fdopen(fd, mode="r", *args, **kwargs):
        f = real_fdopen(fd, mode, *args, **kwargs)
        if Path(os.readlink(f"/proc/self/fd/{fd}")).name.startswith(".model.safetensors."):
            at_failure.update(_files(run))
            return _FullFile(f, 1000)  # half of the weights reach the disk, then it is full
        return f

    monkeypatch.setattr(os, "fdopen", fdopen)
    assert main(["train", str(recipe), "--out", str(run), "--checkpoint-every", "0"]) == 2
    err = _err(capsys)
    assert f"no space left on device while writing {run / 'model.safetensors'}; free space and resume" in err
    assert {"checkpoints/last.ckpt", "checkpoints/best.ckpt", "metrics.csv", "config.yaml"} <= set(at_failure)
    assert _files(run) == at_failure and _temp_files(run) == []
    assert not (run / "model.safetensors").exists() and not (run / "results.json").exists()
    monkeypatch.setattr(os, "fdopen", real_fdopen)
    assert main(["train", "tiny", "--resume", str(run)]) == 0  # training was complete: it tests and exports
    assert "test accuracy" in capsys.readouterr().out
    assert (run / "model.safetensors").is_file() and (run / "results.json").is_file()
    assert _files(run)["checkpoints/best.ckpt"] == at_failure["checkpoints/best.ckpt"]  # nothing retrained


# ---- rnnlab inspect ----


@pytest.fixture(scope="module")
def finished(recipe, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("finished") / "run"
    assert main(["train", str(recipe), "--out", str(run)]) == 0
    return run


def test_inspect_read_only_run_suggests_out_and_out_works(
    finished, tmp_path, monkeypatch, capsys, restore_modes
):
    restore_modes.append(finished)
    _read_only(monkeypatch, finished)
    before = _files(finished)
    assert main(["inspect", str(finished)]) == 2
    err = _err(capsys)
    assert f"cannot write to run directory {finished} (Permission denied)" in err
    assert f"rnnlab inspect {finished} --out DIR/report.html" in err
    assert _files(finished) == before
    report = tmp_path / "elsewhere" / "report.html"
    assert main(["inspect", str(finished), "--out", str(report)]) == 0
    assert report.read_text().startswith("<!doctype html>")
