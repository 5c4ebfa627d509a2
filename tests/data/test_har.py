"""HAR: the restricted unpickler, UCI filtering and windowing on a small real fixture, the processed cache."""

from __future__ import annotations

import copyreg
import gzip
import io
import os
import pickle
import types

import numpy as np
import pytest
from datahelpers import FIXTURES

from rnnlab.data import har
from rnnlab.errors import DataError

# --- the restricted unpickler ----------


class _Evil:
    def __init__(self, cmd: str) -> None:
        self.cmd = cmd

    def __reduce__(self):
        return (os.system, (self.cmd,))


@pytest.mark.parametrize("protocol", [0, 2, 4])
def test_unpickler_refuses_os_system(tmp_path, protocol):
    marker = tmp_path / "pwned"
    data = pickle.dumps({"x": _Evil(f"touch {marker}")}, protocol=protocol)
    with pytest.raises(DataError, match=r"refusing to unpickle global (posix|os|nt)\.system") as e:
        har.restricted_loads(data)
    assert "\n" not in str(e.value)
    assert not marker.exists()


@pytest.mark.parametrize(
    "payload",
    [
        b"c__builtin__\neval\n(S'1+1'\ntR.",  # py2 name of an allowed module, forbidden name
        b"cbuiltins\nexec\n(S'import os'\ntR.",
        b"cnumpy\nload\n(S'x.npy'\ntR.",  # allowed module, forbidden name
        b"csubprocess\nPopen\n(S'ls'\ntR.",
    ],
)
def test_unpickler_refuses_other_globals(payload):
    with pytest.raises(DataError, match="refusing to unpickle global"):
        har.restricted_loads(payload)


def test_unpickler_malformed_is_data_error():
    with pytest.raises(DataError, match="unreadable"):
        har.restricted_loads(b"\x80\x02}q\x00(X")  # truncated
    with pytest.raises(DataError, match="not valid gzip"):
        har.parse_hapt(b"not gzip")


# A pandas-1.0-shaped pickle written the way the real file is (copy_reg._reconstructor, _new_Index, numpy
# _reconstruct, Python-2 module names), without pandas: stand-in classes pickled under the old global names.


class _PDFrame:
    def __reduce_ex__(self, protocol):
        return (copyreg._reconstructor, (type(self), object, None), self.__dict__)


class _PDManager(_PDFrame):
    def __init__(self, state):
        self.state = state

    def __reduce_ex__(self, protocol):
        return (copyreg._reconstructor, (type(self), object, None), self.state)


class _PDIndex:
    pass


class _PDRangeIndex:
    pass


def _pd_new_index(cls, d):  # never called here; pickled by name only
    raise AssertionError


class _PDIndexValue:
    def __init__(self, cls, d):
        self.cls, self.d = cls, d

    def __reduce_ex__(self, protocol):
        return (_pd_new_index, (self.cls, self.d), None)


_OLD_NAMES = {
    _PDFrame: ("pandas.core.frame", "DataFrame"),
    _PDManager: ("pandas.core.internals.managers", "BlockManager"),
    _PDIndex: ("pandas.core.indexes.base", "Index"),
    _PDRangeIndex: ("pandas.core.indexes.range", "RangeIndex"),
    _pd_new_index: ("pandas.core.indexes.base", "_new_Index"),
    copyreg._reconstructor: ("copy_reg", "_reconstructor"),
    object: ("__builtin__", "object"),
    slice: ("__builtin__", "slice"),
}


class _OldPickler(pickle._Pickler):
    """The pure-Python pickler, writing the globals above under their pandas-1.0 / Python-2 names."""

    dispatch = dict(pickle._Pickler.dispatch)

    def save_global(self, obj, name=None):
        if obj in _OLD_NAMES or getattr(obj, "__name__", "") == "_reconstruct":
            module, qual = _OLD_NAMES.get(obj, ("numpy.core.multiarray", "_reconstruct"))
            self.write(pickle.GLOBAL + f"{module}\n{qual}\n".encode())
            self.memoize(obj)
            return
        super().save_global(obj, name)

    dispatch[types.FunctionType] = save_global


def _old_frame(cols: dict[str, np.ndarray]) -> _PDFrame:
    names = list(cols)
    n = len(next(iter(cols.values())))
    floats = np.stack([cols[c] for c in names[:6]]).astype(np.float64)
    ints = np.stack([cols[c] for c in names[6:]]).astype(np.int64)
    columns = _PDIndexValue(_PDIndex, {"data": np.array(names, dtype=object), "name": None})
    rows = _PDIndexValue(_PDRangeIndex, {"name": None, "start": 0, "stop": n, "step": 1})
    block_state = {
        "axes": [columns, rows],
        "blocks": [
            {"values": floats, "mgr_locs": slice(0, 6, 1)},
            {"values": ints, "mgr_locs": np.array([6, 7])},
        ],
    }
    frame = _PDFrame()
    frame.__dict__ = {"_data": _PDManager(([], [], [], {"0.14.1": block_state})), "_typ": "dataframe"}
    return frame


def test_parse_hapt_reads_pandas10_layout():
    rng = np.random.default_rng(0)
    names = ["acc-x", "acc-y", "acc-z", "gyro-x", "gyro-y", "gyro-z", "sequence", "label"]
    tables = {}
    for subject in (3, 1):
        n = 50 + subject
        cols = {c: rng.normal(size=n) for c in names[:6]}
        cols["sequence"] = np.arange(n)
        cols["label"] = rng.integers(-1, 13, size=n)
        tables[subject] = [cols]
    buf = io.BytesIO()
    _OldPickler(buf, protocol=2).dump({s: [_old_frame(c) for c in t] for s, t in tables.items()})
    raw = buf.getvalue()
    assert b"numpy._core" not in raw and b"test_har" not in raw
    for glob in (
        b"copy_reg\n_reconstructor",
        b"pandas.core.indexes.base\n_new_Index",
        b"numpy.core.multiarray\n_reconstruct",
    ):
        assert glob in raw
    recs = har.parse_hapt(gzip.compress(raw))
    assert [r.subject for r in recs] == [1, 3]
    for r in recs:
        src = tables[r.subject][0]
        np.testing.assert_array_equal(r.acc, np.stack([src[f"acc-{a}"] for a in "xyz"], axis=1))
        np.testing.assert_array_equal(r.gyro[:, 2], src["gyro-z"])
        np.testing.assert_array_equal(r.label, src["label"])


# --- signal processing and windows on the real fixture ----------


@pytest.fixture(scope="module")
def recordings() -> list[har.Recording]:
    z = np.load(FIXTURES / "hapt_small.npz")
    return [
        har.Recording(
            int(z[f"subject_{k}"]), k, z[f"acc_{k}"], z[f"gyro_{k}"], z[f"label_{k}"].astype(np.int64)
        )
        for k in range(2)
    ]


def test_fixture_is_small_and_mixed(recordings):
    assert (FIXTURES / "hapt_small.npz").stat().st_size < 1_000_000
    labels = np.concatenate([r.label for r in recordings])
    assert set(range(1, 7)) <= set(labels) and (labels > 6).any() and (labels == -1).any()


def test_uci_signals_gravity_split(recordings):
    r = recordings[0]
    sig = har.uci_signals(r.acc, r.gyro)
    assert sig.shape == (len(r.acc), 9)
    body, gyro, total = sig[:, :3], sig[:, 3:6], sig[:, 6:]
    gravity = total - body
    assert 0.9 < np.linalg.norm(gravity, axis=1).mean() < 1.1  # about 1 g
    assert np.abs(body.mean(axis=0)).max() < 0.02
    freqs = np.fft.rfftfreq(len(gravity), d=1 / har.FS)
    g = np.abs(np.fft.rfft(gravity - gravity.mean(axis=0), axis=0)) ** 2
    b = np.abs(np.fft.rfft(body, axis=0)) ** 2
    assert g[freqs > 1.0].sum() / g.sum() < 0.01  # gravity is low-frequency
    assert b[freqs > 1.0].sum() / b.sum() > 0.2
    spec = np.abs(np.fft.rfft(gyro - gyro.mean(axis=0), axis=0)) ** 2
    assert spec[freqs > 22].sum() / spec.sum() < 1e-3  # 20 Hz low-pass


def test_window_starts_stay_inside_runs():
    label = np.r_[np.full(300, 5), np.full(50, 7), np.full(128, 1), np.full(10, -1), np.full(127, 2)]
    starts, labs = har.window_starts(label)
    np.testing.assert_array_equal(starts, [0, 64, 128, 350])
    np.testing.assert_array_equal(labs, [5, 5, 5, 1])
    s, lab = har.window_starts(np.full(100, 3))
    assert len(s) == 0 and len(lab) == 0


def test_recording_windows(recordings):
    for r in recordings:
        x, y = har.recording_windows(r.acc, r.gyro, r.label)
        starts, _ = har.window_starts(r.label)
        assert x.shape == (len(starts), 128, 9) and x.dtype == np.float32 and len(y) == len(x) > 0
        assert y.min() >= 0 and y.max() <= 5
        assert (np.diff(starts) >= 64).all()
        sig = har.uci_signals(r.acc, r.gyro)
        for s, cls, win in zip(starts, y, x, strict=True):
            run = r.label[s : s + 128]
            assert (run == run[0]).all() and run[0] == cls + 1  # no window crosses a label change
            np.testing.assert_allclose(win, sig[s : s + 128], rtol=1e-6, atol=1e-6)


def test_split_sets(recordings):
    train, test = har.split_sets(har.build_windows(recordings))
    assert set(train.groups) == {1} and set(test.groups) == {2}  # subject 2 is a UCI test subject
    for s in (train, test):
        assert s.x.shape[1:] == (128, 9) and (s.lengths == 128).all()
        assert s.classes == har.CLASSES and s.features[0] == "body_acc_x" and s.features[-1] == "total_acc_z"
        assert len(set(s.ids)) == len(s) and "Reyes-Ortiz" in s.meta["citation"]
    assert set(train.y) == {3, 4, 5} and set(test.y) == {0, 1, 2}


def test_load_har_caches_processed_arrays(cache, monkeypatch, recordings):
    calls = []
    monkeypatch.setattr(har, "read_member", lambda name, member: calls.append((name, member)) or b"")
    monkeypatch.setattr(har, "parse_hapt", lambda data: recordings)
    train, test = har.load_har()
    assert calls == [("har", har.MEMBER)] and har.processed_path().is_file()
    assert har.processed_path().parent == cache / "processed"

    def boom(*a):
        raise AssertionError("rebuilt despite the cache")

    monkeypatch.setattr(har, "parse_hapt", boom)
    train2, test2 = har.load_har()
    np.testing.assert_array_equal(train.x, train2.x)
    assert train.ids == train2.ids and len(test2) == len(test)


def test_load_har_rebuilds_a_broken_cache(cache, monkeypatch, recordings):
    monkeypatch.setattr(har, "read_member", lambda name, member: b"")
    monkeypatch.setattr(har, "parse_hapt", lambda data: recordings)
    path = har.processed_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"garbage")
    train, _ = har.load_har()
    assert len(train) > 0 and np.load(path)["x"].shape[1:] == (128, 9)


@pytest.mark.slow
def test_real_load_har_counts():
    train, test = har.load_har()
    assert abs(len(train) / 7352 - 1) < 0.05 and abs(len(test) / 2947 - 1) < 0.05
    assert train.x.shape[1:] == (128, 9) and set(np.unique(test.groups)) == set(har.TEST_SUBJECTS)
    assert sorted(np.unique(train.y)) == list(range(6))
