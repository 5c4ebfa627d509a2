"""The sLSTM's whole-sequence C++ loop (rnnlab.nn.slstm_seq): the equations step by step in float64 (values,
every final state and every gradient, the stabiliser's included), float32 agreement, gradcheck of the Function
with padding and a random initial state, which path runs, and inference equal to training."""

from __future__ import annotations

import pytest
import torch

from rnnlab.nn import native
from rnnlab.nn.slstm import SLSTM
from rnnlab.nn.slstm_seq import SLSTMSequence

pytestmark = pytest.mark.skipif(native.load() is None, reason="no C++ build here")


def _state(layers: int, batch: int, hidden: int, dtype) -> tuple[torch.Tensor, ...]:
    """A random (h, c, n, m) with n > 0, as a carried state would be."""
    g = torch.Generator().manual_seed(7)
    h, c, m = (torch.randn(layers, batch, hidden, generator=g, dtype=dtype) for _ in range(3))
    n = torch.rand(layers, batch, hidden, generator=g, dtype=dtype) + 0.5
    return h, c, n, m


def _forward_backward(layer: SLSTM, x, lengths, s0) -> list[torch.Tensor]:
    """Outputs, the final (h, c, n, m) and the gradients of a loss that reads every output and state."""
    xx = x.clone().requires_grad_()
    ss = tuple(s.clone().requires_grad_() for s in s0)
    out, state = layer(xx, lengths, ss)
    weights = torch.linspace(-1, 1, out.numel(), dtype=x.dtype).view_as(out)
    ((out * weights).sum() + sum(s.sin().sum() for s in state)).backward()
    return [out, *state, xx.grad, *(s.grad for s in ss), *(p.grad for p in layer.parameters())]


@pytest.mark.parametrize(
    "layers, bidirectional, ragged", [(1, False, False), (2, True, True), (2, False, True)]
)
@pytest.mark.parametrize("forget", ["sigmoid", "exp"])
def test_the_loop_is_the_equations_step_by_step(layers, bidirectional, ragged, forget):
    torch.manual_seed(0)
    fast = SLSTM(5, 7, layers, bidirectional, forget=forget).double()
    ref = SLSTM(5, 7, layers, bidirectional, forget=forget, fast_path="off").double()
    ref.load_state_dict(fast.state_dict())
    assert fast.path == "sequence" and ref.path == "reference"
    x = torch.randn(4, 9, 5, dtype=torch.float64) * 2  # large enough that the stabiliser takes both branches
    lengths = torch.tensor([9, 3, 7, 1]) if ragged else None
    s0 = _state(layers * (2 if bidirectional else 1), 4, 7, torch.float64)
    got, want = _forward_backward(fast, x, lengths, s0), _forward_backward(ref, x, lengths, s0)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-10, atol=1e-10)


def test_float32_agrees_with_the_reference_loop():
    torch.manual_seed(1)
    fast = SLSTM(9, 32, 2, bidirectional=True)
    ref = SLSTM(9, 32, 2, bidirectional=True, fast_path="off")
    ref.load_state_dict(fast.state_dict())
    x, lengths = torch.randn(6, 20, 9), torch.tensor([20, 5, 13, 20, 1, 8])
    s0 = _state(4, 6, 32, torch.float32)
    got, want = _forward_backward(fast, x, lengths, s0), _forward_backward(ref, x, lengths, s0)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("exp_forget", [False, True])
def test_gradcheck_of_the_function_with_padding(exp_forget):
    torch.manual_seed(2)
    T, B, H, dt = 5, 3, 4, torch.float64
    xp = (torch.randn(T, B, 4 * H, dtype=dt) * 2).requires_grad_()
    s0 = [s[0].requires_grad_() for s in _state(1, B, H, dt)]
    w = (torch.randn(4 * H, H, dtype=dt) * 0.5).requires_grad_()
    b = torch.randn(4 * H, dtype=dt, requires_grad=True)
    valid = torch.ones(T, B, dtype=torch.bool)
    valid[3:, 1] = False
    valid[1:, 2] = False
    assert torch.autograd.gradcheck(
        lambda *a: SLSTMSequence.apply(*a, valid, exp_forget), (xp, *s0, w, b), eps=1e-6, atol=1e-6
    )


def test_path_follows_fast_path_and_zoneout():
    assert SLSTM(3, 4).path == "sequence"
    assert SLSTM(3, 4, fast_path="off").path == "reference"
    layer = SLSTM(3, 4)
    layer.zoneout = 0.1
    assert layer.path == "reference"


def test_inference_equals_the_training_forward():
    torch.manual_seed(3)
    layer = SLSTM(4, 16, 2, bidirectional=True)
    x, lengths = torch.randn(5, 11, 4), torch.tensor([11, 2, 7, 11, 4])
    train_out, train_state = layer(x, lengths)
    with torch.no_grad():
        out, state = layer(x, lengths)
    assert torch.equal(out, train_out.detach())
    for a, b in zip(state, train_state, strict=True):
        assert torch.equal(a, b.detach())
