"""Text classification data: documents -> token ids (word or character level, vocabulary built on the
training documents only) -> the same padded, length-aware batches every sequence classifier uses.

A document is stored as a (T, 1) float32 column of token ids (exact below 2**24) so SequenceDataModule's
batching, lengths and per-batch trimming serve text unchanged; the model's embedding reads the ids back.
"""

from __future__ import annotations

import numpy as np

from rnnlab.config import DataConfig
from rnnlab.data.datamodule import SequenceDataModule
from rnnlab.data.sequences import SequenceSet
from rnnlab.data.tokens import TextSet, TokenVocab, read_text_csv, stratified_split
from rnnlab.errors import ConfigError

TEXT_CLASS_DATA = ("tweets", "reviews", "sentences", "textcsv")
LEVELS = ("word", "char")


def load_text_parts(cfg: DataConfig) -> tuple[TextSet, TextSet, TextSet]:
    """(train, val, test) documents: the built-in sets' fixed stratified 80/10/10 split, or the user's CSV
    split the same way (by a hash of each row id, so the split never depends on row order)."""
    if cfg.name == "tweets":
        from rnnlab.data.tweets import load_tweets, split_tweets

        return split_tweets(load_tweets())
    if cfg.name in ("reviews", "sentences"):
        from rnnlab.data.reviews import load_reviews, split_reviews

        return split_reviews(load_reviews(cfg.name))
    if cfg.name == "textcsv":
        if not cfg.path:
            raise ConfigError(
                "data.name 'textcsv' needs a file: pass --data FILE.csv (text and label columns)"
            )
        ts = read_text_csv(cfg.path, cfg.text_col, cfg.label_col or "label")
        return stratified_split(ts, (0.8, 0.1, 0.1), seed=0)
    raise ConfigError(f"unknown text data set {cfg.name!r}; choose one of {list(TEXT_CLASS_DATA)}")


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


def make_text_class_datamodule(cfg: DataConfig, seed: int) -> TextClassDataModule:
    """Load and split the documents, build the vocabulary on the training part, encode all three parts."""
    if cfg.level not in LEVELS:
        raise ConfigError(f"data.level must be one of {LEVELS}, got {cfg.level!r}")
    if cfg.max_tokens is not None and cfg.max_tokens < 1:
        raise ConfigError(f"data.max_tokens must be >= 1 (or null for no truncation), got {cfg.max_tokens}")
    parts = load_text_parts(cfg)
    vocab = TokenVocab.build(parts[0].texts, level=cfg.level, min_freq=cfg.min_freq, max_size=cfg.vocab_size)
    return TextClassDataModule(
        parts, vocab, cfg.max_tokens, batch_size=cfg.batch_size, seed=seed, name=f"{cfg.name}-{cfg.level}"
    )
