"""Layer-normalised LSTM/GRU, every way we run them, against the fused torch.nn.LSTM of the same size.

B=64, T=128, F=9, H=128, forward + backward (a fixed upstream gradient), ms per batch, median of interleaved
reps: the equation-written loop (`fast_path="off"`), the whole-sequence loop in torch ops, the same in C++
(the default fast path), and with --compile the equation loop under `torch.compile` (whole sequence,
`dynamic=False`: it unrolls the loop; the first call's compile time is printed separately).

Usage: python bench/variant_cell_compile.py [--compile] [--malloc default]
Numbers in docs/RESULTS.md ("Layer-normalised cells").
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
from torch import nn

B, T, F, H = 64, 128, 9, 128


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--compile", action="store_true", help="also time torch.compile of the loop (minutes)")
    ap.add_argument("--malloc", choices=["keep", "default"], default="keep")
    ap.add_argument("--reps", type=int, default=7)
    args = ap.parse_args()
    os.environ["RNNLAB_MALLOC"] = args.malloc
    from rnnlab.nn import Recurrent, native
    from rnnlab.runtime import keep_freed_memory

    kept = keep_freed_memory()
    t0 = time.perf_counter()
    status = native.status()
    print(
        f"malloc keeps freed memory: {kept}; C++ loops loaded: {status['loaded']} ({time.perf_counter() - t0:.1f} s)"
    )
    torch.manual_seed(0)
    x, grad = torch.randn(B, T, F), torch.randn(B, T, H)
    fused = nn.LSTM(F, H, batch_first=True)
    runs: dict[str, object] = {"fused torch.nn.LSTM": lambda: fused(x)[0]}
    for kind in ("lnlstm", "lngru"):
        ref = Recurrent(kind, F, H, fast_path="off")
        fast = Recurrent(kind, F, H)
        fast.load_state_dict(ref.state_dict())
        runs[f"{kind}: equations step by step"] = lambda m=ref: m(x)[0]
        runs[f"{kind}: sequence loop, torch ops"] = lambda m=fast: _with_torch_loops(m, x, native)
        runs[f"{kind}: sequence loop, C++ (default)"] = lambda m=fast: m(x)[0]
        if args.compile:
            compiled = torch.compile(ref, dynamic=False)
            t0 = time.perf_counter()
            compiled(x)[0].backward(grad)
            print(f"{kind}: torch.compile + first step {time.perf_counter() - t0:.1f} s", flush=True)
            runs[f"{kind}: equations, whole sequence compiled"] = lambda m=compiled: m(x)[0]

    def step(fn) -> float:
        t0 = time.perf_counter()
        fn().backward(grad)
        return (time.perf_counter() - t0) * 1e3

    for fn in runs.values():
        step(fn)
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.reps):
        for name, fn in runs.items():
            times[name].append(step(fn))
    base = statistics.median(times["fused torch.nn.LSTM"])
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"| {name} | {med:.1f} ms | {med / base:.2f}x |")


def _with_torch_loops(layer, x, native):
    """The sequence fast path with the C++ build hidden, so the torch-ops loops run."""
    load = native.load
    native.load = lambda: None
    try:
        return layer(x)[0]
    finally:
        native.load = load


if __name__ == "__main__":
    main()
