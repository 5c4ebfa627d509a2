"""1,000 steps streamed through an ONNX step graph, the state fed back each call, end where one whole-sequence
PyTorch call ends (to 1e-5): a character model's next-token logits and a classifier's prefix logits (its
attention readout carried as state)."""

from __future__ import annotations

import numpy as np
import torch

from rnnlab.models import build_model
from rnnlab.tasks import get

STEPS = 1000


def test_charlm_step_graph_streams_like_the_whole_sequence(runtime, assert_close):
    model = build_model("CharLM", vocab_size=13, cell="lstm", hidden=16, layers=2).eval()
    graphs = {g.name: g for g in get("charlm").graphs(model)}
    step = runtime(graphs["step"])
    ids = torch.randint(0, 13, (2, STEPS))
    with torch.no_grad():
        whole = model(ids)
    state = [np.zeros((2, 2, 16), np.float32)] * 2
    for t in range(STEPS):
        logits, *state = step(ids[:, t].numpy(), *state)
    assert_close((whole.logits[:, -1], *whole.state), [logits, *state])
    seq = runtime(graphs["sequence"])  # a second chunk from the carried state, as a whole-sequence call
    more = torch.randint(0, 13, (2, 50))
    with torch.no_grad():
        want = model(more, whole.state)
    assert_close((want.logits, *want.state), seq(more.numpy(), *state))


def test_classifier_step_graph_streams_like_the_whole_sequence(runtime, assert_close):
    model = build_model(
        "SequenceClassifier", n_features=3, n_classes=5, cell="gru", hidden=16, layers=2, readout="attention"
    ).eval()
    graphs = {g.name: g for g in get("classify").graphs(model)}
    assert graphs["step"].inputs == ("x_t", "h0", "max0", "norm0", "acc0")
    step = runtime(graphs["step"])
    x = torch.randn(3, STEPS, 3)
    with torch.no_grad():
        whole = model(x, torch.full((3,), STEPS))
    state = [np.zeros((2, 3, 16), np.float32), np.full((3, 1), -np.inf, np.float32)]
    state += [np.zeros((3, 1), np.float32), np.zeros((3, 16), np.float32)]
    for t in range(STEPS):
        logits, *state = step(x[:, t].numpy(), *state)
    assert_close(whole, [logits])


def test_tagger_and_token_classifier_step_graphs_give_every_prefix(runtime, assert_close):
    tagger = build_model(
        "SequenceTagger", n_features=3, n_classes=4, hidden=8, layers=2, bidirectional=False
    ).eval()
    step = runtime({g.name: g for g in get("classify").graphs(tagger)}["step"])
    x = torch.randn(2, 20, 3)
    with torch.no_grad():
        whole = tagger(x)  # (B, T, C): one label per step
    state = [np.zeros((2, 2, 8), np.float32)] * 2
    for t in range(20):
        logits, *state = step(x[:, t].numpy(), *state)
        assert_close(whole[:, t], [logits])
    tokens = build_model(
        "SequenceClassifier", n_features=1, n_classes=3, hidden=8, layers=1, vocab_size=12, readout="mean"
    ).eval()
    graph = {g.name: g for g in get("classify").graphs(tokens)}["step"]
    assert graph.inputs == ("x_t", "h0", "c0", "sum0", "count0") and graph.example[0].dtype == torch.int64
    step = runtime(graph)
    ids = torch.randint(1, 12, (2, 30, 1))
    state = [np.zeros((1, 2, 8), np.float32)] * 2 + [
        np.zeros((2, 8), np.float32),
        np.zeros((2, 1), np.float32),
    ]
    for t in range(30):
        logits, *state = step(ids[:, t].numpy(), *state)
    with torch.no_grad():
        assert_close(tokens(ids, torch.full((2,), 30)), [logits])
