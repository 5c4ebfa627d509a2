"""Using a character model: generate text, score a text stream (nats/char), write samples.txt, and do both
with a finished run directory."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import torch
from torch import Tensor

from rnnlab.data.text import Vocab, read_text
from rnnlab.errors import ConfigError, RunDirError
from rnnlab.models.language import CharLM
from rnnlab.train.rundir import RunFiles, open_run, write_atomic

SAMPLE_TEMPERATURES = (0.5, 0.8, 1.0)


def open_lm(run: str | Path | RunFiles) -> tuple[RunFiles, Vocab]:
    """The run (its model a trained CharLM) and its vocabulary, or a RunDirError when it is not a character model."""
    files = run if isinstance(run, RunFiles) else open_run(run)
    if not isinstance(files.model, CharLM) or "vocab" not in files.data:
        raise RunDirError(
            f"run directory {files.path} holds a {type(files.model).__name__}, not a character language model; "
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


def evaluate_text(run: str | Path | RunFiles, path: str | Path | None = None) -> dict:
    """Loss (nats/char), bits/char and perplexity on `path` (a UTF-8 text file) or the run's validation text."""
    from rnnlab.config import recipe_from_dict
    from rnnlab.tasks.charlm.data import load_corpus  # (Lightning: `rnnlab generate` never loads it)

    files, vocab = open_lm(run)
    if path is not None:
        text = read_text(path)
        ids, name = vocab.encode(text), str(path)
    else:
        corpus = load_corpus(recipe_from_dict(files.recipe))
        if corpus.vocab != vocab:
            raise RunDirError(
                f"the data of run {files.path} changed since training (vocabulary differs); pass --data FILE"
            )
        ids, name = corpus.val, f"{corpus.name} validation"
    if len(ids) < 2:
        raise ConfigError(f"{name} needs at least 2 characters to score")
    batch = max(1, min(16, (len(ids) - 1) // 256))
    losses = stream_losses(files.model, torch.as_tensor(ids), batch=batch, bptt=min(256, len(ids) - 1))
    loss = float(losses.mean())
    return {
        "loss_nats": loss,
        "bits_per_char": loss / math.log(2),
        "perplexity": math.exp(loss),
        "chars": int(len(ids)),
        "text": name,
        **stream_report(losses, ids, vocab),
    }


@torch.no_grad()
def stream_losses(model: CharLM, ids: Tensor, batch: int = 16, bptt: int = 256) -> Tensor:
    """Mean next-token loss (nats) of each of `batch` contiguous streams of `ids` (float64, shape (batch,)),
    each scored from a cold (zero) state with its state carried across chunks."""
    from rnnlab.data.textstream import StreamChunks  # (Lightning: `rnnlab generate` never loads it)

    model.eval()
    ds = StreamChunks(ids.numpy() if isinstance(ids, Tensor) else ids, batch, bptt)
    state, sums = None, torch.zeros(ds.x.shape[0], dtype=torch.float64)
    for i in range(len(ds)):
        b = ds[i]
        out = model(b["x"], state)
        state = out.state
        nll = torch.nn.functional.cross_entropy(out.logits.float().transpose(1, 2), b["y"], reduction="none")
        sums += nll.sum(1, dtype=torch.float64)
    return sums / ds.x.shape[1]


# A stream this far (nats/char) above the median stream is a model stuck after a cold start, not a hard passage.
STUCK_MARGIN = 1.0


def stream_report(losses: Tensor, ids, vocab: Vocab) -> dict:
    """The per-stream spread of a score: median and worst stream, where the worst one starts, and whether it
    is `stuck` (worse than the median by STUCK_MARGIN nats/char): one cold start the model never recovers
    from, which a single whole-text mean hides."""
    i = int(losses.argmax())
    n = (len(ids) - 1) // len(losses)
    start = [int(t) for t in ids[i * n : i * n + 24]]
    median = float(losses.median())
    return {
        "streams": len(losses),
        "median_stream_loss": median,
        "worst_stream_loss": float(losses[i]),
        "worst_stream": i,
        "worst_stream_start": vocab.decode(start),
        "stuck": len(losses) >= 3 and float(losses[i]) - median > STUCK_MARGIN,
    }


def stuck_warning(report: dict) -> str | None:
    """One line when a stream is stuck (stream_report), naming it (and the scored text's name when the report
    has one) and what it means for generation."""
    if not report.get("stuck"):
        return None
    return (
        f"warning: {report.get('text', 'validation')} stream {report['worst_stream'] + 1} of {report['streams']} "
        "(starting "
        f"{report['worst_stream_start'][:16]!r}) scores {report['worst_stream_loss']:.2f} nats/char against a "
        f"median of {report['median_stream_loss']:.2f}: from a cold start there the model falls into a state it "
        "does not leave, and text generated from such a prime will be garbage"
    )


def write_samples(run: Path, model: CharLM, vocab, prime: str, length: int = 500, seed: int = 0) -> dict:
    """samples.txt: `length` characters after `prime` at each of SAMPLE_TEMPERATURES (same seed each)."""
    prime_ids = torch.as_tensor(vocab.encode(prime))
    parts, samples = [], {}
    for t in SAMPLE_TEMPERATURES:
        g = torch.Generator().manual_seed(seed)
        text = prime + vocab.decode(model.generate(prime_ids, length, temperature=t, generator=g)[0])
        samples[str(t)] = text
        parts.append(f"=== temperature {t} (seed {seed}) ===\n{text}\n")
    write_atomic(run / "samples.txt", "\n".join(parts))
    return samples


def time_to(metrics_csv: Path, threshold: float) -> float | None:
    """Seconds of training until val_loss first reached `threshold` (from metrics.csv), or None."""
    with metrics_csv.open() as f:
        for row in csv.DictReader(f):
            if row.get("val_loss") and float(row["val_loss"]) <= threshold:
                return float(row["seconds"])
    return None
