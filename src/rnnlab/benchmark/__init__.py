"""`rnnlab bench`: throughput and latency of every layer kind against plain torch.nn, measured in one process."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import torch

from rnnlab.benchmark.suite import NORMED, machine, measure, plan, streaming
from rnnlab.benchmark.timing import matmul_peak
from rnnlab.errors import ConfigError
from rnnlab.nn import native

STREAM_KINDS = ("lstm", "gru", "rnn", "mingru", "minlstm", "lnlstm", "lngru")
NATIVE_KINDS = ("gru", *NORMED)  # the kinds whose CPU fast path is rnnlab's C++ loop


def _line(r: dict) -> str:
    s = r["shape"]
    shape = f"{r['shape_name']} B{s['B']} T{s['T']} F{s['F']} H{s['H']} L{s['layers']}"
    if r["mode"] == "step":
        return (
            f"| {r['name']} | {shape} | p50 {r['p50_us']:.0f} us, p99 {r['p99_us']:.0f} us | "
            f"p50 {r['reference_p50_us']:.0f} us, p99 {r['reference_p99_us']:.0f} us | {r['ratio']:.2f}x | - |"
        )
    return (
        f"| {r['name']} | {shape} | {r['rnnlab_per_s']:.1f} seq/s ({r['rnnlab_steps_per_s'] / 1e3:.0f} k steps/s, "
        f"{r.get('path') or '-'}) | "
        f"{r['reference_per_s']:.1f} seq/s ({r['reference']}) | {r['ratio']:.2f}x | {r['peak_fraction']:.1%} |"
    )


def run(
    quick: bool = False,
    device: str | None = None,
    json_path: str | Path | None = None,
    only: str | None = None,
    stream_steps: int | None = None,
    echo: Callable[[str], None] = print,
) -> list[dict]:
    """Measure the plan, print a Markdown table as rows finish, write the rows (each naming the machine) as a
    JSON list."""
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda asked for, but torch sees no GPU; leave --device out to use the CPU")
    if device not in ("cpu", "cuda"):
        raise ConfigError(f"device must be cpu or cuda, got {device!r}")
    t_start = time.perf_counter()
    info = machine(device)
    peak = matmul_peak(device)
    echo(
        f"torch {info['torch']} on {device} ({info.get('gpu', info['cpu'])}), {info['threads']} threads, "
        f"load average {info['load_average']:.2f}; float32 matmul peak {peak:.1f} GFLOP/s"
    )
    echo("| row | shape | rnnlab | plain torch | ratio | of matmul peak |")
    echo("|---|---|---|---|---|---|")
    cases = plan(quick, device)
    if only:
        cases = [c for c in cases if c.name.startswith(only)]
    if device == "cpu" and any(c.kind in NATIVE_KINDS for c in cases):
        info["native"] = (
            native.status()
        )  # builds the C++ loops the first time: its cost, kept out of the rows
        how = "loaded" if info["native"]["loaded"] else f"NOT available ({info['native']['reason']})"
        echo(f"C++ loops (GRU, layer-normalised cells) {how} in {info['native']['load_seconds'] or 0:.1f} s")
    rows = []
    for case in cases:
        rows.append(measure(case, peak, device))
        echo(_line(rows[-1]))
    steps = stream_steps or (2000 if quick else 10000)
    for kind in STREAM_KINDS:
        if only and not f"{kind}-step".startswith(only):
            continue
        rows.append(streaming(kind, steps, device))
        echo(_line(rows[-1]))
    peak_end = matmul_peak(device)
    if peak_end > peak:  # the machine was busier at the start: rescale every row to the better peak
        for r in rows:
            if "peak_fraction" in r:
                r["peak_fraction"] *= peak / peak_end
        echo(f"matmul peak re-measured at the end: {peak_end:.1f} GFLOP/s; the JSON's fractions use it")
        peak = peak_end
    seconds = time.perf_counter() - t_start
    echo(f"{len(rows)} rows in {seconds:.0f} s")
    if json_path:
        where = {**info, "matmul_peak_gflops": peak, "suite_seconds": seconds}
        Path(json_path).write_text(json.dumps([{**r, "machine": where} for r in rows], indent=1))
        echo(f"wrote {json_path}")
    return rows
