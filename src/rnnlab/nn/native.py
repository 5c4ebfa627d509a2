"""Build and load rnnlab's C++ loops (csrc/: the layer-normalised LSTM/GRU, the plain GRU, the LSTM with
zoneout and the sLSTM) once per machine, with torch.utils.cpp_extension.

The first use compiles them (a minute or two on the 2-core development machine; ninja and a C++ compiler
needed) into PyTorch's extension cache (``~/.cache/torch_extensions``, or ``$TORCH_EXTENSIONS_DIR``);
later processes load the cached build in about a second. Where the build fails (no compiler) the
layer-normalised cells run the same loops written with torch ops (same numbers, slower) and the GRU runs
PyTorch's fused kernel (zoneout: the reference loop); ``RNNLAB_NATIVE=0`` skips the build on purpose.
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import time
from pathlib import Path
from types import ModuleType

log = logging.getLogger(__name__)

CSRC = Path(__file__).parent / "csrc"
SOURCES = tuple(CSRC / name for name in ("layernorm_seq.cpp", "gru_seq.cpp", "lstm_seq.cpp", "slstm_seq.cpp", "module.cpp"))
HEADERS = tuple(CSRC / name for name in ("common.h", "loops.h"))
# -fno-trapping-math lets the compiler vectorise the exp/sigmoid/tanh loops (no FP exceptions are used)
CFLAGS = ("-O3", "-march=native", "-fopenmp-simd", "-fno-math-errno", "-fno-trapping-math")

_state: dict[str, object] = {}


def load() -> ModuleType | None:
    """The compiled module, or None where it cannot be built here (the reason is logged once)."""
    if "module" in _state:
        return _state["module"]  # type: ignore[return-value]
    module = None
    if os.environ.get("RNNLAB_NATIVE", "1") == "0":
        _state["reason"] = "RNNLAB_NATIVE=0"
    else:
        t0 = time.perf_counter()
        try:
            from torch.utils.cpp_extension import load as build

            _ninja_on_path()
            module = build(
                f"rnnlab_native_{_cpu_tag()}_{_source_tag()}",
                [str(s) for s in SOURCES],
                extra_cflags=list(CFLAGS),
                verbose=False,
            )
            _state["seconds"] = time.perf_counter() - t0
        except Exception as exc:  # noqa: BLE001 - any build failure means: use the torch-ops loops
            _state["reason"] = _first_error(exc)
            log.warning(
                "rnnlab: the C++ loops could not be built (%s); the layer-normalised cells run the same loops "
                "in torch ops (same numbers, about 1.6x slower) and the GRU PyTorch's fused kernel. Install a "
                "C++ compiler and `pip install ninja` for the fast path.",
                _state["reason"],
            )
    _state["module"] = module
    return module


def available(x) -> bool:
    """Whether rnnlab's C++ loops can run on tensors like `x`: CPU float32/float64 and a build that loads."""
    import torch

    return x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64) and load() is not None


def _ninja_on_path() -> None:
    """Put the pip-installed ninja (a dependency) on PATH: a venv used without activating it lacks it."""
    try:
        import ninja
    except ImportError:
        return
    path = os.environ.get("PATH", "")
    if ninja.BIN_DIR not in path.split(os.pathsep):
        os.environ["PATH"] = ninja.BIN_DIR + os.pathsep + path


def _cpu_tag() -> str:
    """A short hash of this CPU's instruction-set flags: the build uses -march=native, so a home directory
    shared by different machines must not hand one machine's build to another."""
    flags = platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags += next((ln for ln in f if ln.startswith(("flags", "Features"))), "")
    except OSError:
        pass
    return hashlib.sha256(flags.encode()).hexdigest()[:8]


def _source_tag() -> str:
    """A short hash of the sources and headers: PyTorch's rebuild check hashes the sources only, so a changed
    header would otherwise load the old build."""
    digest = hashlib.sha256()
    for f in SOURCES + HEADERS:
        digest.update(f.read_bytes())
    return digest.hexdigest()[:8]


def _first_error(exc: Exception) -> str:
    """The compiler's first 'error:' line where there is one, else the exception's last line."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()] or [type(exc).__name__]
    return next((ln for ln in lines if "error:" in ln), f"{type(exc).__name__}: {lines[-1]}")


def status() -> dict[str, object]:
    """Whether the C++ loops are loaded, how long loading (building, the first time) took, or why not."""
    load()
    return {
        "loaded": _state["module"] is not None,
        "load_seconds": _state.get("seconds"),
        "reason": _state.get("reason"),
    }
