"""Shared fixtures for data tests: an isolated cache dir (helpers for a fake pip live in datahelpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """RNNLAB_CACHE pointed at a fresh temp dir."""
    root = tmp_path / "cache"
    monkeypatch.setenv("RNNLAB_CACHE", str(root))
    return root
