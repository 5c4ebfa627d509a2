"""The run directory: what training writes and what evaluate/predict/inspect read back.

config.yaml        the recipe that made the run (rebuilds the data and the model)
data.json          classes, feature names, scaler, split sizes
model.json         {"kind": class name, "config": constructor arguments}
model.safetensors  the weights (never a pickle)
metrics.csv        one row per epoch
results.json       test metrics, parameter count, timings
test_predictions.csv, checkpoints/
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import yaml
from safetensors.torch import load_file
from safetensors.torch import save as safetensors_bytes
from torch import nn

from rnnlab.errors import DiskFullError, RunDirError
from rnnlab.models import build_model

REQUIRED = ("config.yaml", "data.json", "model.json", "model.safetensors")
NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})  # a full disk, an exhausted quota
PROBE = ".rnnlab-write-probe"


def new_run_dir(recipe_name: str, root: str | Path = "runs") -> Path:
    """runs/<recipe>-<timestamp>/, made unique if two runs start in the same second."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{recipe_name}-{stamp}"
    path, i = base, 1
    while path.exists():
        path, i = Path(f"{base}-{i}"), i + 1
    return path


def is_disk_full(exc: BaseException) -> bool:
    """True when `exc`, or an exception it was raised from or during, is ENOSPC/EDQUOT.

    torch.save reports a failed write as a RuntimeError ("unexpected pos ...") with the OSError only as its
    context, so the whole chain is searched."""
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        if isinstance(e, DiskFullError) or (isinstance(e, OSError) and e.errno in NO_SPACE):
            return True
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return False


@contextmanager
def atomic_file(path: Path) -> Iterator[BinaryIO]:
    """A binary file to write `path` through: a temp file beside it, flushed, fsync'ed and renamed over `path`
    when the block ends, so a crash or a full disk never leaves a half-written file. On any failure the temp
    file is removed and the old `path` (if any) is untouched; a full disk is raised as one-line DiskFullError
    naming `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if is_disk_full(e):
            raise DiskFullError(path) from None
        raise


def write_atomic_bytes(path: Path, data: bytes | memoryview) -> None:
    """Write bytes atomically (see atomic_file)."""
    with atomic_file(path) as f:
        f.write(data)


def write_atomic(path: Path, text: str) -> None:
    """Write text (UTF-8) atomically; see write_atomic_bytes."""
    write_atomic_bytes(path, text.encode("utf-8"))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_writable(
    path: Path, what: str = "run directory", fix: str | None = None, create: bool = True
) -> None:
    """Prove that directory `path` takes files: write a probe atomically and remove it, so a read-only, full or
    misnamed location fails at once with one line instead of after training. `create`: make `path` (and its
    parents) first; otherwise probe the nearest directory that exists, leaving nothing behind (a check made
    before the inputs are validated). Raises RunDirError naming `path` and the fix."""
    try:
        if create:
            path.mkdir(parents=True, exist_ok=True)
            target = path
        else:
            target = next(p for p in (path, *path.parents) if p.exists())
        probe = target / PROBE
        write_atomic(probe, "")
        probe.unlink()
    except OSError as e:
        if is_disk_full(e):
            why, hint = "no space left on device", "free space or choose a directory on another disk"
        else:
            why = e.strerror or type(e).__name__
            hint = "choose a writable --out DIR or fix its permissions"
        raise RunDirError(f"cannot write to {what} {path} ({why}); {fix or hint}") from None


def write_json(path: Path, obj: dict) -> None:
    write_atomic(path, json.dumps(obj, indent=2) + "\n")


def write_yaml(path: Path, obj: dict) -> None:
    write_atomic(path, yaml.safe_dump(obj, sort_keys=False))


def save_model(run: Path, model: nn.Module) -> None:
    """model.safetensors + model.json (class name and constructor config), each written atomically."""
    # a copy per name: safetensors refuses tensors that share memory (a CharLM's tied embedding and decoder)
    state = {k: v.detach().cpu().clone().contiguous() for k, v in model.state_dict().items()}
    # serialised in memory, then written like every other run file (temp + fsync + rename): a full disk is a
    # plain OSError we can name (safetensors' own writer reports it as an opaque error) and leaves no temp file
    write_atomic_bytes(run / "model.safetensors", safetensors_bytes(state))
    write_json(run / "model.json", {"kind": type(model).__name__, "config": model.config})


@dataclass
class RunFiles:
    """The parsed contents of a run directory needed to predict."""

    path: Path
    recipe: dict
    data: dict
    model: nn.Module


def open_run(path: str | Path) -> RunFiles:
    """Read a run directory back: config, data description and the model with its weights (no pickle)."""
    run = Path(path)
    if not run.is_dir():
        raise RunDirError(f"run directory {run} does not exist; pass the directory `rnnlab train` printed")
    missing = [f for f in REQUIRED if not (run / f).is_file()]
    if missing:
        raise RunDirError(
            f"run directory {run} is missing {', '.join(missing)}; it is incomplete (did training "
            "finish?) - retrain or point to a complete run"
        )
    try:
        recipe = yaml.safe_load((run / "config.yaml").read_text())
        data = json.loads((run / "data.json").read_text())
        spec = json.loads((run / "model.json").read_text())
        model = build_model(spec["kind"], **spec["config"])
        model.load_state_dict(load_file(str(run / "model.safetensors")))
    except Exception as e:  # any parse/shape failure becomes one line naming the run directory
        raise RunDirError(
            f"run directory {run} is unreadable ({type(e).__name__}: {str(e).splitlines()[0]}); "
            "retrain to recreate it"
        ) from None
    model.eval()
    return RunFiles(run, recipe, data, model)
