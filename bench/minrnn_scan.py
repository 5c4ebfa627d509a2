"""Training throughput of minGRU / minLSTM per scan against torch.nn.GRU / LSTM at the issue's long-sequence shape.

Usage: python bench/minrnn_scan.py [--quick] [--reps N] [--scans chunked,log,sequential] [--time 1024,4096]
                                   [--json FILE]

One layer, B=16, F=64, H=256, float32 on CPU, PyTorch's default thread count. A rep is one forward and
backward per model: output.backward(G) with one fixed random (B, T, H) upstream gradient G (no loss
computation in the timing), gradients of every weight, the input needing none. Reps are interleaved across
models, so a change in machine load hits every model alike; each line is the median over reps. Ratios are
against torch.nn.GRU measured in the same process. --quick: T=1024 only, 3 reps (about 40 s on 2 idle
cores); the full run takes about 5 minutes, most of it the sequential reference at T=4096.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import torch

from rnnlab.nn.minrnn import SCANS, MinRNN

B, F, H = 16, 64, 256


def _models(scans: list[str]) -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    models: dict[str, torch.nn.Module] = {
        "torch.nn.GRU": torch.nn.GRU(F, H, batch_first=True),
        "torch.nn.LSTM": torch.nn.LSTM(F, H, batch_first=True),
    }
    for kind in ("mingru", "minlstm"):
        for scan in scans:
            models[f"{kind} {scan}"] = MinRNN(kind, F, H, scan=scan)
    return models


def _train_step(model: torch.nn.Module, x: torch.Tensor, grad: torch.Tensor) -> float:
    model.zero_grad(set_to_none=True)
    t0 = time.perf_counter()
    model(x)[0].backward(grad)
    return time.perf_counter() - t0


def measure(t: int, scans: list[str], reps: int) -> list[dict]:
    models = _models(scans)
    x, grad = torch.randn(B, t, F), torch.randn(B, t, H)
    times: dict[str, list[float]] = {name: [] for name in models}
    for m in models.values():  # warm-up: first-touch allocations, thread pool start
        _train_step(m, x, grad)
    for _ in range(reps):
        for name, m in models.items():
            times[name].append(_train_step(m, x, grad))
    gru = statistics.median(times["torch.nn.GRU"])
    rows = []
    for name, ts in times.items():
        med = statistics.median(ts)
        rows.append(
            {
                "name": name,
                "shape": {"B": B, "T": t, "F": F, "H": H, "layers": 1},
                "device": "cpu",
                "ms_per_step": med * 1e3,
                "rnnlab_per_s": B / med,
                "reference": "torch.nn.GRU",
                "reference_per_s": B / gru,
                "ratio": gru / med,
                "spread": (min(ts) * 1e3, max(ts) * 1e3),
            }
        )
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="T=1024 only, 3 reps")
    p.add_argument("--reps", type=int, default=None, help="reps per model (default 5, quick 3)")
    p.add_argument("--scans", default=",".join(SCANS), help=f"comma-separated subset of {SCANS}")
    p.add_argument("--time", default=None, help="comma-separated sequence lengths (default 1024,4096)")
    p.add_argument("--json", default=None, help="also write the rows to this JSON file")
    args = p.parse_args()
    scans = [s for s in args.scans.split(",") if s]
    if unknown := set(scans) - set(SCANS):
        p.error(f"unknown scan(s) {sorted(unknown)}; choose from {SCANS}")
    lengths = (
        [int(v) for v in args.time.split(",")] if args.time else ([1024] if args.quick else [1024, 4096])
    )
    reps = args.reps or (3 if args.quick else 5)
    load0 = os.getloadavg()[0]
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs "
        f"({platform.processor() or platform.machine()}), load average {load0:.2f} at start"
    )
    print(f"B={B} F={F} H={H}, 1 layer, forward+backward, median of {reps} interleaved reps")
    print("| model | scan | T | ms / step | sequences/s | vs torch.nn.GRU | min-max ms |")
    print("|---|---|---|---|---|---|---|")
    rows = []
    for t in lengths:
        for r in measure(t, scans, reps):
            rows.append(r)
            model, _, scan = r["name"].partition(" ")
            lo, hi = r["spread"]
            print(
                f"| {model} | {scan or '-'} | {t} | {r['ms_per_step']:.1f} | {r['rnnlab_per_s']:.1f} | "
                f"{r['ratio']:.2f}x | {lo:.0f}-{hi:.0f} |",
                flush=True,
            )
    busy = ": other work was sharing the CPUs, numbers are noisy" if load0 > 0.5 else ""
    print(
        f"load average {os.getloadavg()[0]:.2f} at end, {load0:.2f} at start "
        f"(1-minute averages, recent runs of this script included{busy})"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
