"""One Graph to an ONNX file (the TorchScript exporter: its RNN symbolics keep time, batch and lengths
dynamic; the dynamo exporter fails on rnnlab's layers) and the file checked with ONNX Runtime."""

from __future__ import annotations

import importlib
import io
import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from rnnlab.errors import ConfigError
from rnnlab.tasks.contract import Graph

OPSET = 17


def require_onnx() -> dict[str, str]:
    """The versions of onnx and onnxruntime, or one line saying how to install them."""
    versions = {}
    for name in ("onnx", "onnxruntime"):
        try:
            versions[name] = importlib.import_module(name).__version__
        except ImportError:
            raise ConfigError(
                f"ONNX export needs {name}, which is not installed; pip install -e '.[export]'"
            ) from None
    return versions


def to_onnx(graph: Graph) -> bytes:
    """The graph as ONNX bytes (opset OPSET), the exporter's deprecation and tracer warnings kept quiet."""
    buf = io.BytesIO()
    graph.module.eval()  # the exporter restores the mode it found, recursively: it must find eval
    with warnings.catch_warnings(), torch.no_grad(), _quiet_native_stderr():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            graph.module,
            graph.example,
            buf,
            dynamo=False,
            opset_version=OPSET,
            input_names=list(graph.inputs),
            output_names=list(graph.outputs),
            dynamic_axes={k: dict(v) for k, v in graph.dynamic.items()},
        )
    return buf.getvalue()


@contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """Silence what the exporter's C++ side writes to file descriptor 2 (shape-inference notes about packed
    sequences, harmless here: the round-trip check measures the result). Python errors still propagate."""
    fd = 2  # where C++ writes, whatever Python's sys.stderr is
    sys.stderr.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), fd)
            yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


def session(model: bytes | str | Path, threads: int = 1):
    """An ONNX Runtime CPU session with `threads` intra-op threads."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    src = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(src, opts, providers=["CPUExecutionProvider"])


def max_error(graph: Graph, model: bytes | str | Path) -> float:
    """Largest absolute difference between ONNX Runtime and PyTorch over every output, on the example."""
    feeds = {n: t.numpy() for n, t in zip(graph.inputs, graph.example, strict=True)}
    got = session(model).run(list(graph.outputs), feeds)
    with torch.no_grad():
        want = graph.module.eval()(*graph.example)
    want = want if isinstance(want, tuple) else (want,)
    err = 0.0
    for w, g in zip(want, got, strict=True):
        w = w.numpy()
        if w.dtype == bool:
            err = max(err, float((w != g).sum()))
        else:
            diff = np.where(w == g, 0.0, np.abs(w.astype(np.float64) - g))  # equal infinities are no error
            err = max(err, float(np.nan_to_num(diff, nan=np.inf).max(initial=0.0)))
    return err
