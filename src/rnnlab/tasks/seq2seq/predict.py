"""Single examples through a trained seq2seq run: `rnnlab translate RUN "text"`, `rnnlab caption RUN img.png`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from rnnlab.data.captions import decode
from rnnlab.data.images import read_image, to_strip
from rnnlab.data.pairs import CharVocab
from rnnlab.errors import ConfigError, DataError
from rnnlab.train.rundir import RunFiles, open_run


def _open(run: str | Path | RunFiles, kind: str) -> RunFiles:
    files = run if isinstance(run, RunFiles) else open_run(run)
    have = type(files.model).__name__
    if have != kind:
        cmd = "caption" if have == "Captioner" else "translate" if have == "Seq2Seq" else "predict"
        raise ConfigError(f"{files.path} holds a {have}, not a {kind}; use `rnnlab {cmd}` with it")
    return files


def _decode(model, src: torch.Tensor, lengths: torch.Tensor, beam: int, max_len: int):
    if beam < 1:
        raise ConfigError(f"--beam must be >= 1, got {beam}")
    with torch.no_grad():
        if beam == 1:
            return model.greedy(src, lengths, max_len=max_len)
        return model.beam_search(src, lengths, beam=beam, max_len=max_len)


def translate(run: str | Path | RunFiles, text: str, beam: int = 5) -> dict:
    """The run's output for one source line, its score, and its attention (output x source; None without
    attention) for `rnnlab translate --plot`."""
    files = _open(run, "Seq2Seq")
    text = text.strip("\n")
    if not text:
        raise DataError("the text to translate is empty; pass a line of text in quotes")
    vocab = CharVocab.from_dict(files.data["vocab"])
    ids = vocab.encode(text, bos=False, eos=True)
    d = _decode(files.model, torch.tensor([ids]), torch.tensor([len(ids)]), beam, int(len(text) * 1.5) + 10)
    output = vocab.decode(d.tokens[0])
    return {"output": output, "score": d.scores[0], "ended": d.ended[0], "source": text, "attention": d.attention[0]}


def caption(run: str | Path | RunFiles, image: str | Path | np.ndarray, beam: int = 5) -> dict:
    """The run's caption for one image file or (H, W) grey array in [0, 1] (any size; resized to 28 rows,
    inverted if dark-on-light), its score, the strip as read and the attention (words x columns) for
    `rnnlab caption --plot`."""
    files = _open(run, "Captioner")
    strip = to_strip(np.asarray(image, dtype=np.float64)) if isinstance(image, np.ndarray) else read_image(image)
    src = torch.as_tensor(strip, dtype=torch.float32)[None, None]
    width = torch.tensor([strip.shape[1]])
    d = _decode(files.model, src, width, beam, int(files.data.get("max_caption_len", 5)) + 2)
    words = decode(d.tokens[0] + [2])
    return {
        "output": " ".join(words),
        "score": d.scores[0],
        "ended": d.ended[0],
        "image": strip,
        "words": words,
        "attention": d.attention[0],
    }
