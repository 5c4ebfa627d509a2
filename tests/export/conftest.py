"""Export tests share: a graph exported once and run by ONNX Runtime like a function."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnlab.export.onnx import session, to_onnx


class Runtime:
    """An exported graph in ONNX Runtime: call it with tensors in the graph's input order, get numpy arrays."""

    def __init__(self, graph) -> None:
        self.graph = graph
        self.sess = session(to_onnx(graph))

    def __call__(self, *inputs) -> list[np.ndarray]:
        feeds = {n: np.asarray(t) for n, t in zip(self.graph.inputs, inputs, strict=True)}
        return self.sess.run(list(self.graph.outputs), feeds)


@pytest.fixture
def runtime():
    """runtime(graph) -> a Runtime (the graph exported and loaded)."""
    return Runtime


def close(want, got, tol: float = 1e-5) -> float:
    """Largest absolute difference between torch outputs and ONNX Runtime's, asserting it is within tol."""
    want = want if isinstance(want, (tuple, list)) else (want,)
    err = max(float(np.abs(w.detach().numpy() - g).max()) for w, g in zip(want, got, strict=True))
    assert err < tol, err
    return err


@pytest.fixture
def assert_close():
    return close


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
