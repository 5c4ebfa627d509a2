"""Monte-Carlo-dropout passes over many windows at once that equal `forecast_window`'s passes over each window
alone: it reseeds before its passes, so every window gets the same masks; here each Dropout draws its mask for
one window and broadcasts it over the batch, and the model's parts that run before any dropout (the encoder)
run once per batch instead of once per pass.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from rnnlab.data.windows import Standardiser, Windows
from rnnlab.nn.recurrent import Recurrent


class SharedMasks:
    """Dropout masks drawn for one window and reused over every batch: the k-th Dropout call of Monte-Carlo
    pass s gets pass s's k-th mask, drawn in the order `forecast_window` draws them for its single window.
    Outputs of the model's parts that run before any dropout (the encoder) are deterministic: each is
    computed in a batch's first pass and reused by its other passes."""

    def __init__(self) -> None:
        self.masks: dict[int, list[torch.Tensor]] = {}
        self.cache: list = []
        self.pass_, self.calls, self.parts = 0, 0, 0

    def new_batch(self) -> None:
        self.cache = []

    def start(self, pass_: int) -> None:
        self.pass_, self.calls, self.parts = pass_, 0, 0
        self.masks.setdefault(pass_, [])

    def dropout(self, m: nn.Dropout, x: torch.Tensor) -> torch.Tensor:
        if not m.training or m.p == 0:
            return x
        masks = self.masks[self.pass_]
        if self.calls == len(masks):
            masks.append(nn.functional.dropout(torch.ones((1, *x.shape[1:]), dtype=x.dtype), m.p, True))
        self.calls += 1
        return x * masks[self.calls - 1]

    def part(self, forward, *args, **kwargs):
        if self.calls:  # after a dropout the input differs from pass to pass
            return forward(*args, **kwargs)
        self.parts += 1
        if self.parts > len(self.cache):
            self.cache.append(forward(*args, **kwargs))
        return self.cache[self.parts - 1]


@contextlib.contextmanager
def shared_dropout_masks(model: nn.Module) -> Iterator[tuple[SharedMasks, bool]]:
    """While inside, every nn.Dropout applies the bank's shared masks (and, when that is exact, the parts
    without randomness reuse their first pass's output). Yields the bank and whether MC passes are exact
    (no other random draws: no recurrent inter-layer dropout)."""
    bank = SharedMasks()
    exact = not _recurrent_dropout(model)
    drops = [m for m in model.modules() if isinstance(m, nn.Dropout)]
    plain = [c for c in model.children() if exact and not any(isinstance(m, nn.Dropout) for m in c.modules())]
    for m in drops:
        m.forward = lambda x, m=m: bank.dropout(m, x)
    for c in plain:
        c.forward = lambda *a, f=c.forward, **k: bank.part(f, *a, **k)
    try:
        yield bank, exact
    finally:
        for m in drops + plain:
            del m.forward  # back to the class's forward


def _recurrent_dropout(model: nn.Module) -> bool:
    return any(m.dropout > 0 and m.num_layers > 1 for m in model.modules() if isinstance(m, Recurrent))


@torch.no_grad()
def mc_variance(
    model: nn.Module, w: Windows, scaler: Standardiser, samples: int, batch: int = 1024
) -> tuple[np.ndarray, bool]:
    """Per-point variance (data units) of `samples` dropout passes, seeded like `forecast_window`; and
    whether it equals the single-window path exactly."""
    drop = any(isinstance(m, nn.Dropout) and m.p > 0 for m in model.modules())
    if samples < 2 or not (drop or _recurrent_dropout(model)):
        return np.zeros(w.y.shape), True
    torch.manual_seed(0)
    x, xf = torch.from_numpy(w.x), torch.from_numpy(w.xf)
    draws = np.empty((samples, *w.y.shape))
    model.train()
    try:
        with shared_dropout_masks(model) as (bank, exact):
            for i in range(0, len(w), batch):
                bank.new_batch()
                for s in range(samples):
                    bank.start(s)
                    draws[s, i : i + batch] = model(x[i : i + batch], xf[i : i + batch]).numpy()
    finally:
        model.eval()
    return scaler.inverse(draws, 0).var(0), exact
