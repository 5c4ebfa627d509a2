"""The user's own data: npz and long-CSV readers, round trips, and every one-line error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rnnlab.data.userdata import read_long_csv, read_npz, read_user_data
from rnnlab.errors import DataError


def _raises(match: str, fn, *args, **kwargs) -> str:
    with pytest.raises(DataError, match=match) as e:
        fn(*args, **kwargs)
    msg = str(e.value)
    assert "\n" not in msg
    return msg


# --- npz ----------


def test_npz_equal_length_int_labels(tmp_path):
    x = np.random.default_rng(0).normal(size=(5, 7, 3)).astype(np.float32)
    p = tmp_path / "d.npz"
    np.savez(p, X=x, y=np.array([2, 10, 2, 1, 10]))
    s = read_npz(p)
    np.testing.assert_allclose(s.x, x)
    assert (s.lengths == 7).all() and s.classes == ["1", "2", "10"]  # integer labels sort numerically
    assert (
        s.y.tolist() == [1, 2, 1, 0, 2]
        and s.ids == ["0", "1", "2", "3", "4"]
        and s.features == ["f0", "f1", "f2"]
    )


def test_npz_padded_ragged_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    seqs = [rng.normal(size=(t, 2)) for t in (4, 9, 1)]
    x = np.zeros((3, 9, 2))
    for i, s in enumerate(seqs):
        x[i, : len(s)] = s
    x[0, 6, 1] = np.nan  # padding is ignored and zeroed
    p = tmp_path / "d.npz"
    np.savez(
        p, X=x, lengths=np.array([4, 9, 1]), y=np.array(["run", "walk", "run"]), ids=np.array(["a", "b", "c"])
    )
    s = read_npz(p)
    assert s.lengths.tolist() == [4, 9, 1] and s.classes == ["run", "walk"] and s.y.tolist() == [0, 1, 0]
    assert s.ids == ["a", "b", "c"] and np.isfinite(s.x).all() and (s.x[0, 4:] == 0).all()
    for i, seq in enumerate(seqs):
        np.testing.assert_allclose(s.x[i, : len(seq)], seq, rtol=1e-6)


def test_npz_list_ragged_round_trip(tmp_path):
    rng = np.random.default_rng(2)
    seqs = [rng.normal(size=(t, 3)) for t in (5, 2, 8)]
    p = tmp_path / "d.npz"
    np.savez(p, *seqs, y=np.array(["b", "a", "b"]), features=np.array(["u", "v", "w"]))
    s = read_npz(p)
    assert s.lengths.tolist() == [5, 2, 8] and s.x.shape == (3, 8, 3) and s.features == ["u", "v", "w"]
    assert s.classes == ["a", "b"] and s.y.tolist() == [1, 0, 1]
    np.testing.assert_allclose(s.x[1, :2], seqs[1], rtol=1e-6)


def test_npz_given_classes_and_unseen_labels(tmp_path):
    p = tmp_path / "d.npz"
    np.savez(p, X=np.zeros((3, 2, 1)), y=np.array(["a", "x", "b"]))
    msg = _raises(
        r"labels \['x'\] in d.npz were not seen in training \(known: \['a', 'b'\]\)", read_npz, p, ["a", "b"]
    )
    assert "retrain" in msg
    s = read_npz(p, classes=["b", "x", "a"])
    assert s.y.tolist() == [2, 1, 0] and s.classes == ["b", "x", "a"]


def test_npz_labels_optional_for_predict(tmp_path):
    p = tmp_path / "d.npz"
    np.savez(p, X=np.ones((2, 3, 1)))
    _raises("has no labels", read_npz, p)
    s = read_npz(p, classes=["a", "b"], require_labels=False)
    assert s.y is None and s.classes == ["a", "b"]


def test_npz_errors(tmp_path):
    _raises("not found", read_npz, tmp_path / "missing.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 garbage")
    _raises("not a readable .npz", read_npz, bad)
    trunc = tmp_path / "trunc.npz"
    np.savez(trunc, X=np.ones((50, 50, 3)), y=np.zeros(50))
    trunc.write_bytes(trunc.read_bytes()[:300])
    _raises("readable|unreadable", read_npz, trunc)

    p = tmp_path / "obj.npz"
    np.savez(p, X=np.array([np.ones((2, 1)), np.ones((3, 1))], dtype=object), y=np.array([0, 1]))
    _raises("pickled object array, which rnnlab refuses to load; save ragged data as X padded", read_npz, p)

    p = tmp_path / "zero.npz"
    np.savez(
        p, X=np.ones((2, 3, 1)), lengths=np.array([3, 0]), y=np.array([0, 1]), ids=np.array(["s1", "s2"])
    )
    _raises("sequence 's2' in zero.npz has length 0", read_npz, p)

    p = tmp_path / "nan.npz"
    x = np.ones((2, 3, 2))
    x[1, 2, 1] = np.inf
    np.savez(p, X=x, y=np.array([0, 1]), features=np.array(["acc", "gyro"]))
    _raises("feature 'gyro' of sequence '1' in nan.npz is NaN/inf", read_npz, p)

    p = tmp_path / "feat.npz"
    np.savez(p, np.ones((3, 2)), np.ones((4, 3)), y=np.array([0, 1]))
    _raises("inconsistent feature counts", read_npz, p)

    p = tmp_path / "str.npz"
    np.savez(p, X=np.array([[["a"]]]), y=np.array([0]))
    _raises("non-numeric", read_npz, p)

    p = tmp_path / "nox.npz"
    np.savez(p, data=np.ones((2, 3, 1)))
    _raises(r"no 'X' array \(keys: \['data'\]\)", read_npz, p)

    p = tmp_path / "ylen.npz"
    np.savez(p, X=np.ones((2, 3, 1)), y=np.array([0, 1, 2]))
    _raises("one label per sequence", read_npz, p)

    p = tmp_path / "long.npz"
    np.savez(p, X=np.ones((2, 3, 1)), lengths=np.array([3, 4]), y=np.array([0, 1]))
    _raises("exceed X's time axis", read_npz, p)


# --- long CSV ----------


def _write(tmp_path: Path, df: pd.DataFrame, name: str = "d.csv") -> Path:
    p = tmp_path / name
    df.to_csv(p, index=False)
    return p


@pytest.fixture
def long_df() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    rows = []
    for sid, n, lab in (("u10", 4, "walk"), ("u2", 2, "sit"), ("u3", 5, "walk")):
        for t in range(n):
            rows.append({"sid": sid, "t": t, "ax": rng.normal(), "ay": rng.normal(), "act": lab})
    return pd.DataFrame(rows)


def test_long_csv_round_trip(tmp_path, long_df):
    shuffled = long_df.sample(frac=1.0, random_state=0)  # rows out of order: sorted by time within id
    p = _write(tmp_path, shuffled)
    s = read_long_csv(p, "sid", "t", "act")
    assert dict(zip(s.ids, s.lengths.tolist(), strict=True)) == {"u10": 4, "u2": 2, "u3": 5}
    assert s.classes == ["sit", "walk"] and s.features == ["ax", "ay"]
    for i, sid in enumerate(s.ids):
        ref = long_df[long_df.sid == sid].sort_values("t")
        np.testing.assert_allclose(s.x[i, : s.lengths[i]], ref[["ax", "ay"]].to_numpy(), rtol=1e-6)
        assert s.classes[s.y[i]] == ref.act.iloc[0]
        assert (s.x[i, s.lengths[i] :] == 0).all()
    assert s.ids == list(pd.unique(shuffled.sid))  # ids in order of first appearance
    s2 = read_user_data(
        p, id_col="sid", time_col="t", label_col="act", features=["ay"], classes=["walk", "sit"]
    )
    assert s2.features == ["ay"] and s2.classes == ["walk", "sit"]


def test_long_csv_predict_without_labels(tmp_path, long_df):
    p = _write(tmp_path, long_df.drop(columns="act"))
    s = read_long_csv(p, "sid", "t", "act", require_labels=False, classes=["sit", "walk"])
    assert s.y is None and s.classes == ["sit", "walk"] and s.features == ["ax", "ay"] and len(s) == 3
    _raises(
        r"label column 'act' is not in d.csv \(columns: \['sid', 't', 'ax', 'ay'\]\)",
        read_long_csv,
        p,
        "sid",
        "t",
        "act",
    )


def test_long_csv_errors(tmp_path, long_df):
    p = _write(tmp_path, long_df)
    _raises("not found", read_long_csv, tmp_path / "nope.csv", "sid", "t", "act")
    _raises(
        r"id column 'id' is not in d.csv \(columns: \['sid', 't', 'ax', 'ay', 'act'\]\)",
        read_long_csv,
        p,
        "id",
        "t",
        "act",
    )
    _raises("time column 'time' is not in", read_long_csv, p, "sid", "time", "act")
    _raises("feature column 'az' is not in", read_long_csv, p, "sid", "t", "act", features=["ax", "az"])
    _raises(
        r"labels \['walk'\] in d.csv were not seen in training \(known: \['sit'\]\)",
        read_long_csv,
        p,
        "sid",
        "t",
        "act",
        classes=["sit"],
    )

    df = long_df.copy()
    df.loc[5, "ay"] = np.nan
    _raises(
        f"feature 'ay' of sequence '{df.sid[5]}' in nan.csv is NaN/inf",
        read_long_csv,
        _write(tmp_path, df, "nan.csv"),
        "sid",
        "t",
        "act",
    )

    df = long_df.copy()
    df.loc[1, "act"] = "run"
    _raises(
        "label column 'act' changes within sequence 'u10'",
        read_long_csv,
        _write(tmp_path, df, "chg.csv"),
        "sid",
        "t",
        "act",
    )

    df = long_df.copy()
    df["ax"] = df["ax"].astype(object)
    df.loc[2, "ax"] = "oops"
    _raises(
        "feature column 'ax' in str.csv is not numeric \\(e.g. 'oops'\\)",
        read_long_csv,
        _write(tmp_path, df, "str.csv"),
        "sid",
        "t",
        "act",
    )

    df = long_df.copy()
    df.loc[1, "t"] = 0
    _raises(
        "sequence 'u10' in dup.csv repeats time 0",
        read_long_csv,
        _write(tmp_path, df, "dup.csv"),
        "sid",
        "t",
        "act",
    )

    df = long_df.copy()
    df.loc[3, "act"] = np.nan
    _raises(
        "label column 'act' is empty for sequence 'u10'",
        read_long_csv,
        _write(tmp_path, df, "nolab.csv"),
        "sid",
        "t",
        "act",
    )

    bad = tmp_path / "bin.csv"
    bad.write_bytes(b"\xff\xfe\x00\x00garbage\x00\xff")
    _raises("not a readable CSV|is not in", read_long_csv, bad, "sid", "t", "act")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    _raises("not a readable CSV", read_long_csv, empty, "sid", "t", "act")


def test_read_user_data_dispatch(tmp_path):
    p = tmp_path / "d.parquet"
    p.write_bytes(b"x")
    _raises("suffix '.parquet'; rnnlab reads .npz", read_user_data, p)
    _raises("not found", read_user_data, tmp_path / "nope.npz")
    q = tmp_path / "d.npz"
    np.savez(q, X=np.ones((2, 3, 1)), y=np.array([1, 0]))
    assert read_user_data(q).classes == ["0", "1"]
