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

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml
from safetensors.torch import load_file, save_file
from torch import nn

from rnnlab.errors import RunDirError

REQUIRED = ("config.yaml", "data.json", "model.json", "model.safetensors")


def new_run_dir(recipe_name: str, root: str | Path = "runs") -> Path:
    """runs/<recipe>-<timestamp>/, made unique if two runs start in the same second."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{recipe_name}-{stamp}"
    path, i = base, 1
    while path.exists():
        path, i = Path(f"{base}-{i}"), i + 1
    return path


def write_atomic(path: Path, text: str) -> None:
    """Write text via a temp file + fsync + rename, so a crash never leaves a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, obj: dict) -> None:
    write_atomic(path, json.dumps(obj, indent=2) + "\n")


def write_yaml(path: Path, obj: dict) -> None:
    write_atomic(path, yaml.safe_dump(obj, sort_keys=False))


def save_model(run: Path, model: nn.Module) -> None:
    """model.safetensors + model.json (class name and constructor config)."""
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    tmp = run / ".model.safetensors.tmp"
    save_file(state, str(tmp))
    with tmp.open("rb+") as f:  # durable before the rename, like every other file of the run
        os.fsync(f.fileno())
    os.replace(tmp, run / "model.safetensors")
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
    from rnnlab.models import build_model

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
