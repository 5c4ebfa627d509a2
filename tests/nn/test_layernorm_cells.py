"""Layer-normalised LSTM/GRU: the cells against the equations, the whole-sequence loops (C++ and torch ops)
against the cells step by step, gradcheck, streaming, errors, and a learned result on real HAR windows."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnlab.nn import Recurrent, native
from rnnlab.nn.cells import LayerNormGRUCell, LayerNormLSTMCell
from rnnlab.nn.layernorm_seq import LayerNormGRUSequence, LayerNormLSTMSequence, loops
from rnnlab.nn.layers import LAYER_KINDS, make_layer

KINDS = ("lnlstm", "lngru")
HAVE_CPP = native.load() is not None
LOOPS = ["torch", pytest.param("cpp", marks=pytest.mark.skipif(not HAVE_CPP, reason="no C++ build here"))]


def _ln(v: torch.Tensor) -> torch.Tensor:
    """Layer norm without gain or shift, spelled out: (v - mean) / sqrt(biased var + eps)."""
    mu = v.mean(-1, keepdim=True)
    return (v - mu) / torch.sqrt(((v - mu) ** 2).mean(-1, keepdim=True) + 1e-5)


def _perturbed(module: torch.nn.Module) -> torch.nn.Module:
    """Move the norms' gains and shifts off 1 and 0 so the tests see them."""
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return module


def test_cells_are_the_equations():
    torch.manual_seed(0)
    x, h, c = torch.randn(3, 4), torch.randn(3, 5), torch.randn(3, 5)
    lstm = LayerNormLSTMCell(4, 5)  # gains 1, shifts 0 at initialisation
    i, f, g, o = (_ln(x @ lstm.weight_ih.T) + _ln(h @ lstm.weight_hh.T)).chunk(4, -1)
    c_want = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h_want = torch.sigmoid(o) * torch.tanh(_ln(c_want))
    (h_got, c_got), gates = lstm.recur(lstm.project(x), (h, c))
    torch.testing.assert_close(c_got, c_want)
    torch.testing.assert_close(h_got, h_want)
    assert set(gates) == {"i", "f", "g", "o"}

    gru = LayerNormGRUCell(4, 5)
    xr, xz, xn = _ln(x @ gru.weight_ih.T).chunk(3, -1)
    hr, hz, hn = _ln(h @ gru.weight_hh.T).chunk(3, -1)
    r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
    n = torch.tanh(xn + r * hn)
    (h_got,), _ = gru.recur(gru.project(x), (h,))
    torch.testing.assert_close(h_got, (1 - z) * n + z * h)


def _run_both(kind, layers, bidirectional, lengths, fast_path, dtype, monkeypatch, use_cpp):
    if not use_cpp:
        monkeypatch.setattr(native, "load", lambda: None)
    torch.manual_seed(1)
    fast = _perturbed(Recurrent(kind, 4, 6, layers, bidirectional, fast_path=fast_path).to(dtype))
    ref = Recurrent(kind, 4, 6, layers, bidirectional, fast_path="off").to(dtype)
    ref.load_state_dict(fast.state_dict())
    assert fast.path == "sequence" and ref.path == "reference"
    x = torch.randn(3, 7, 4, dtype=dtype)
    d = 2 if bidirectional else 1
    s0 = tuple(torch.randn(layers * d, 3, 6, dtype=dtype) for _ in range(fast.state_size))
    results = []
    for layer in (fast, ref):
        xx, ss = x.clone().requires_grad_(), tuple(s.clone().requires_grad_() for s in s0)
        out, state = layer(xx, lengths, ss)
        weights = torch.linspace(-1, 1, out.numel(), dtype=dtype).view_as(out)
        ((out * weights).sum() + sum((s**2).sum() for s in state)).backward()
        grads = [xx.grad, *(s.grad for s in ss), *(p.grad for p in layer.parameters())]
        results.append([out, *state, *grads])
    return results


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("impl", LOOPS)
@pytest.mark.parametrize("layers,bidirectional", [(1, False), (2, True)])
@pytest.mark.parametrize("ragged", [False, True])
def test_sequence_loops_match_the_cells_step_by_step(kind, impl, layers, bidirectional, ragged, monkeypatch):
    lengths = torch.tensor([7, 2, 5]) if ragged else None
    fast, ref = _run_both(
        kind, layers, bidirectional, lengths, "auto", torch.float64, monkeypatch, impl == "cpp"
    )
    for a, b in zip(fast, ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("impl", LOOPS)
def test_float32_outputs_within_1e5_of_the_reference(kind, impl, monkeypatch):
    fast, ref = _run_both(
        kind, 2, True, torch.tensor([7, 3, 6]), "auto", torch.float32, monkeypatch, impl == "cpp"
    )
    n_values = 3 if kind == "lnlstm" else 2  # output and final state(s) to 1e-5; gradients sum over steps
    for k, (a, b) in enumerate(zip(fast, ref, strict=True)):
        tol = 1e-5 if k < n_values else 1e-4
        torch.testing.assert_close(a, b, rtol=tol, atol=tol)


@pytest.mark.parametrize("impl", LOOPS)
def test_gradcheck_both_sequence_functions(impl):
    torch.manual_seed(2)
    T, B, H = 4, 3, 3
    dd = dict(dtype=torch.float64, requires_grad=True)
    valid = torch.tensor([[1, 1, 1], [1, 0, 1], [1, 0, 1], [1, 0, 0]], dtype=torch.bool)
    xp = torch.randn(T, B, 4 * H, **dd)
    args = (
        xp,
        torch.randn(B, H, **dd),
        torch.randn(B, H, **dd),
        torch.randn(4 * H, H, **dd),
        *(torch.randn(4 * H, **dd) for _ in range(4)),
        torch.randn(H, **dd),
        torch.randn(H, **dd),
        valid,
        impl,
    )
    assert torch.autograd.gradcheck(LayerNormLSTMSequence.apply, args)
    args = (
        torch.randn(T, B, 3 * H, **dd),
        torch.randn(B, H, **dd),
        torch.randn(3 * H, H, **dd),
        *(torch.randn(3 * H, **dd) for _ in range(4)),
        valid,
        impl,
    )
    assert torch.autograd.gradcheck(LayerNormGRUSequence.apply, args)


@pytest.mark.parametrize("kind", KINDS)
def test_no_shift_and_frozen_norms(kind):
    torch.manual_seed(3)
    fast = _perturbed(Recurrent(kind, 4, 6, bias=False))
    ref = Recurrent(kind, 4, 6, bias=False, fast_path="off")
    ref.load_state_dict(fast.state_dict())
    assert not any("bias" in n for n, _ in fast.named_parameters())
    fast.ln_hh_weight_l0.requires_grad_(False)
    x = torch.randn(2, 5, 4)
    torch.testing.assert_close(fast(x)[0], ref(x)[0], rtol=1e-5, atol=1e-6)
    fast(x)[0].sum().backward()
    assert fast.ln_hh_weight_l0.grad is None and fast.weight_hh_l0.grad is not None


@pytest.mark.parametrize("kind", KINDS)
def test_step_streams_what_forward_computes(kind):
    torch.manual_seed(4)
    layer = _perturbed(Recurrent(kind, 4, 6, num_layers=2)).eval()
    x = torch.randn(3, 9, 4)
    out, final = layer(x)
    state, steps = None, []
    for t in range(9):
        h, state = layer.step(x[:, t], state)
        steps.append(h)
    torch.testing.assert_close(torch.stack(steps, 1), out, rtol=1e-5, atol=1e-5)
    for a, b in zip(state, final, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_layer_kinds_names_and_trace():
    assert {"lnlstm", "lngru"} <= set(LAYER_KINDS)
    layer = make_layer("lnlstm", 3, 4, num_layers=2)
    assert isinstance(layer, Recurrent) and layer.path == "sequence"
    assert make_layer("lngru", 3, 4, fast_path="off").path == "reference"
    names = set(layer.state_dict())
    assert {"weight_ih_l1", "ln_ih_weight_l0", "ln_hh_bias_l1", "ln_c_weight_l0"} <= names
    assert not any(n.startswith("bias_") for n in names)
    x = torch.randn(2, 5, 3)
    out, _, trace = layer.trace(x)
    torch.testing.assert_close(out, layer(x)[0], rtol=1e-5, atol=1e-6)
    assert set(trace.layer(0)) == {"h", "c", "i", "f", "g", "o"}


def test_require_without_the_cpp_build_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(native, "load", lambda: None)
    monkeypatch.setitem(native._state, "reason", "no compiler")
    with pytest.raises(RuntimeError, match="C\\+\\+ loops are unavailable.*no compiler.*'auto'"):
        Recurrent("lnlstm", 3, 4, fast_path="require")(torch.randn(2, 5, 3))
    assert loops("cpu", torch.float32, "auto").__class__.__name__ == "SimpleNamespace"
    with pytest.raises(ValueError, match="loops must be one of"):
        loops("cpu", torch.float32, "fast")


def test_a_failed_build_falls_back_and_says_why_once(monkeypatch, caplog):
    import torch.utils.cpp_extension as ext

    def broken(*args, **kwargs):
        raise RuntimeError(
            "Error building extension\nx.cpp:1:1: error: 'foo' was not declared\nninja: stopped"
        )

    monkeypatch.setattr(native, "_state", {})
    monkeypatch.setattr(ext, "load", broken)
    with caplog.at_level(logging.WARNING, logger="rnnlab.nn.native"):
        assert native.load() is None and native.load() is None
    status = native.status()
    assert status["loaded"] is False and "error: 'foo' was not declared" in status["reason"]
    assert sum("could not be built" in r.message for r in caplog.records) == 1
    monkeypatch.setattr(native, "_state", {})
    monkeypatch.setenv("RNNLAB_NATIVE", "0")
    assert native.load() is None and native.status()["reason"] == "RNNLAB_NATIVE=0"


@pytest.mark.parametrize("kind", KINDS)
def test_learns_real_har_windows(kind):
    sys.path.insert(0, str(Path(__file__).parents[1] / "train"))
    from smallhar import small_har

    x, y = small_har(step=4)
    classes, y = np.unique(y, return_inverse=True)
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    x = (x - x.mean((0, 1))) / x.std((0, 1))
    torch.manual_seed(0)
    layer, head = make_layer(kind, 9, 32), torch.nn.Linear(32, len(classes))
    opt = torch.optim.Adam([*layer.parameters(), *head.parameters()], lr=1e-2)
    for _ in range(60):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(head(layer(x)[0][:, -1]), y)
        loss.backward()
        opt.step()
    acc = float((head(layer(x)[0][:, -1]).argmax(1) == y).float().mean())
    assert acc > 0.9, f"{kind} fits {acc:.2f} of {len(y)} real HAR windows ({len(classes)} classes)"


@pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a GPU (bench/gpu_check.py runs the rest there)"
)
@pytest.mark.parametrize("kind", KINDS)
def test_cuda_graph_replays_match_the_cells(kind):
    from rnnlab.nn.layernorm_seq import GRAPHED_LOOPS

    torch.manual_seed(5)
    fast = _perturbed(Recurrent(kind, 4, 6, 2, True)).cuda()
    ref = Recurrent(kind, 4, 6, 2, True, fast_path="off").cuda()
    ref.load_state_dict(fast.state_dict())
    for t in (7, 7, 9):  # record, replay, another shape
        x = torch.randn(3, t, 4, device="cuda")
        lengths = torch.tensor([t, 2, 5], device="cuda")
        grads = []
        for layer in (fast, ref):
            layer.zero_grad()
            out, state = layer(x, lengths)
            (out.pow(2).sum() + sum(s.sum() for s in state)).backward()
            grads.append([out, *state, *(p.grad for p in layer.parameters())])
        for a, b in zip(*grads, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    recorded = getattr(GRAPHED_LOOPS, f"{kind[2:]}_forward")._graphs.values()
    assert recorded and all(g is not None for g in recorded)  # replayed graphs, not the eager fallback


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("impl", LOOPS)
def test_inference_gives_the_training_forward_bit_for_bit(kind, impl, monkeypatch):
    # without a backward to come the C++ loops keep one step's gates instead of all T: same numbers
    if impl == "torch":
        monkeypatch.setattr(native, "load", lambda: None)
    torch.manual_seed(6)
    layer = _perturbed(Recurrent(kind, 4, 6, num_layers=2, bidirectional=True))
    x, lengths = torch.randn(3, 9, 4), torch.tensor([9, 4, 6])
    with torch.no_grad():
        out, state = layer(x, lengths)
    out_grad, state_grad = layer(x, lengths)
    assert torch.equal(out, out_grad) and all(
        torch.equal(a, b) for a, b in zip(state, state_grad, strict=True)
    )
