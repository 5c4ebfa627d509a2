"""Gradient-through-time probes: exact against hand-unrolled autograd, leak-free, and the adding-problem demo."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from rnnlab.inspect.gradflow import adding_problem, plot_gradient_profile, probe_gradients, run_gradient_demo
from rnnlab.models import SequenceClassifier
from rnnlab.models.language import CharLM
from rnnlab.nn.recurrent import Recurrent


def test_probe_equals_autograd_through_a_hand_unrolled_rnn():
    torch.manual_seed(0)
    B, T, H = 3, 5, 4
    rnn = Recurrent("rnn", 2, H).double()
    x = torch.randn(B, T, 2, dtype=torch.double)
    w = torch.randn(B, T, H, dtype=torch.double)  # the loss reads every step, so dL/dh_t has two routes

    norms = probe_gradients(rnn, lambda: (rnn(x)[0] * w).sum())
    assert len(norms) == 1 and norms[0].shape == (T,) and np.isfinite(norms[0]).all()

    # The same network written out by hand; retain_grad on h_t gives the total dLoss/dh_t.
    h, hs = torch.zeros(B, H, dtype=torch.double), []
    for t in range(T):
        h = torch.tanh(
            x[:, t] @ rnn.weight_ih_l0.T + rnn.bias_ih_l0 + h @ rnn.weight_hh_l0.T + rnn.bias_hh_l0
        )
        h.retain_grad()
        hs.append(h)
    (torch.stack(hs, 1) * w).sum().backward()
    want = torch.stack([h.grad for h in hs], 1).norm(dim=-1).mean(0).numpy()
    np.testing.assert_allclose(norms[0], want, rtol=1e-10)
    # at the last step only the direct route is left: dL/dh_T = w[:, T-1]
    np.testing.assert_allclose(norms[0][-1], w[:, -1].norm(dim=-1).mean().item(), rtol=1e-10)


def test_probe_leaves_grads_and_forward_untouched():
    torch.manual_seed(0)
    m = SequenceClassifier(3, 2, cell="gru", hidden=8, layers=1, dropout=0.0)
    x, y = torch.randn(4, 6, 3), torch.tensor([0, 1, 0, 1])
    before = m(x)
    m.head.bias.grad = torch.ones(2)  # a gradient accumulated by training must survive the probe
    probe_gradients(m.rnn, lambda: m(x, None, y)[1])
    assert all(p.grad is None for n, p in m.named_parameters() if n != "head.bias")
    assert torch.equal(m.head.bias.grad, torch.ones(2))
    assert "forward" not in m.rnn.__dict__ and torch.equal(m(x), before)
    with pytest.raises(ValueError, match="exactly once"):
        probe_gradients(m.rnn, lambda: m.head.bias.sum())
    assert "forward" not in m.rnn.__dict__


def test_sequence_classifier_stacked_bidirectional_with_lengths():
    torch.manual_seed(0)
    m = SequenceClassifier(3, 4, cell="lstm", hidden=8, layers=2, bidirectional=True, dropout=0.0)
    x, y, lengths = torch.randn(3, 7, 3), torch.tensor([0, 1, 3]), torch.tensor([7, 4, 6])
    norms = probe_gradients(m.rnn, lambda: m(x, lengths, y)[1])
    assert len(norms) == 4 and all(n.shape == (7,) and np.isfinite(n).all() for n in norms)
    assert norms[2][-1] > 0
    # one sequence of 4 real steps padded to 7: nothing flows into the padding, in either direction
    pad = probe_gradients(m.rnn, lambda: m(x[:1], torch.tensor([4]), y[:1])[1])
    alone = probe_gradients(m.rnn, lambda: m(x[:1, :4], None, y[:1])[1])
    for p, a in zip(pad, alone, strict=True):
        np.testing.assert_allclose(p[:4], a, rtol=1e-5, atol=1e-7)
        assert (p[4:] == 0).all()


def test_char_lm():
    torch.manual_seed(0)
    m = CharLM(12, cell="rnn", hidden=8, layers=2, dropout=0.0)
    x = torch.randint(0, 12, (2, 9))
    norms = probe_gradients(m.rnn, lambda: m(x, None, x).loss)
    assert [n.shape for n in norms] == [(9,), (9,)] and all(np.isfinite(n).all() for n in norms)
    assert all(p.grad is None for p in m.parameters())
    fig = plot_gradient_profile(norms, ["layer 0", "layer 1"])
    assert isinstance(fig, Figure) and len(fig.axes[0].lines) == 2


def test_adding_problem():
    x, y = adding_problem(200, 11, torch.Generator().manual_seed(3))
    assert x.shape == (200, 11, 2) and y.shape == (200,)
    marks = x[..., 1]
    assert torch.equal(marks.sum(1), torch.full((200,), 2.0))
    assert torch.equal(marks[:, :5].sum(1), torch.ones(200))  # one in the first half, one in the second
    torch.testing.assert_close(y, (x[..., 0] * marks).sum(1))
    assert 0 <= float(x[..., 0].min()) and float(x[..., 0].max()) < 1
    x2, _ = adding_problem(200, 11, torch.Generator().manual_seed(3))
    assert torch.equal(x, x2)
    with pytest.raises(ValueError, match="T >= 2"):
        adding_problem(4, 1)


def test_run_gradient_demo_writes_json_and_png(tmp_path):
    res = run_gradient_demo(tmp_path, lengths=(10,), hidden=6, steps=3, batch=8, n_test=40)
    assert set(res) == {"config", "baseline", "rows", "results", "total_seconds"}
    assert set(res["rows"][0]) == {
        "cell",
        "T",
        "ratio_init",
        "ratio_trained",
        "accuracy",
        "mse",
        "train_seconds",
    }
    assert [(r["cell"], r["T"]) for r in res["results"]] == [("rnn", 10), ("gru", 10), ("lstm", 10)]
    for r in res["results"]:
        assert len(r["profile_init"]) == len(r["profile_trained"]) == 10
        assert 0 <= r["accuracy"] <= 1 and np.isfinite([r["ratio_init"], r["ratio_trained"], r["mse"]]).all()
    saved = json.loads((tmp_path / "gradient_demo.json").read_text())
    assert saved["results"][0]["ratio_init"] == res["results"][0]["ratio_init"]
    assert (tmp_path / "gradient_demo.png").read_bytes()[:4] == b"\x89PNG"
