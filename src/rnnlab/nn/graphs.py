"""Replay a tensor function as a CUDA graph, recorded once per input shape.

The layer-normalised cells' torch-ops loops launch ~25 small kernels per time step; on a GPU the launches, not
the arithmetic, take the time. Recorded once as a CUDA graph, a whole sequence's loop is one launch. Inputs are
copied into the graph's own tensors before each replay and outputs cloned after it (two calls with one shape
share a graph, and a forward's outputs must survive until its backward).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch
from torch import Tensor

log = logging.getLogger(__name__)


class Graphed:
    """`fn` recorded as a CUDA graph per (shape, dtype, device) of its tensor arguments; None arguments allowed.

    At most `max_shapes` recordings are kept (each holds its own GPU memory; batches padded to a different
    length every time would otherwise record forever): further shapes run `fn` eagerly. A recording that fails
    (an op that cannot be captured) is logged and that shape runs `fn` eagerly too."""

    def __init__(self, fn: Callable[..., list[Tensor]], max_shapes: int = 8) -> None:
        self.fn = fn
        self.max_shapes = max_shapes
        self._graphs: dict[tuple, tuple | None] = {}

    def __call__(self, *args: Tensor | None) -> list[Tensor]:
        key = tuple(None if a is None else (tuple(a.shape), a.dtype, a.device) for a in args)
        if key not in self._graphs:
            if len(self._graphs) >= self.max_shapes:
                return self.fn(*args)
            self._graphs[key] = self._record(args)
        entry = self._graphs[key]
        if entry is None:
            return self.fn(*args)
        graph, inputs, outputs = entry
        for dst, src in zip(inputs, args, strict=True):
            if dst is not None:
                dst.copy_(src)
        graph.replay()
        return [o.clone() for o in outputs]

    def _record(self, args: tuple[Tensor | None, ...]) -> tuple | None:
        inputs = [None if a is None else a.clone() for a in args]
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        try:
            with torch.cuda.stream(side):
                self.fn(*inputs)  # warm-up: lazy initialisation must not happen inside the capture
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                outputs = self.fn(*inputs)
        except RuntimeError as exc:
            log.warning(
                "rnnlab: %s could not be recorded as a CUDA graph (%s); running it eagerly",
                self.fn.__name__,
                exc,
            )
            return None
        return graph, inputs, outputs
