"""The scripts in bench/ still run against the current models (their numbers are in docs/RESULTS.md; no timing
is asserted here): a tiny shape through each path the script measures."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

from rnnlab.train.precision import bf16_native

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_charlm_throughput_runs(monkeypatch, capsys):
    args = ["--hidden", "16", "--embed", "8", "--batch", "4", "--bptt", "8", "--steps", "1", "--rounds", "1"]
    if bf16_native():
        args.append("--bf16")
    monkeypatch.setattr(sys, "argv", ["charlm_throughput.py", *args])
    runpy.run_path(str(BENCH / "charlm_throughput.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "ratio ours/plain" in out and "generate 500 characters" in out
    if bf16_native():
        assert "ratio bf16-mixed/float32" in out
