"""The classifier's sequence graph, exported once at batch 2 and 7 steps, equals PyTorch (to 1e-5) at every
batch in {1, 8} and length in {1, 7, 128, 1000}, bidirectional or not, with ragged lengths inside the batch
and a random initial state: nothing about batch, time or the lengths was frozen by tracing."""

from __future__ import annotations

import pytest
import torch

from rnnlab.models import build_model
from rnnlab.tasks import get


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_sequence_graph_matches_pytorch_at_every_batch_and_length(cell, bidirectional, runtime, assert_close):
    model = build_model(
        "SequenceClassifier",
        n_features=3,
        n_classes=4,
        cell=cell,
        hidden=16,
        layers=2,
        bidirectional=bidirectional,
    ).eval()
    graph = get("classify").graphs(model)[0]
    assert graph.name == "sequence" and graph.inputs[:3] == ("x", "lengths", "h0")
    ort = runtime(graph)
    n_state = 2 if cell == "lstm" else 1
    for batch in (1, 8):
        for time in (1, 7, 128, 1000):
            x = torch.randn(batch, time, 3)
            lengths = torch.randint(1, time + 1, (batch,))
            lengths[0] = time  # one full sequence, the rest ragged
            state = tuple(torch.randn(4 if bidirectional else 2, batch, 16) for _ in range(n_state))
            with torch.no_grad():
                want = graph.module(x, lengths, *state)
                logits = model(x, lengths, state=state)
            assert_close(logits, [want[0].numpy()], 1e-6)  # the graph's module is the model's own call
            assert_close(want, ort(x, lengths, *state))
