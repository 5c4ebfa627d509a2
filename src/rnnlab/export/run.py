"""export_run: open a run, ask its Task for graphs, write RUN/export/<graph>.onnx and manifest.json (what a
caller outside Python needs: inputs, outputs, dynamic dimensions, the data's classes, features, scaler and
vocabulary, and the round-trip error each file was checked to)."""

from __future__ import annotations

import json
import platform
from pathlib import Path

import torch

from rnnlab import __version__
from rnnlab.errors import ConfigError
from rnnlab.train.rundir import check_writable, open_run, write_atomic_bytes, write_json

FORMATS = ("onnx",)
DATA_KEYS = (  # data.json fields a caller needs to prepare inputs and read outputs
    "name", "classes", "features", "scaler", "vocab", "max_len", "max_tokens", "columns", "target",
    "future", "lookback", "horizon", "freq", "target_is_change", "pad_id", "bos_id", "eos_id",
    "n_features", "max_width", "max_caption_len",
)  # fmt: skip


def export_run(run_dir: str | Path, out: str | Path | None = None, fmt: str = "onnx") -> dict:
    """Export every graph of a finished run to `out` (default RUN/export) and return the manifest."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    from rnnlab.export.onnx import OPSET, max_error, require_onnx, to_onnx
    from rnnlab.tasks import of_run

    versions = require_onnx()
    files = open_run(run_dir)
    task = of_run(files)
    graphs = task.graphs(files.model)
    where = Path(out) if out else files.path / "export"
    check_writable(where, "export directory")
    entries = []
    for g in graphs:
        data = to_onnx(g)
        path = where / f"{g.name}.onnx"
        write_atomic_bytes(path, data)
        entries.append(
            {
                "name": g.name,
                "file": path.name,
                "bytes": len(data),
                "inputs": _specs(g.inputs, g.example, g.dynamic),
                "outputs": _specs(g.outputs, _outputs(g), g.dynamic),
                "dynamic": {k: {str(a): d for a, d in v.items()} for k, v in g.dynamic.items()},
                "max_abs_error": max_error(g, data),
                **({"note": g.note} if g.note else {}),
            }
        )
    spec = {"kind": type(files.model).__name__, "config": getattr(files.model, "config", {})}
    manifest = {
        "task": task.name,
        "format": fmt,
        "opset": OPSET,
        "model": spec,
        "signature": task.signature(files.model).to_dict(),
        "graphs": entries,
        "data": {k: files.data[k] for k in DATA_KEYS if k in files.data},
        "weights": "model.safetensors (the source of truth; these files are derived from it)",
        "versions": {
            "rnnlab": __version__,
            "torch": torch.__version__,
            **versions,
            "python": platform.python_version(),
        },
        "path": str(where),
    }
    # forecasting: the per-step noise sd of the 80% interval (its MC-dropout half needs dropout on, in torch)
    results = _results(files.path)
    noise = results.get("interval_noise_sd")
    if noise is not None:
        manifest["data"]["interval_noise_sd"] = noise
    if results.get("interval_half_width") is not None:  # the split-conformal 80% half-width per step
        manifest["data"]["interval_half_width"] = results["interval_half_width"]
        manifest["data"]["interval_relative_to"] = results.get("interval_relative_to")
    write_json(where / "manifest.json", manifest)
    return manifest


def _specs(names: tuple[str, ...], example: tuple, dynamic: dict) -> list[dict]:
    """Each input's dtype and shape, a dynamic axis by its name."""
    out = []
    for n, t in zip(names, example, strict=True):
        dims = [dynamic.get(n, {}).get(a, int(s)) for a, s in enumerate(t.shape)]
        out.append({"name": n, "dtype": str(t.dtype).removeprefix("torch."), "dims": dims})
    return out


def _outputs(g) -> tuple:
    with torch.no_grad():
        out = g.module(*g.example)
    return out if isinstance(out, tuple) else (out,)


def _results(run: Path) -> dict:
    try:
        return json.loads((run / "results.json").read_text())
    except (OSError, ValueError):
        return {}
