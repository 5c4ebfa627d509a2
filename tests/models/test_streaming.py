"""StepClassifier: streaming one sample at a time gives the whole-sequence logits of every prefix."""

from __future__ import annotations

import pytest
import torch

from rnnlab.errors import ConfigError
from rnnlab.models import build_model
from rnnlab.models.classifier import SequenceClassifier, SequenceTagger
from rnnlab.models.streaming import StepClassifier, streamable


def _stream(step: StepClassifier, x: torch.Tensor) -> torch.Tensor:
    state = step.init_state(x.shape[0])
    outs = []
    for t in range(x.shape[1]):
        logits, *state = step(x[:, t], *state)
        outs.append(logits)
    return torch.stack(outs, 1)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn", "mingru", "lngru"])
@pytest.mark.parametrize("readout", ["last", "mean", "attention"])
def test_every_prefix_equals_the_whole_sequence_call(cell: str, readout: str) -> None:
    torch.manual_seed(0)
    model = SequenceClassifier(5, 4, cell=cell, hidden=12, layers=2, readout=readout).eval()
    x = torch.randn(3, 9, 5)
    with torch.no_grad():
        step = StepClassifier(model)
        for t, d in zip(step.init_state(3), step.batch_dims, strict=True):
            assert t.shape[d] == 3  # each state tensor's batch axis is where batch_dims says
        streamed = _stream(step, x)
        for t in (1, 4, 9):
            whole = model(x[:, :t])
            torch.testing.assert_close(streamed[:, t - 1], whole, atol=1e-5, rtol=1e-5)


def test_token_model_and_tagger_stream() -> None:
    torch.manual_seed(1)
    lm = SequenceClassifier(1, 3, hidden=8, layers=1, vocab_size=20, embed=6, readout="mean").eval()
    ids = torch.randint(1, 20, (2, 7))
    tagger = SequenceTagger(4, 3, hidden=8, layers=1, bidirectional=False).eval()
    x = torch.randn(2, 7, 4)
    with torch.no_grad():
        torch.testing.assert_close(_stream(StepClassifier(lm), ids)[:, -1], lm(ids), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(_stream(StepClassifier(tagger), x), tagger(x), atol=1e-5, rtol=1e-5)


def test_models_that_cannot_stream_say_why() -> None:
    bidir = SequenceClassifier(5, 2, hidden=8, bidirectional=True)
    conv = SequenceClassifier(5, 2, hidden=8, conv_channels=4)
    mlp = build_model("MLPClassifier", n_features=5, n_classes=2, max_len=10)
    assert "bidirectional" in streamable(bidir)
    assert "front-end" in streamable(conv)
    assert "MLPClassifier" in streamable(mlp)
    assert streamable(SequenceClassifier(5, 2, hidden=8)) is None
    with pytest.raises(ConfigError, match="cannot stream one step at a time: the model is bidirectional"):
        StepClassifier(bidir)
