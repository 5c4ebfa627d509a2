"""Character text: reading a UTF-8 file safely, the character vocabulary, and the contiguous 90/10 split.

Unknown characters (at generation or evaluation time) map to the vocabulary's fallback character, never a
crash: a space when the vocabulary has one, else a newline, else the most frequent training character.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnlab.errors import DataError

log = logging.getLogger(__name__)

MIN_CHARS = 1000  # below this a 90/10 split leaves nothing to learn or to validate on


@dataclass(frozen=True)
class Vocab:
    """The characters a model knows, in id order, and the fallback for characters it does not."""

    chars: tuple[str, ...]
    fallback: str

    @classmethod
    def from_text(cls, text: str) -> Vocab:
        """Every distinct character of `text`, sorted; fallback space > newline > most frequent."""
        if not text:
            raise DataError("cannot build a vocabulary from empty text; give a non-empty UTF-8 text file")
        counts = Counter(text)
        chars = tuple(sorted(counts))
        fallback = " " if " " in counts else "\n" if "\n" in counts else counts.most_common(1)[0][0]
        return cls(chars, fallback)

    @classmethod
    def from_dict(cls, d: dict) -> Vocab:
        chars = tuple(d["chars"])
        if not chars or len(set(chars)) != len(chars) or d["fallback"] not in chars:
            raise DataError("vocabulary is corrupt (empty, duplicated or fallback missing); retrain the run")
        return cls(chars, d["fallback"])

    def to_dict(self) -> dict:
        return {"chars": list(self.chars), "fallback": self.fallback}

    def __len__(self) -> int:
        return len(self.chars)

    @property
    def index(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.chars)}

    def unknown(self, text: str) -> list[str]:
        """The distinct characters of `text` that are not in the vocabulary."""
        known = set(self.chars)
        return sorted({c for c in text if c not in known})

    def encode(self, text: str) -> np.ndarray:
        """Character ids (int64); unknown characters become the fallback's id, with one warning."""
        index = self.index
        missing = self.unknown(text)
        if missing:
            log.warning(
                "%d character(s) not in the vocabulary (%s) replaced by %r",
                len(missing),
                "".join(missing[:20]),
                self.fallback,
            )
        fb = index[self.fallback]
        return np.fromiter((index.get(c, fb) for c in text), dtype=np.int64, count=len(text))

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in ids)


def read_text(path: str | Path) -> str:
    """A UTF-8 text file as a string, or a one-line DataError: missing, empty, binary or not UTF-8."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"text file {p} does not exist; pass --text PATH to a UTF-8 text file")
    raw = p.read_bytes()
    if not raw.strip():
        raise DataError(f"text file {p} is empty; a character model needs at least {MIN_CHARS} characters")
    if b"\x00" in raw[:65536]:
        raise DataError(f"{p} looks binary (it contains NUL bytes); give a plain UTF-8 text file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(
            f"{p} is not UTF-8 (bad byte at offset {e.start}); re-save it as UTF-8 "
            "(e.g. `iconv -f latin1 -t utf-8`)"
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


@dataclass
class TextCorpus:
    """A character corpus split into contiguous train and validation id streams."""

    name: str
    vocab: Vocab
    train: np.ndarray
    val: np.ndarray

    def describe(self) -> dict:
        """What the run directory records about the data (data.json)."""
        return {
            "name": self.name,
            "task": "charlm",
            "vocab": self.vocab.to_dict(),
            "train_chars": int(len(self.train)),
            "val_chars": int(len(self.val)),
        }


def make_corpus(text: str, name: str, val_fraction: float = 0.1) -> TextCorpus:
    """Vocabulary from the whole text, then the first (1 - val_fraction) for training and the rest for validation."""
    if len(text) < MIN_CHARS:
        raise DataError(
            f"text {name!r} has {len(text)} characters; a character model needs at least {MIN_CHARS}"
        )
    vocab = Vocab.from_text(text)
    ids = vocab.encode(text)
    cut = split_point(len(ids), val_fraction)
    return TextCorpus(name, vocab, ids[:cut], ids[cut:])


def split_point(length: int, val_fraction: float) -> int:
    """Where a contiguous text splits: the first (1 - val_fraction) trains, the rest validates."""
    if not 0.0 < val_fraction < 0.5:
        raise DataError(f"data.val_fraction must be in (0, 0.5) for text, got {val_fraction}")
    return int(round(length * (1.0 - val_fraction)))


def make_split_corpus(train: str, val: str, name: str) -> TextCorpus:
    """A corpus whose validation text is given rather than cut off the end; vocabulary from both texts."""
    for part, text in (("training", train), ("validation", val)):
        if len(text) < MIN_CHARS // 10:
            raise DataError(
                f"text {name!r}: its {part} text has {len(text)} characters; it needs at least {MIN_CHARS // 10}"
            )
    vocab = Vocab.from_text(train + val)
    return TextCorpus(name, vocab, vocab.encode(train), vocab.encode(val))
