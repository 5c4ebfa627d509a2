"""minGRU / minLSTM: every scan against the step-by-step loop (outputs, final state, gradients), streaming, lengths."""

from __future__ import annotations

import pytest
import torch

from rnnlab.errors import ConfigError
from rnnlab.nn import scan
from rnnlab.nn.minrnn import MinRNN

TOL = dict(atol=1e-5, rtol=1e-5)
KINDS = ["mingru", "minlstm"]


def _pair(kind, scan, layers=1, bidirectional=False, chunk=None, i=3, h=5):
    """(layer under test, sequential reference) with the same weights."""
    torch.manual_seed(0)
    ref = MinRNN(kind, i, h, num_layers=layers, bidirectional=bidirectional, scan="sequential")
    m = MinRNN(kind, i, h, num_layers=layers, bidirectional=bidirectional, scan=scan, chunk=chunk)
    m.load_state_dict(ref.state_dict())
    return m, ref


def _inputs(m, ragged, b=4, t=13, seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, t, m.input_size, generator=g) * 2
    h0 = torch.randn(m.num_layers * m.num_directions, b, m.hidden_size, generator=g)
    lengths = torch.tensor([13, 4, 9, 1])[:b] if ragged else None
    return x, h0, lengths


def _run(m, x, h0, lengths):
    """Outputs, final state and the gradients of a weighted loss w.r.t. input, initial state and weights."""
    x, h0 = x.clone().requires_grad_(), h0.clone().requires_grad_()
    out, (h_n,) = m(x, lengths, (h0,))
    g = torch.Generator().manual_seed(7)
    w_out, w_h = torch.randn(out.shape, generator=g), torch.randn(h_n.shape, generator=g)
    loss = (out * w_out.to(out.dtype)).sum() + (h_n * w_h.to(h_n.dtype)).sum()
    grads = torch.autograd.grad(loss, [x, h0, *m.parameters()])
    return out, h_n, grads


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("scan,chunk", [("chunked", None), ("chunked", 5), ("chunked", 1), ("log", None)])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("ragged", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_scan_matches_sequential_outputs_state_and_gradients(
    kind, scan, chunk, layers, bidirectional, ragged, dtype
):
    """Chunked: 1e-5 in float32. Log space: 1e-5 in float64 (same maths); its exp/log round trip costs
    float32 about 1e-4 on summed weight gradients, so float32 is held to 1e-4 there."""
    m, ref = _pair(kind, scan, layers, bidirectional, chunk)
    m, ref = m.to(dtype), ref.to(dtype)
    x, h0, lengths = _inputs(m, ragged)
    x, h0 = x.to(dtype), h0.to(dtype)
    out, h_n, grads = _run(m, x, h0, lengths)
    r_out, r_h, r_grads = _run(ref, x, h0, lengths)
    tol = dict(atol=1e-4, rtol=1e-4) if scan == "log" and dtype == torch.float32 else TOL
    assert out.shape == (4, 13, m.output_size) and h_n.shape == (layers * m.num_directions, 4, 5)
    torch.testing.assert_close(out, r_out, **TOL)
    torch.testing.assert_close(h_n, r_h, **TOL)
    names = ["x", "h0", *(n for n, _ in m.named_parameters())]
    for name, a, b in zip(names, grads, r_grads, strict=True):
        torch.testing.assert_close(a, b, **tol, msg=lambda s, name=name: f"grad of {name}: {s}")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("ragged", [False, True])
def test_time_blocks_match_sequential(kind, bidirectional, ragged, monkeypatch):
    """Long inputs run in time blocks (to keep temporaries small); shrink the blocks to 2-4 steps and compare."""
    monkeypatch.setattr(scan, "_BLOCK", 4 * 5 * 3)  # elements: B * H * steps
    m, ref = _pair(kind, "chunked", 2, bidirectional, chunk=2)
    x, h0, lengths = _inputs(m, ragged)
    out, h_n, grads = _run(m, x, h0, lengths)
    r_out, r_h, r_grads = _run(ref, x, h0, lengths)
    for a, b in zip((out, h_n, *grads), (r_out, r_h, *r_grads), strict=True):
        torch.testing.assert_close(a, b, **TOL)


@pytest.mark.parametrize("kind", KINDS)
def test_chunked_backward_passes_gradcheck(kind):
    """The chunked scan's hand-written backward against finite differences (float64), ragged and bidirectional."""
    torch.manual_seed(0)
    m = MinRNN(kind, 2, 3, num_layers=2, bidirectional=True, chunk=3).double()
    x = torch.randn(3, 8, 2, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(4, 3, 3, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([8, 2, 5])

    def f(x, h0):
        out, (h_n,) = m(x, lengths, (h0,))
        return out, h_n

    assert torch.autograd.gradcheck(f, (x, h0))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("layers", [1, 2])
def test_step_streaming_reproduces_forward(kind, layers):
    m, _ = _pair(kind, "chunked", layers)
    x, h0, _ = _inputs(m, ragged=False)
    out, (h_n,) = m(x, state=(h0,))
    state, steps = (h0,), []
    for t in range(x.shape[1]):
        y, state = m.step(x[:, t], state)
        steps.append(y)
    torch.testing.assert_close(torch.stack(steps, 1), out[..., : m.hidden_size], **TOL)
    torch.testing.assert_close(state[0], h_n, **TOL)


def test_step_reset_zeroes_state_and_bidirectional_refuses():
    m = MinRNN("mingru", 3, 4)
    x = torch.randn(2, 3)
    _, state = m.step(x, (torch.randn(1, 2, 4),))
    fresh, _ = m.step(x)
    y, _ = m.step(x, state, reset=torch.tensor([True, False]))
    torch.testing.assert_close(y[0], fresh[0])
    with pytest.raises(ConfigError, match="bidirectional"):
        MinRNN("mingru", 3, 4, bidirectional=True).step(x)


@pytest.mark.parametrize("kind", KINDS)
def test_long_sequence_stays_finite_and_matches_sequential(kind):
    """T = 4096: no overflow or underflow in the chunked scan, and the same numbers as the loop."""
    m, ref = _pair(kind, "chunked", i=4, h=8)
    log = MinRNN(kind, 4, 8, scan="log")
    log.load_state_dict(ref.state_dict())
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, 4096, 4, generator=g) * 3
    h0 = torch.randn(1, 2, 8, generator=g)
    with torch.no_grad():
        r_out, (r_h,) = ref(x, state=(h0,))
        out, (h_n,) = m(x, state=(h0,))
        l_out, _ = log(x, state=(h0,))
    assert torch.isfinite(out).all() and torch.isfinite(l_out).all()
    torch.testing.assert_close(out, r_out, **TOL)
    torch.testing.assert_close(h_n, r_h, **TOL)
    # the log-space scan loses relative precision ~ eps * |sum log a| over long sequences
    torch.testing.assert_close(l_out, r_out, atol=1e-3, rtol=1e-3)
    x.requires_grad_()
    m(x)[0].sum().backward()
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("scan", ["chunked", "log", "sequential"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padding_does_not_leak(kind, scan, bidirectional):
    """Whatever sits past a length changes nothing; each sequence gives what it gives alone, unpadded."""
    torch.manual_seed(0)
    m = MinRNN(kind, 3, 5, num_layers=2, bidirectional=bidirectional, scan=scan)
    x, h0, lengths = _inputs(m, ragged=True)
    valid = torch.arange(x.shape[1])[None, :] < lengths[:, None]
    junk = torch.where(valid[..., None], x, torch.randn_like(x) * 100)
    out, (h_n,) = m(x, lengths, (h0,))
    out2, (h_n2,) = m(junk, lengths, (h0,))
    torch.testing.assert_close(out, out2, **TOL)
    torch.testing.assert_close(h_n, h_n2, **TOL)
    assert (out[~valid] == 0).all()
    for b, n in enumerate(lengths.tolist()):
        alone, (h_alone,) = m(x[b : b + 1, :n], state=(h0[:, b : b + 1],))
        torch.testing.assert_close(out[b : b + 1, :n], alone, **TOL)
        torch.testing.assert_close(h_n[:, b : b + 1], h_alone, **TOL)


def test_interface_names_and_shapes():
    m = MinRNN("minlstm", 6, 4, num_layers=2, bidirectional=True)
    assert (m.output_size, m.num_directions, m.num_layers, m.hidden_size) == (8, 2, 2, 4)
    shapes = {k: tuple(v.shape) for k, v in m.state_dict().items()}
    assert shapes["weight_ih_l0"] == (12, 6) and shapes["bias_ih_l1_reverse"] == (12,)
    assert shapes["weight_ih_l1"] == (12, 8)
    assert m.init_state(3)[0].shape == (4, 3, 4)
    out, state = m(torch.randn(3, 5, 6), torch.tensor([5, 2, 3]))
    assert out.shape == (3, 5, 8) and isinstance(state, tuple) and state[0].shape == (4, 3, 4)
    m.train()
    m.dropout = 0.5
    assert m(torch.randn(3, 5, 6))[0].shape == (3, 5, 8)


def test_bad_shapes_and_arguments_raise_clear_errors():
    m = MinRNN("mingru", 3, 4)
    with pytest.raises(ValueError, match="batch-first"):
        m(torch.randn(5, 3))
    with pytest.raises(ValueError, match="3 input features"):
        m(torch.randn(2, 5, 7))
    with pytest.raises(ValueError, match="0 time steps"):
        m(torch.randn(2, 0, 3))
    with pytest.raises(ValueError, match="state h must have shape"):
        m(torch.randn(2, 5, 3), state=(torch.zeros(2, 2, 4),))
    with pytest.raises(ValueError, match="1-tuple"):
        m(torch.randn(2, 5, 3), state=(torch.zeros(1, 2, 4), torch.zeros(1, 2, 4)))
    with pytest.raises(ValueError, match="lengths must have shape"):
        m(torch.randn(2, 5, 3), torch.tensor([5]))
    with pytest.raises(ValueError, match="exceeds"):
        m(torch.randn(2, 5, 3), torch.tensor([6, 2]))
    with pytest.raises(ValueError, match=r"step expects x_t of shape \(batch, 3\)"):
        m.step(torch.randn(2, 5, 3))
    for kwargs, word in [
        (dict(kind="gru"), "kind"),
        (dict(scan="fast"), "scan"),
        (dict(num_layers=0), "num_layers"),
        (dict(dropout=1.0), "dropout"),
        (dict(chunk=0), "chunk"),
        (dict(hidden_size=0), "hidden_size"),
    ]:
        args = dict(kind="mingru", input_size=3, hidden_size=4) | kwargs
        with pytest.raises(ConfigError, match=word):
            MinRNN(**args)


@pytest.mark.parametrize("kind", ["mingru", "minlstm"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_trace_matches_forward_and_probes_give_hidden_gradients(kind, bidirectional):
    torch.manual_seed(0)
    layer = MinRNN(kind, 4, 6, num_layers=2, bidirectional=bidirectional).double()
    x = torch.randn(3, 9, 4, dtype=torch.float64)
    lengths = torch.tensor([9, 4, 1])
    out, (h,) = layer(x, lengths)
    t_out, (t_h,), trace = layer.trace(x, lengths, probe=True)
    torch.testing.assert_close(t_out, out)
    torch.testing.assert_close(t_h, h)
    d = 2 if bidirectional else 1
    assert len(trace.steps) == 2 * d and set(trace.steps[0]) == {"h", "z"}
    torch.testing.assert_close(trace.steps[-d]["h"], out[..., : layer.hidden_size])
    t_out[:, :, :].sum().backward()
    grads = trace.hidden_grads()
    assert [tuple(g.shape) for g in grads] == [(3, 9, 6)] * (2 * d)
    # nothing flows into a sequence's padding, and every real step of the top layer gets a gradient
    assert float(grads[-d][1, 4:].abs().sum()) == 0.0
    assert bool((grads[-d][0].abs().sum(-1) > 0).all())


def test_make_layer_builds_scan_layers_and_refuses_unknown_cells():
    from rnnlab.nn.layers import LAYER_KINDS, make_layer
    from rnnlab.nn.recurrent import Recurrent

    assert {"rnn", "lstm", "gru", "mingru", "minlstm"} <= set(LAYER_KINDS)
    assert isinstance(make_layer("gru", 3, 4), Recurrent)
    layer = make_layer("minlstm", 3, 4, 2, True, 0.1)
    assert isinstance(layer, MinRNN) and layer.scan == "chunked" and layer.output_size == 8
    assert make_layer("mingru", 3, 4, fast_path="off").scan == "sequential"
    with pytest.raises(ConfigError, match="unknown cell 'mingrux'"):
        make_layer("mingrux", 3, 4)
