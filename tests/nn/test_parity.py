"""Reference loop vs fused path vs torch.nn.RNN/LSTM/GRU with copied weights: outputs, states, gradients."""

from __future__ import annotations

import pytest
import torch

from rnnlab.nn import GRUCell, LSTMCell, Recurrent, RNNCell

TORCH = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
TOL = dict(atol=1e-5, rtol=1e-5)


def _inputs(ragged: bool, b: int = 5, t: int = 9, i: int = 4):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(b, t, i, generator=g)
    lengths = torch.tensor([9, 3, 7, 1, 9]) if ragged else None
    return x, lengths


def _torch_reference(mod: torch.nn.Module, x, lengths, hx):
    """torch.nn's own answer, with packing for ragged batches."""
    if lengths is None:
        return mod(x, hx)
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, h = mod(packed, hx)
    out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
    return out, h


def _grads(loss, params):
    return torch.autograd.grad(loss, params)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("ragged", [False, True])
def test_reference_fused_and_torch_agree(kind, layers, bidirectional, ragged):
    torch.manual_seed(0)
    ours = Recurrent(kind, 4, 6, num_layers=layers, bidirectional=bidirectional)
    ref = Recurrent(kind, 4, 6, num_layers=layers, bidirectional=bidirectional, fast_path="off")
    tnn = TORCH[kind](4, 6, num_layers=layers, bidirectional=bidirectional, batch_first=True)
    ref.load_state_dict(ours.state_dict())
    tnn.load_state_dict(ours.state_dict())  # same names and shapes: no conversion
    x, lengths = _inputs(ragged)
    s0 = tuple(torch.randn_like(s) for s in ours.init_state(x.shape[0]))
    hx = s0 if kind == "lstm" else s0[0]

    results = []
    for mod, run in (
        (ours, lambda: ours(x, lengths, s0)),
        (ref, lambda: ref(x, lengths, s0)),
        (tnn, lambda: _torch_reference(tnn, x, lengths, hx)),
    ):
        out, state = run()
        state = state if isinstance(state, tuple) else (state,)
        loss = (out**2).sum() + sum((s * 0.5).sum() for s in state)
        grads = _grads(loss, list(mod.parameters()))
        results.append((out, state, dict(zip([n for n, _ in mod.named_parameters()], grads, strict=True))))

    (o0, s0_, g0), (o1, s1, g1), (o2, s2, g2) = results
    for o in (o1, o2):
        torch.testing.assert_close(o0, o, **TOL)
    for s in (s1, s2):
        for a, b in zip(s0_, s, strict=True):
            torch.testing.assert_close(a, b, **TOL)
    for g in (g1, g2):
        assert g.keys() == g0.keys()
        for name in g0:
            torch.testing.assert_close(g0[name], g[name], **TOL, msg=lambda m, n=name: f"{n}: {m}")


def test_padding_is_zero_and_final_state_at_last_real_step():
    torch.manual_seed(0)
    layer = Recurrent("gru", 4, 6, bidirectional=True)
    x, lengths = _inputs(True)
    for fast in ("auto", "off"):
        layer.fast_path = fast
        out, (h,) = layer(x, lengths)
        assert out[1, 3:].abs().max() == 0
        # the forward direction's final state equals the output at the last real step
        torch.testing.assert_close(h[0, 1], out[1, 2, :6])
        # the reverse direction's final state is its output at step 0
        torch.testing.assert_close(h[1, 1], out[1, 0, 6:])
        # a ragged sequence gives the same answer as the same sequence alone, unpadded
        alone, (h_alone,) = layer(x[1:2, :3])
        torch.testing.assert_close(out[1:2, :3], alone, **TOL)
        torch.testing.assert_close(h[:, 1], h_alone[:, 0], **TOL)


@pytest.mark.parametrize(
    "cell, tcell",
    [
        (RNNCell(4, 6), torch.nn.RNNCell(4, 6)),
        (LSTMCell(4, 6), torch.nn.LSTMCell(4, 6)),
        (GRUCell(4, 6), torch.nn.GRUCell(4, 6)),
    ],
)
def test_cells_match_torch_cells(cell, tcell):
    tcell.load_state_dict(cell.state_dict())
    x = torch.randn(3, 4)
    state = cell.init_state(3)
    state = tuple(torch.randn_like(s) for s in state)
    h, new = cell(x, state)
    theirs = tcell(x, state if len(state) == 2 else state[0])
    theirs = theirs if isinstance(theirs, tuple) else (theirs,)
    for a, b in zip(new, theirs, strict=True):
        torch.testing.assert_close(a, b, **TOL)


def test_relu_rnn_parity():
    ours = Recurrent("rnn", 4, 6, num_layers=2, nonlinearity="relu")
    tnn = torch.nn.RNN(4, 6, num_layers=2, nonlinearity="relu", batch_first=True)
    tnn.load_state_dict(ours.state_dict())
    x, _ = _inputs(False)
    ref = Recurrent("rnn", 4, 6, num_layers=2, nonlinearity="relu", fast_path="off")
    ref.load_state_dict(ours.state_dict())
    torch.testing.assert_close(ours(x)[0], tnn(x)[0], **TOL)
    torch.testing.assert_close(ref(x)[0], tnn(x)[0], **TOL)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_step_equals_forward_and_reset(kind):
    torch.manual_seed(0)
    layer = Recurrent(kind, 4, 6, num_layers=2)
    x, _ = _inputs(False)
    out, final = layer(x)
    state, hs = None, []
    for t in range(x.shape[1]):
        h, state = layer.step(x[:, t], state)
        hs.append(h)
    torch.testing.assert_close(torch.stack(hs, 1), out, **TOL)
    for a, b in zip(state, final, strict=True):
        torch.testing.assert_close(a, b, **TOL)
    # reset=True for a sample restarts it from zero state
    reset = torch.tensor([True, False, False, False, False])
    h_reset, _ = layer.step(x[:, 0], state, reset=reset)
    h_fresh, _ = layer.step(x[:1, 0])
    torch.testing.assert_close(h_reset[:1], h_fresh, **TOL)


def test_trace_returns_gates_and_matches_forward():
    layer = Recurrent("lstm", 4, 6, num_layers=2, bidirectional=True)
    x, lengths = _inputs(True)
    out, state = layer(x, lengths)
    out_t, state_t, trace = layer.trace(x, lengths)
    torch.testing.assert_close(out, out_t, **TOL)
    steps = trace.layer(1, 1, num_directions=2)
    assert set(steps) == {"h", "c", "i", "f", "g", "o"}
    assert steps["f"].shape == (5, 9, 6)
    assert 0 <= float(steps["f"].min()) and float(steps["f"].max()) <= 1


def test_bad_inputs_name_the_problem():
    layer = Recurrent("lstm", 4, 6)
    with pytest.raises(ValueError, match="expected 4 input features"):
        layer(torch.randn(2, 3, 5))
    with pytest.raises(ValueError, match="batch-first"):
        layer(torch.randn(3, 4))
    with pytest.raises(ValueError, match="length 0"):
        layer(torch.randn(2, 3, 4), torch.tensor([3, 0]))
    with pytest.raises(ValueError, match="exceeds"):
        layer(torch.randn(2, 3, 4), torch.tensor([3, 4]))
    with pytest.raises(ValueError, match="state must be"):
        layer(torch.randn(2, 3, 4), state=(torch.zeros(1, 2, 6),))
    with pytest.raises(Exception, match="unknown cell"):
        Recurrent("lstmm", 4, 6)
    with pytest.raises(Exception, match="fast_path"):
        Recurrent("lstm", 4, 6, fast_path="fast")
    with pytest.raises(Exception, match="bidirectional"):
        Recurrent("gru", 4, 6, bidirectional=True).step(torch.randn(2, 4))


@pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a GPU (bench/gpu_check.py runs the rest there)"
)
def test_cuda_weights_sit_in_one_cudnn_buffer():
    import warnings

    layer = Recurrent("lstm", 4, 6, num_layers=2, bidirectional=True).cuda()
    ref = torch.nn.LSTM(4, 6, 2, batch_first=True, bidirectional=True).cuda()
    ref.load_state_dict(layer.state_dict())
    x = torch.randn(3, 5, 4, device="cuda")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # cuDNN warns when it must compact the weights at every call
        out = layer(x)[0]
    torch.testing.assert_close(out, ref(x)[0])
    ptrs = [p.data_ptr() for p in layer.parameters()]
    layer(x)
    assert ptrs == [p.data_ptr() for p in layer.parameters()]  # flattened once, not at every call
