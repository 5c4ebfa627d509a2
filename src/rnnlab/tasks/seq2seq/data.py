"""Recipe -> datamodule and encoder-decoder (task 'seq2seq'): image captions or Folio -> modern text."""

from __future__ import annotations

import random

from lightning import LightningDataModule
from torch import nn

from rnnlab.config import ModelConfig, Recipe
from rnnlab.data.caption_batches import CaptionDataModule
from rnnlab.data.folio import load_folio_pairs
from rnnlab.data.pairs import PairDataModule
from rnnlab.errors import ConfigError
from rnnlab.models.captioner import Captioner
from rnnlab.models.seq2seq import Seq2Seq

SEQ2SEQ_DATA = ("captions", "folio")


def make_pair_datamodule(recipe: Recipe) -> LightningDataModule:
    """Load the recipe's pairs: caption strips (CaptionDataModule) or text pairs (PairDataModule)."""
    cfg, seed = recipe.data, recipe.train.seed
    if cfg.name == "captions":
        n = {"n_train": cfg.n_train} if cfg.n_train else {}
        return CaptionDataModule.from_mnist(batch_size=cfg.batch_size, seed=seed, **n)
    if cfg.name == "folio":
        train = load_folio_pairs("train")
        if cfg.n_train and cfg.n_train < len(train):  # a fixed sample across every training play

            train = random.Random(0).sample(train, cfg.n_train)
        val, test = load_folio_pairs("val"), load_folio_pairs("test")
        return PairDataModule(train, val, test, cfg.batch_size, seed, name="folio")
    raise ConfigError(f"unknown seq2seq data {cfg.name!r}; choose one of {', '.join(SEQ2SEQ_DATA)}")


def make_seq2seq(cfg: ModelConfig, dm: LightningDataModule) -> nn.Module:
    """The recipe's Captioner (images) or Seq2Seq (token ids), sized to the data's vocabulary."""
    common = dict(
        cell=cfg.cell,
        hidden=cfg.hidden,
        layers=cfg.layers,
        bidirectional=cfg.bidirectional,
        embed=cfg.embed,
        attention=cfg.attention,
        dropout=cfg.dropout,
        fast_path=cfg.fast_path,
    )
    if cfg.kind == "Captioner":
        return Captioner(dm.vocab_size, channels=cfg.channels, feature=cfg.feature, **common)

    return Seq2Seq(dm.vocab_size, src_vocab=dm.vocab_size, **common)


def decode_limit(dm: LightningDataModule) -> int:
    """Longest output worth decoding: the longest training target plus a margin (EOS included)."""
    if hasattr(dm, "max_caption_len"):
        return int(dm.max_caption_len) + 2
    longest = max(len(t) for t_set in dm.sets.values() for _, t in t_set)
    return int(longest * 1.2) + 5
