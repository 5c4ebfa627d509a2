"""Timing primitives for the speed suite: interleaved medians, the machine's matmul peak, recurrent FLOPs.

Interleaving (rnnlab rep, reference rep, rnnlab rep, ...) makes a change in machine load hit both sides of a
ratio alike; medians ignore the odd preempted rep.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable

import torch

GATES = {"rnn": 1, "gru": 3, "lstm": 4, "mingru": 2, "minlstm": 3, "lnlstm": 4, "lngru": 3, "slstm": 4}


def sync(device: str) -> None:
    """Wait for queued GPU work, so a wall-clock reading covers it (no-op on CPU)."""
    if device == "cuda":
        torch.cuda.synchronize()


def interleaved(
    fns: dict[str, Callable[[], None]], reps: int, device: str = "cpu", warmup: int = 1
) -> dict[str, list[float]]:
    """Seconds per call of every fn, `reps` times each, taking turns; after `warmup` untimed calls each."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    sync(device)
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(reps):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            sync(device)
            times[name].append(time.perf_counter() - t0)
    return times


def median(ts: list[float]) -> float:
    return statistics.median(ts)


def percentile(ts: list[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank: a latency some real step actually took."""
    s = sorted(ts)
    return s[min(len(s) - 1, max(0, math.ceil(q / 100 * len(s)) - 1))]


def matmul_peak(device: str = "cpu", n: int = 2048, seconds: float = 2.0) -> float:
    """float32 GFLOP/s of an n x n matmul on this device, the best of repeated runs over about `seconds`
    (the best, not the mean: the peak is what the hardware can do, load from elsewhere only lowers it).

    On CPU both torch.mm (MKL's sgemm) and oneDNN's matmul are tried and the faster counts: the fused RNN
    kernels run on oneDNN, and on some CPUs (measured here: an AMD EPYC) MKL's sgemm reaches under half of
    oneDNN's rate, which would put the LSTM kernels above "100%" of the peak."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    kernels = [lambda: a @ b]
    if device == "cpu" and torch.backends.mkldnn.is_available():
        am, bm = a.to_mkldnn(), b.to_mkldnn()
        try:
            torch._C._nn.mkldnn_linear(am, bm, None)
            kernels.append(lambda: torch._C._nn.mkldnn_linear(am, bm, None))
        except (RuntimeError, AttributeError):  # a build without oneDNN's linear: sgemm alone
            pass
    best = 0.0
    for fn in kernels:
        for _ in range(2):
            fn()
        sync(device)
        t_end = time.perf_counter() + seconds / len(kernels)
        while time.perf_counter() < t_end:
            t0 = time.perf_counter()
            for _ in range(4):
                fn()
            sync(device)
            best = max(best, 4 * 2 * n**3 / (time.perf_counter() - t0))
    return best / 1e9


def recurrent_flops(
    kind: str, b: int, t: int, f: int, h: int, layers: int = 1, directions: int = 1, train: bool = True
) -> float:
    """Matmul FLOPs of one pass: gates x (input + recurrent) projections per step; training = 3x forward
    (the backward computes two products per forward one). Scan cells have no recurrent matmul."""
    g = GATES[kind]
    total = 0.0
    for k in range(layers):
        n_in = f if k == 0 else h * directions
        rec = 0 if kind.startswith("min") else h
        total += directions * 2.0 * b * t * (n_in + rec) * g * h
    return 3 * total if train else total
