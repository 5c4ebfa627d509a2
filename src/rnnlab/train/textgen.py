"""Using a trained character model from its run directory: generate text, evaluate on a text file."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from rnnlab.data.text import Vocab, read_text
from rnnlab.errors import ConfigError, RunDirError
from rnnlab.models.language import CharLM
from rnnlab.train.rundir import RunFiles, open_run


def open_lm(run: str | Path) -> tuple[RunFiles, Vocab]:
    """The run (its model a trained CharLM) and its vocabulary, or a RunDirError when it is not a character model."""
    files = open_run(run)
    if not isinstance(files.model, CharLM) or "vocab" not in files.data:
        raise RunDirError(
            f"run directory {run} holds a {type(files.model).__name__}, not a character language model; "
            "train one with `rnnlab train shakespeare` or `rnnlab train charlm --text FILE`"
        )
    return files, Vocab.from_dict(files.data["vocab"])


def generate_text(
    run: str | Path,
    prime: str = "\n",
    length: int = 500,
    temperature: float = 0.8,
    top_k: int | None = None,
    top_p: float | None = None,
    greedy: bool = False,
    seed: int = 0,
) -> str:
    """`prime` followed by `length` generated characters. Prime characters outside the vocabulary map to the
    vocabulary's fallback (logged); an empty prime starts from a newline (or the fallback)."""
    files, vocab = open_lm(run)
    if not prime:
        prime = "\n" if "\n" in vocab.chars else vocab.fallback
    ids = torch.as_tensor(vocab.encode(prime))  # unknown characters -> fallback, with one warning
    g = torch.Generator().manual_seed(seed)
    # generate() rejects length < 1 and impossible sampling settings with one-line errors
    out = files.model.generate(ids, length, temperature, top_k, top_p, greedy, generator=g)
    return prime + vocab.decode(out[0])


def evaluate_text(run: str | Path, path: str | Path | None = None) -> dict:
    """Loss (nats/char), bits/char and perplexity on `path` (a UTF-8 text file) or the run's validation text."""
    from rnnlab.config import recipe_from_dict
    from rnnlab.train.build_lm import load_corpus
    from rnnlab.train.lm import evaluate_stream

    files, vocab = open_lm(run)
    if path is not None:
        text = read_text(path)
        ids, name = vocab.encode(text), str(path)
    else:
        corpus = load_corpus(recipe_from_dict(files.recipe))
        if corpus.vocab != vocab:
            raise RunDirError(
                f"the data of run {run} changed since training (vocabulary differs); pass --data FILE"
            )
        ids, name = corpus.val, f"{corpus.name} validation"
    if len(ids) < 2:
        raise ConfigError(f"{name} needs at least 2 characters to score")
    batch = max(1, min(16, (len(ids) - 1) // 256))
    loss = evaluate_stream(files.model, torch.as_tensor(ids), batch=batch, bptt=min(256, len(ids) - 1))
    return {
        "loss_nats": loss,
        "bits_per_char": loss / math.log(2),
        "perplexity": math.exp(loss),
        "chars": int(len(ids)),
        "text": name,
    }
