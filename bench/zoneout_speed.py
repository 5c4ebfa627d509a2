"""Zoneout's training-step speed: the C++ loop (path 'sequence') against the reference loop it replaced and the
fused torch.nn kernel without zoneout (the bar), in one process, taking turns.

Usage: python bench/zoneout_speed.py [--reps 5] [--threads 2] [--rate 0.1] [--shapes har,shakespeare,gru]
Shapes: 'har' the HAR recipe's recurrent layer (batch 64 x 128 steps, 128 conv channels in, bidirectional
LSTM 128), 'shakespeare' the char LM's (batch 64 x 128, embedding 64 in, LSTM 512), 'gru' the HAR shape with a
GRU. One timed unit is forward + backward of the layer with a fixed upstream gradient. Prints a markdown table:
milliseconds per step (median of --reps) and each row's time over the fused kernel's.
"""

from __future__ import annotations

import argparse
import statistics

import torch

from rnnlab.benchmark.timing import interleaved
from rnnlab.nn import Recurrent

SHAPES = {  # batch, time, input features, hidden, bidirectional, cell
    "har": (64, 128, 128, 128, True, "lstm"),
    "shakespeare": (64, 128, 64, 512, False, "lstm"),
    "gru": (64, 128, 128, 128, True, "gru"),
}
TORCH = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}


def _step(layer: torch.nn.Module, x: torch.Tensor, grad: torch.Tensor, bf16: bool = False):
    """One forward + backward of `layer` on x, upstream gradient `grad`."""

    def run() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = layer(x)[0]
        out.float().backward(grad)

    return run


def measure(name: str, rate: float, reps: int, bf16: bool) -> list[tuple[str, str, float]]:
    """(row, path, ms) for one shape: the fused kernel, the zoneout C++ loop and the zoneout reference loop."""
    b, t, f, h, bi, cell = SHAPES[name]
    torch.manual_seed(0)
    x = torch.randn(b, t, f)
    grad = torch.randn(b, t, h * (2 if bi else 1))
    fused = TORCH[cell](f, h, batch_first=True, bidirectional=bi)
    loop = Recurrent(cell, f, h, bidirectional=bi, zoneout=rate)
    ref = Recurrent(cell, f, h, bidirectional=bi, zoneout=rate, fast_path="off")
    loop.load_state_dict(fused.state_dict())
    ref.load_state_dict(fused.state_dict())
    fns = {
        f"torch.nn.{TORCH[cell].__name__} (fused, no zoneout)": (_step(fused, x, grad), "fused"),
        f"zoneout {rate}, C++ loop": (_step(loop, x, grad), loop.path),
        f"zoneout {rate}, reference loop": (_step(ref, x, grad), ref.path),
    }
    if bf16:
        fns[f"torch.nn.{TORCH[cell].__name__} (fused, bf16-mixed)"] = (_step(fused, x, grad, True), "fused")
    times = interleaved({k: fn for k, (fn, _) in fns.items()}, reps)
    return [(k, path, statistics.median(times[k]) * 1e3) for k, (_, path) in fns.items()]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rate", type=float, default=0.1)
    p.add_argument("--shapes", default="har,shakespeare,gru")
    p.add_argument("--bf16", action="store_true", help="also time the fused kernel under bf16 autocast")
    a = p.parse_args()
    shapes = [s.strip() for s in a.shapes.split(",") if s.strip()]
    unknown = sorted(set(shapes) - set(SHAPES))
    if unknown:
        raise SystemExit(f"--shapes: unknown {unknown}; choose from {sorted(SHAPES)}")
    torch.set_num_threads(a.threads)
    print(f"{a.threads} threads, {a.reps} reps, median ms per forward + backward\n")
    print("| shape | layer | path | ms | / fused |")
    print("|---|---|---|---|---|")
    for name in shapes:
        rows = measure(name, a.rate, a.reps, a.bf16)
        base = rows[0][2]
        for row, path, ms in rows:
            print(f"| {name} | {row} | {path} | {ms:.0f} | {ms / base:.2f} |", flush=True)


if __name__ == "__main__":
    main()
