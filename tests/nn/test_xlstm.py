"""xLSTM's sLSTM and mLSTM: the mLSTM's three forms agree (values and gradients), the stabiliser changes no
result, lengths, streaming, stacking and both directions, errors, gradcheck, and the layers' place in rnnlab."""

from __future__ import annotations

import math

import pytest
import torch

from rnnlab.errors import ConfigError
from rnnlab.nn.mlstm import FORMS, MLSTM
from rnnlab.nn.slstm import SLSTM

F64 = dict(atol=1e-5, rtol=1e-5)
F32 = dict(atol=1e-4, rtol=1e-4)  # streaming and padding checks in float32 (same arithmetic, other order)
# float32 forms: the parallel form sums e^{D - m} over up to T terms and differences cumulative log-forgets
# (F_t - F_s), so it rounds differently from the step loop. Held to max|a - b| <= 1e-4 * max|b| per tensor
# (measured at T = 29: 6e-6 on outputs and states, 6e-5 on weight gradients summed over every step)
F32_SCALED = 1e-4


def _mlstm(form, chunk=64, layers=1, bidirectional=False, heads=2, forget="sigmoid", i=3, h=8):
    torch.manual_seed(0)
    return MLSTM(i, h, layers, bidirectional, heads=heads, form=form, chunk=chunk, forget=forget)


def _slstm(layers=1, bidirectional=False, forget="sigmoid", i=3, h=5):
    torch.manual_seed(0)
    return SLSTM(i, h, layers, bidirectional, forget=forget)


def _state(m, b, dtype, seed=2):
    """A random (not zero) initial state; n > 0 as a real normaliser is."""
    g = torch.Generator().manual_seed(seed)
    s = [torch.randn(z.shape, generator=g, dtype=dtype) * 0.5 for z in m.init_state(b, dtype=dtype)]
    s[2] = s[2].abs() + 0.5
    return tuple(s)


def _run(m, x, lengths, state):
    """Outputs, final state and the gradients of a weighted loss w.r.t. input, initial state and weights."""
    x = x.clone().requires_grad_()
    state = tuple(s.clone().requires_grad_() for s in state)
    out, s_n = m(x, lengths, state)
    g = torch.Generator().manual_seed(7)
    loss = (out * torch.randn(out.shape, generator=g, dtype=out.dtype)).sum()
    loss = loss + sum((s * torch.randn(s.shape, generator=g, dtype=s.dtype)).sum() for s in s_n)
    grads = torch.autograd.grad(loss, [x, *state, *m.parameters()], allow_unused=True)
    return out, s_n, [torch.zeros(()) if v is None else v for v in grads]


def _close(a, b, tol):
    """Outputs, final states and gradients equal: `tol` assert_close's atol/rtol, or a float for max|a - b|
    <= tol * max|b| per tensor."""
    for x, y in zip([a[0], *a[1], *a[2]], [b[0], *b[1], *b[2]], strict=True):
        if isinstance(tol, float):
            err = float((x - y).detach().abs().max())
            assert err <= tol * float(y.detach().abs().max()), err
        else:
            torch.testing.assert_close(x, y, **tol)


# --- mLSTM: recurrent == parallel == chunkwise ---------------------------------------------------------
@pytest.mark.parametrize(
    "form,chunk", [("parallel", 64), ("chunkwise", 4), ("chunkwise", 5), ("chunkwise", 1)]
)
@pytest.mark.parametrize("layers,bidirectional", [(1, False), (2, True)])
@pytest.mark.parametrize("ragged", [False, True])
@pytest.mark.parametrize("forget", ["sigmoid", "exp"])
def test_mlstm_forms_agree_in_float64(form, chunk, layers, bidirectional, ragged, forget):
    """T = 13: chunk 4 and 5 do not divide it, 1 is the step loop again; to 1e-5 with lengths and a carried state."""
    ref = _mlstm("recurrent", layers=layers, bidirectional=bidirectional, forget=forget).double()
    m = _mlstm(form, chunk, layers, bidirectional, forget=forget).double()
    m.load_state_dict(ref.state_dict())
    x = torch.randn(4, 13, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    lengths = torch.tensor([13, 4, 9, 1]) if ragged else None
    state = _state(ref, 4, torch.float64)
    _close(_run(m, x, lengths, state), _run(ref, x, lengths, state), F64)


@pytest.mark.parametrize("form,chunk", [("parallel", 64), ("chunkwise", 5)])
def test_mlstm_forms_agree_in_float32(form, chunk):
    ref = _mlstm("recurrent", layers=2, bidirectional=True)
    m = _mlstm(form, chunk, 2, True)
    m.load_state_dict(ref.state_dict())
    x = torch.randn(4, 29, 3, generator=torch.Generator().manual_seed(1)) * 2
    lengths = torch.tensor([29, 4, 17, 1])
    state = _state(ref, 4, torch.float32)
    _close(_run(m, x, lengths, state), _run(ref, x, lengths, state), F32_SCALED)


# --- the stabiliser changes no result -----------------------------------------------------------------
def _mlstm_unstabilised(m: MLSTM, x):
    """The equations with raw exp() gates and no m_t (float64, short input: nothing overflows)."""
    p = torch.nn.functional.linear(x, m.weight_ih_l0, m.bias_ih_l0)
    hs, nh, d = m.hidden_size, m.heads, m.head_size
    q, k, v, o = (p[..., j * hs : (j + 1) * hs].unflatten(-1, (nh, d)) for j in range(4))
    k = k / math.sqrt(d)
    i = torch.exp(p[..., 4 * hs : 4 * hs + nh])
    f = torch.sigmoid(p[..., 4 * hs + nh :]) if m.forget == "sigmoid" else torch.exp(p[..., 4 * hs + nh :])
    b = x.shape[0]
    C, n, outs = torch.zeros(b, nh, d, d, dtype=x.dtype), torch.zeros(b, nh, d, dtype=x.dtype), []
    for t in range(x.shape[1]):
        ft, it = f[:, t, :, None], i[:, t, :, None]
        C = ft[..., None] * C + it[..., None] * torch.einsum("bha,bhc->bhac", v[:, t], k[:, t])
        n = ft * n + it * k[:, t]
        num = torch.einsum("bhac,bhc->bha", C, q[:, t])
        den = torch.clamp((n * q[:, t]).sum(-1, keepdim=True).abs(), min=1.0)
        outs.append((num / den).flatten(1))
    return torch.sigmoid(o.flatten(2)) * torch.stack(outs, 1)


def _slstm_unstabilised(m: SLSTM, x):
    w_ih, w_hh, b = m.weight_ih_l0, m.weight_hh_l0, m.bias_ih_l0 + m.bias_hh_l0
    hdim = m.hidden_size
    h = c = n = torch.zeros(x.shape[0], hdim, dtype=x.dtype)
    outs = []
    for t in range(x.shape[1]):
        i, f, z, o = (x[:, t] @ w_ih.T + h @ w_hh.T + b).chunk(4, -1)
        i, f = torch.exp(i), (torch.sigmoid(f) if m._forget == "sigmoid" else torch.exp(f))
        c = f * c + i * torch.tanh(z)
        n = f * n + i
        h = torch.sigmoid(o) * c / n
        outs.append(h)
    return torch.stack(outs, 1)


@pytest.mark.parametrize("forget", ["sigmoid", "exp"])
def test_stabiliser_changes_no_result(forget):
    """Both cells against the unstabilised equations in float64, with inputs large enough that m_t moves."""
    x = torch.randn(3, 12, 3, generator=torch.Generator().manual_seed(4), dtype=torch.float64) * 3
    for form in FORMS:
        m = _mlstm(form, chunk=5, forget=forget).double()
        torch.testing.assert_close(m(x)[0], _mlstm_unstabilised(m, x), **F64)
    s = _slstm(forget=forget).double()
    out, (_, _, _, m_n) = s(x)
    assert float(m_n.detach().abs().max()) > 0.5  # the stabiliser did move
    torch.testing.assert_close(out, _slstm_unstabilised(s, x), **F64)


def test_long_sequence_stays_finite():
    """T = 2048 with large inputs (unstabilised exp gates would overflow float32): finite values and gradients."""
    x = (torch.randn(2, 2048, 3, generator=torch.Generator().manual_seed(5)) * 20).requires_grad_()
    for m in (_mlstm("chunkwise", 64), _slstm()):
        out, state = m(x)
        assert torch.isfinite(out).all() and all(torch.isfinite(s).all() for s in state)
        (g,) = torch.autograd.grad(out.sum(), [x])
        assert torch.isfinite(g).all()


# --- lengths, streaming, stacking and directions --------------------------------------------------------
LAYERS = {
    "slstm": lambda bidir: _slstm(2, bidir),
    "mlstm-chunkwise": lambda bidir: _mlstm("chunkwise", 4, 2, bidir),
    "mlstm-parallel": lambda bidir: _mlstm("parallel", 64, 2, bidir),
    "mlstm-recurrent": lambda bidir: _mlstm("recurrent", 64, 2, bidir),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padding_does_not_leak_and_final_state_is_at_the_last_real_step(name, bidirectional):
    m = LAYERS[name](bidirectional)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(4, 11, 3, generator=g)
    lengths = torch.tensor([11, 4, 9, 1])
    state = _state(m, 4, torch.float32)
    valid = torch.arange(11)[None, :] < lengths[:, None]
    junk = torch.where(valid[..., None], x, torch.randn(x.shape, generator=g) * 100)
    with torch.no_grad():
        out, s_n = m(x, lengths, state)
        out2, s_n2 = m(junk, lengths, state)
        torch.testing.assert_close(out, out2, **F32)
        for a, b in zip(s_n, s_n2, strict=True):
            torch.testing.assert_close(a, b, **F32)
        assert (out[~valid] == 0).all()
        for b, n in enumerate(lengths.tolist()):  # each sequence alone, unpadded
            alone, s_alone = m(x[b : b + 1, :n], state=tuple(s[:, b : b + 1] for s in state))
            torch.testing.assert_close(out[b : b + 1, :n], alone, **F32)
            for a, s in zip(s_n, s_alone, strict=True):
                torch.testing.assert_close(a[:, b : b + 1], s, **F32)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_step_streaming_reproduces_forward(name):
    m = LAYERS[name](False)
    x = torch.randn(3, 10, 3, generator=torch.Generator().manual_seed(1))
    state = _state(m, 3, torch.float32)
    with torch.no_grad():
        out, s_n = m(x, state=state)
        s, steps = state, []
        for t in range(10):
            y, s = m.step(x[:, t], s)
            steps.append(y)
    torch.testing.assert_close(torch.stack(steps, 1), out, **F32)
    for a, b in zip(s, s_n, strict=True):
        torch.testing.assert_close(a, b, **F32)
    fresh, _ = m.step(x[:, 0])
    reset, _ = m.step(x[:, 0], s, reset=torch.tensor([True, False, False]))
    torch.testing.assert_close(reset[0], fresh[0])
    with pytest.raises(ConfigError, match="bidirectional"):
        LAYERS[name](True).step(x[:, 0])


def test_stacked_bidirectional_shapes_and_parameter_names():
    s = SLSTM(6, 4, num_layers=2, bidirectional=True)
    shapes = {k: tuple(v.shape) for k, v in s.state_dict().items()}
    assert shapes["weight_ih_l0"] == (16, 6) and shapes["weight_hh_l1_reverse"] == (16, 4)
    assert shapes["weight_ih_l1"] == (16, 8)
    out, state = s(torch.randn(3, 5, 6), torch.tensor([5, 2, 3]))
    assert out.shape == (3, 5, 8) and [tuple(t.shape) for t in state] == [(4, 3, 4)] * 4
    m = MLSTM(6, 8, num_layers=2, bidirectional=True, heads=2)
    shapes = {k: tuple(v.shape) for k, v in m.state_dict().items()}
    assert shapes["weight_ih_l0"] == (4 * 8 + 4, 6) and shapes["bias_ih_l1_reverse"] == (36,)
    assert shapes["weight_ih_l1"] == (36, 16) and not any("hh" in k for k in shapes)
    out, state = m(torch.randn(3, 5, 6), torch.tensor([5, 2, 3]))
    assert out.shape == (3, 5, 16) and m.output_size == 16
    assert [tuple(t.shape) for t in state] == [(4, 3, 8), (4, 3, 2 * 4 * 4), (4, 3, 8), (4, 3, 2)]
    m.train()
    m.dropout = 0.5
    assert m(torch.randn(3, 5, 6))[0].shape == (3, 5, 16)


@pytest.mark.parametrize("name", ["slstm", "mlstm-chunkwise"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_trace_matches_forward_and_probes_give_hidden_gradients(name, bidirectional):
    m = LAYERS[name](bidirectional).double()
    x = torch.randn(3, 9, 3, dtype=torch.float64)
    lengths = torch.tensor([9, 4, 1])
    out, s_n = m(x, lengths)
    t_out, t_s, trace = m.trace(x, lengths, probe=True)
    torch.testing.assert_close(t_out, out)
    for a, b in zip(t_s, s_n, strict=True):
        torch.testing.assert_close(a, b)
    d = 2 if bidirectional else 1
    assert len(trace.steps) == 2 * d and {"h", "i", "f", "o"} <= set(trace.steps[0])
    assert all(v.shape == (3, 9, m.hidden_size) for v in trace.steps[0].values())
    real = (
        torch.arange(9)[None, :] < lengths[:, None]
    )  # sLSTM's trace holds h past a length, mLSTM's zeroes it
    torch.testing.assert_close(trace.steps[-d]["h"][real], out[..., : m.hidden_size][real])
    t_out.sum().backward()
    grads = trace.hidden_grads()
    assert [tuple(g.shape) for g in grads] == [(3, 9, m.hidden_size)] * (2 * d)
    assert float(grads[-d][1, 4:].abs().sum()) == 0.0
    assert bool((grads[-d][0].abs().sum(-1) > 0).all())


def test_gradcheck_on_tiny_shapes():
    x = torch.randn(2, 5, 2, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([5, 3])
    for m in (
        SLSTM(2, 3, bidirectional=True).double(),
        MLSTM(2, 4, heads=2, form="chunkwise", chunk=2, bidirectional=True).double(),
        MLSTM(2, 4, heads=1, form="parallel").double(),
    ):
        assert torch.autograd.gradcheck(lambda inp, m=m: m(inp, lengths)[0], (x,))
        w = m.weight_ih_l0
        assert torch.autograd.gradcheck(
            lambda w_, m=m: torch.func.functional_call(m, {"weight_ih_l0": w_}, (x.detach(), lengths))[0],
            (w,),
        )


# --- errors ------------------------------------------------------------------------------------------
def test_bad_arguments_and_inputs_raise_one_line_errors():
    for kwargs, word in [
        (dict(heads=3), "multiple of heads"),
        (dict(form="fast"), "form"),
        (dict(chunk=0), "chunk"),
        (dict(forget="tanh"), "forget"),
        (dict(num_layers=0), "num_layers"),
        (dict(dropout=1.0), "dropout"),
    ]:
        with pytest.raises(ConfigError, match=word):
            MLSTM(**(dict(input_size=3, hidden_size=8) | kwargs))
    with pytest.raises(ConfigError, match="forget"):
        SLSTM(3, 4, forget="tanh")
    with pytest.raises(ConfigError, match="no fused kernel"):
        SLSTM(3, 4, fast_path="require")
    m = MLSTM(3, 8, heads=2)
    with pytest.raises(ValueError, match="3 input features"):
        m(torch.randn(2, 5, 7))
    with pytest.raises(ValueError, match=r"state c must have shape \(1, 2, 32\)"):
        m(torch.randn(2, 5, 3), state=(torch.zeros(1, 2, 8),) * 4)
    with pytest.raises(ValueError, match=r"4-tuple \(h, c, n, m,\)"):
        m(torch.randn(2, 5, 3), state=(torch.zeros(1, 2, 8),))
    with pytest.raises(ValueError, match="4-tuple"):
        SLSTM(3, 4)(torch.randn(2, 5, 3), state=(torch.zeros(1, 2, 4),) * 2)
    with pytest.raises(ValueError, match="exceeds"):
        m(torch.randn(2, 5, 3), torch.tensor([6, 2]))


# --- their place in rnnlab ----------------------------------------------------------------------------
def test_make_layer_and_config_know_the_cells():
    from rnnlab.nn.layers import LAYER_KINDS, make_layer

    assert {"slstm", "mlstm"} <= set(LAYER_KINDS)
    assert isinstance(make_layer("slstm", 3, 4, 2, True), SLSTM)
    m = make_layer("mlstm", 3, 4, 2, dropout=0.1)
    assert isinstance(m, MLSTM) and m.form == "chunkwise" and m.num_layers == 2
    assert make_layer("mlstm", 3, 4, fast_path="off").form == "recurrent"


@pytest.mark.parametrize("cell", ["slstm", "mlstm"])
def test_classifier_streams_and_export_refuses(cell):
    from rnnlab.models import build_model
    from rnnlab.models.streaming import StepClassifier, streamable
    from rnnlab.tasks.exportable import inference_copy, state_names

    torch.manual_seed(0)
    model = build_model("SequenceClassifier", n_features=3, n_classes=2, cell=cell, hidden=8, layers=2).eval()
    assert streamable(model) is None
    step = StepClassifier(model)
    assert step.state_names == ("h", "c", "n", "m") and state_names(model.rnn) == ("h", "c", "n", "m")
    x = torch.randn(2, 6, 3)
    state = step.init_state(2)
    with torch.no_grad():
        for t in range(6):
            logits, *state = step(x[:, t], *state)
        torch.testing.assert_close(logits, model(x), **F32)
    with pytest.raises(ConfigError, match=f"cell '{cell}' cannot be exported"):
        inference_copy(model)


@pytest.mark.parametrize("cell", ["slstm", "mlstm"])
def test_charlm_generates_with_the_cells(cell):
    from rnnlab.models.language import CharLM

    torch.manual_seed(0)
    lm = CharLM(vocab_size=5, cell=cell, hidden=8, layers=2)
    ids = torch.randint(0, 5, (2, 7))
    out = lm(ids, y=ids)
    assert out.logits.shape == (2, 7, 5) and torch.isfinite(out.loss)
    lm.eval()
    with torch.no_grad():  # one step after the prefix equals the forward pass over prefix + token
        full = lm(ids).logits[:, -1]
        state = lm(ids[:, :-1]).state
        step_logits, _ = lm.step(ids[:, -1], state)
    torch.testing.assert_close(step_logits, full, **F32)
    assert lm.generate(ids[:, :3], 4, greedy=True).shape == (2, 4)
