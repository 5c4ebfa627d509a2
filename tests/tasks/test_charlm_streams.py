"""The char LM's whole-text score per stream: the mean is the old whole-text loss, and one stream that a model
never recovers on after its cold start is named instead of hidden in the mean."""

from __future__ import annotations

import torch

from rnnlab.data.text import Vocab
from rnnlab.models.language import CharLM
from rnnlab.tasks import get
from rnnlab.tasks.charlm.generate import stream_losses, stream_report, stuck_warning

TEXT = "to be or not to be, that is the question: whether 'tis nobler in the mind\n" * 40


def _model_and_ids():
    torch.manual_seed(0)
    vocab = Vocab.from_text(TEXT)
    model = CharLM(len(vocab), hidden=16, layers=1, embed=8).eval()
    return model, vocab, torch.as_tensor(vocab.encode(TEXT))


def test_stream_losses_average_to_the_whole_text_loss():
    model, _, ids = _model_and_ids()
    per = stream_losses(model, ids, batch=4, bptt=32)
    assert per.shape == (4,) and per.dtype == torch.float64
    n = (len(ids) - 1) // 4
    x, y = ids[: 4 * n].view(4, n), ids[1 : 4 * n + 1].view(4, n)
    with torch.no_grad():  # one pass over each whole stream: chunking with carried state changes nothing
        logits = model(x).logits
    direct = torch.nn.functional.cross_entropy(logits.transpose(1, 2), y, reduction="none").mean(1)
    torch.testing.assert_close(per, direct.double(), atol=1e-5, rtol=0)
    assert abs(float(per.mean()) - float(direct.mean())) < 1e-5  # the whole-text score is their mean


def test_a_stuck_stream_is_named_with_where_it_starts():
    model, vocab, ids = _model_and_ids()
    losses = torch.tensor([1.6, 1.5, 8.2, 1.7], dtype=torch.float64)
    r = stream_report(losses, ids, vocab)
    n = (len(ids) - 1) // 4
    assert r["worst_stream"] == 2 and r["worst_stream_start"] == TEXT[2 * n : 2 * n + 24]
    assert r["stuck"] and r["median_stream_loss"] == 1.6 and r["worst_stream_loss"] == 8.2
    line = stuck_warning(r)
    assert line.startswith("warning: validation stream 3 of 4 (starting ") and "8.20 nats/char" in line
    assert "median of 1.60" in line and "\n" not in line


def test_an_ordinary_spread_is_not_stuck():
    model, vocab, ids = _model_and_ids()
    r = stream_report(torch.tensor([1.6, 1.5, 2.4, 1.7], dtype=torch.float64), ids, vocab)
    assert not r["stuck"] and stuck_warning(r) is None
    # two streams have no median to stand apart from
    assert not stream_report(torch.tensor([1.0, 9.0], dtype=torch.float64), ids, vocab)["stuck"]


def test_the_training_summary_carries_the_warning():
    task = get("charlm")
    val = {"loss_nats": 1.9, "bits_per_char": 2.7, "perplexity": 6.7, "streams": 16, "worst_stream": 9,
           "worst_stream_start": "MIO.\nKatherine", "worst_stream_loss": 8.23, "median_stream_loss": 1.84,
           "stuck": True}  # fmt: skip
    lines = task.summary({"val": val, "params": 10, "train_seconds": 1.0, "chars_per_second": 5.0})
    assert lines[-1].startswith("warning: validation stream 10 of 16 (starting 'MIO.\\nKatherine')")
    assert not any("warning" in line for line in task.summary({**{"params": 10, "train_seconds": 1.0,
        "chars_per_second": 5.0}, "val": {**val, "stuck": False}}))  # fmt: skip


def test_the_warning_names_a_scored_file():
    r = {"stuck": True, "worst_stream": 0, "streams": 4, "worst_stream_start": "abc", "worst_stream_loss": 6.0,
         "median_stream_loss": 2.0, "text": "my.txt"}  # fmt: skip
    assert stuck_warning(r).startswith("warning: my.txt stream 1 of 4 (starting 'abc') scores 6.00 nats/char")
