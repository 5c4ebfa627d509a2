"""Recipe -> text datamodule and character language model (task 'charlm'); sizes come from the corpus."""

from __future__ import annotations

from pathlib import Path

from rnnlab.config import ModelConfig, Recipe
from rnnlab.data.shakespeare import load_shakespeare, plus_split, read_plays
from rnnlab.data.text import TextCorpus, make_corpus, make_split_corpus, read_text
from rnnlab.data.textstream import TextDataModule
from rnnlab.models.language import CharLM
from rnnlab.tasks.regularisers import regularisers


def load_corpus(recipe: Recipe) -> TextCorpus:
    """The recipe's text (built-in Shakespeare or the user's file), split 90/10 (data.val_fraction);
    `shakespeare-plus` keeps `shakespeare`'s validation text and trains on more plays."""
    cfg = recipe.data
    if cfg.name == "shakespeare-plus":
        return make_split_corpus(*plus_split(read_plays(), cfg.val_fraction), cfg.name)
    if cfg.name == "text":
        text, name = read_text(cfg.path), Path(cfg.path).stem
    else:
        text, name = load_shakespeare(full=cfg.name == "shakespeare-full"), cfg.name
    return make_corpus(text, name, cfg.val_fraction)


def make_text_datamodule(recipe: Recipe) -> TextDataModule:
    """Load and split the text, and batch it for truncated BPTT."""
    cfg = recipe.data
    return TextDataModule(load_corpus(recipe), cfg.batch_size, cfg.bptt, cfg.carry, seed=recipe.train.seed)


def make_lm(cfg: ModelConfig, dm: TextDataModule) -> CharLM:
    """The recipe's CharLM sized to the corpus vocabulary."""
    return CharLM(
        dm.n_tokens,
        cell=cfg.cell,
        hidden=cfg.hidden,
        layers=cfg.layers,
        embed=cfg.embed,
        dropout=cfg.dropout,
        tie=cfg.tie,
        fast_path=cfg.fast_path,
        **regularisers(cfg),
        embed_dropout=cfg.embed_dropout,
    )
