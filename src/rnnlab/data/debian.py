"""Reading members out of Debian .deb packages: a small `ar` reader for the container and the data tarball
inside it (xz/gz/bz2 by Python; zstd through `dpkg-deb --fsys-tarfile` where Python cannot)."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

from rnnlab.errors import DataError

DPKG_TIMEOUT_S = 900


def read_tar_stream(
    tf: tarfile.TarFile, name: str, member: str, names: set[str], missing: DataError
) -> bytes:
    """Read forward through a stream-mode tar to the first member called one of `names`."""
    with tf:
        for info in tf:
            if info.name in names:
                f = tf.extractfile(info) if info.isfile() else None
                if f is None:
                    raise DataError(
                        f"member {member!r} of archive {name} is not a regular file; the pinned source is wrong"
                    )
                return f.read()
    raise missing


# --- Debian packages: an ar container holding debian-binary, control.tar.* and data.tar.* ----------------


class ArError(ValueError):
    """A malformed ar archive (the container of a .deb)."""


def ar_members(data: bytes) -> dict[str, bytes]:
    """The members of a common-format ar archive (what dpkg writes): {name: bytes}, in order."""
    if not data.startswith(b"!<arch>\n"):
        raise ArError("no ar magic")
    view, pos, out = memoryview(data), 8, {}
    while pos < len(data):
        head = bytes(view[pos : pos + 60])
        if len(head) < 60 or head[58:60] != b"`\n":
            raise ArError(f"bad member header at byte {pos}")
        try:
            size = int(head[48:58].decode("ascii"))
        except ValueError:
            raise ArError(f"bad member size at byte {pos}") from None
        start = pos + 60
        if size < 0 or start + size > len(data):
            raise ArError(f"member at byte {pos} runs past the end")
        out[head[:16].decode("ascii", "replace").rstrip(" ").rstrip("/")] = bytes(view[start : start + size])
        pos = start + size + (size & 1)  # members are 2-byte aligned
    return out


def deb_names(member: str) -> set[str]:
    """The spellings a data.tar may use for `member`: "./usr/x" (dpkg's own) or "usr/x"."""
    bare = member.lstrip("/")
    bare = bare[2:] if bare.startswith("./") else bare
    return {bare, f"./{bare}"}


def _tar_reads_zstd() -> bool:
    try:
        import compression.zstd  # noqa: F401  (Python >= 3.14 built with zstd: tarfile reads .zst then)
    except ImportError:
        return False
    return True


def deb_data_tar(path: Path) -> tarfile.TarFile:
    """The data tarball of the .deb at `path` as a stream-mode TarFile (xz/gz/bz2 in Python; zstd via Python
    3.14 or else `dpkg-deb --fsys-tarfile`)."""
    members = ar_members(path.read_bytes())
    if not members.get("debian-binary", b"").startswith(b"2."):
        raise ArError("no debian-binary 2.x member: not a Debian package")
    data = [n for n in members if n.startswith("data.tar")]
    if len(data) != 1:
        raise ArError(f"expected one data.tar member, found {data}")
    if data[0].endswith(".zst") and not _tar_reads_zstd():
        return tarfile.open(fileobj=io.BytesIO(_fsys_tarfile(path)), mode="r|")
    return tarfile.open(fileobj=io.BytesIO(members[data[0]]), mode="r|*")


def _run_dpkg_deb(args: list[str]) -> subprocess.CompletedProcess:
    """Run `dpkg-deb ARGS` capturing binary output (a seam the tests replace)."""
    return subprocess.run(["dpkg-deb", *args], capture_output=True, timeout=DPKG_TIMEOUT_S, check=False)


def _fsys_tarfile(path: Path) -> bytes:
    """The uncompressed data tarball of a .deb, from `dpkg-deb --fsys-tarfile` (for zstd, which Python < 3.14
    cannot decompress)."""
    why = f"{path.name} holds a zstd data.tar.zst, which this Python cannot decompress"
    try:
        proc = _run_dpkg_deb(["--fsys-tarfile", str(path)])
    except FileNotFoundError:
        raise DataError(f"{why}, and dpkg-deb is not installed; install dpkg or use Python >= 3.14") from None
    except (OSError, subprocess.SubprocessError) as e:
        raise DataError(f"{why}, and dpkg-deb failed ({type(e).__name__}: {e})"[:300]) from e
    if proc.returncode != 0:
        err = (proc.stderr or b"").decode("utf-8", "replace").strip().splitlines() or ["no output"]
        raise DataError(f"dpkg-deb could not read {path.name} ({err[-1][:200]}); delete it and fetch again")
    return proc.stdout
