"""Text classification data: documents -> token ids (word or character level, vocabulary built on the
training documents only) -> the same padded, length-aware batches every sequence classifier uses.

A document is stored as a (T, 1) float32 column of token ids (exact below 2**24) so SequenceDataModule's
batching, lengths and per-batch trimming serve text unchanged; the model's embedding reads the ids back.
"""

from __future__ import annotations

import numpy as np

from rnnlab.data.datamodule import SequenceDataModule
from rnnlab.data.reviews import load_reviews, split_reviews
from rnnlab.data.sequences import SequenceSet
from rnnlab.data.tokens import TextSet, TokenVocab, read_text_csv, stratified_split
from rnnlab.data.tweets import load_tweets, split_tweets
from rnnlab.errors import ConfigError

TEXT_CLASS_DATA = ("tweets", "reviews", "sentences", "textcsv")
LEVELS = ("word", "char")


def load_text_parts(
    name: str, path: str | None = None, text_col: str = "text", label_col: str | None = None
) -> tuple[TextSet, TextSet, TextSet]:
    """(train, val, test) documents: the built-in sets' fixed stratified 80/10/10 split, or the user's CSV
    split the same way (by a hash of each row id, so the split never depends on row order)."""
    if name == "tweets":
        return split_tweets(load_tweets())
    if name in ("reviews", "sentences"):
        return split_reviews(load_reviews(name))
    if name == "textcsv":
        if not path:
            raise ConfigError(
                "data.name 'textcsv' needs a file: pass --data FILE.csv (text and label columns)"
            )
        ts = read_text_csv(path, text_col, label_col or "label")
        return stratified_split(ts, (0.8, 0.1, 0.1), seed=0)
    raise ConfigError(f"unknown text data set {name!r}; choose one of {list(TEXT_CLASS_DATA)}")


def encode(ts: TextSet, vocab: TokenVocab, max_len: int | None) -> SequenceSet:
    """Documents -> SequenceSet of token ids (N, T, 1), lengths, labels."""
    ids, lengths = vocab.encode(ts.texts, max_len=max_len)
    return SequenceSet(
        x=ids[:, :, None].astype(np.float32),
        lengths=lengths,
        y=np.asarray(ts.labels, dtype=np.int64),
        classes=list(ts.classes),
        features=["token"],
        ids=list(ts.ids),
        meta={"name": ts.name},
    )


class TextClassDataModule(SequenceDataModule):
    """SequenceDataModule over token ids, carrying the training vocabulary (saved in data.json)."""

    def __init__(
        self, parts: tuple[TextSet, TextSet, TextSet], vocab: TokenVocab, max_len: int | None, **kw
    ) -> None:
        self.vocab = vocab
        self.texts = dict(zip(("train", "val", "test"), parts, strict=True))
        sets = [encode(p, vocab, max_len) for p in parts]
        super().__init__(*sets, scale=False, **kw)
        self.max_tokens = max_len

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def describe(self) -> dict:
        return {**super().describe(), "vocab": self.vocab.to_dict(), "max_tokens": self.max_tokens}


def make_text_class_datamodule(
    name: str,
    seed: int,
    *,
    path: str | None = None,
    text_col: str = "text",
    label_col: str | None = None,
    level: str = "word",
    min_freq: int = 2,
    vocab_size: int | None = None,
    max_tokens: int | None = None,
    batch_size: int = 64,
) -> TextClassDataModule:
    """Load and split the documents, build the vocabulary on the training part, encode all three parts."""
    if level not in LEVELS:
        raise ConfigError(f"data.level must be one of {LEVELS}, got {level!r}")
    if max_tokens is not None and max_tokens < 1:
        raise ConfigError(f"data.max_tokens must be >= 1 (or null for no truncation), got {max_tokens}")
    parts = load_text_parts(name, path, text_col, label_col)
    vocab = TokenVocab.build(parts[0].texts, level=level, min_freq=min_freq, max_size=vocab_size)
    return TextClassDataModule(
        parts, vocab, max_tokens, batch_size=batch_size, seed=seed, name=f"{name}-{level}"
    )
