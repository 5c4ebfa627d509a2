"""The plain GRU's whole-sequence C++ loop (rnnlab.nn.gru_seq): the equations step by step (float64, values
and every gradient), torch.nn.GRU (float32, padded and packed), gradcheck of the Function itself, which path
runs and how to choose the fused kernel, weight drop through it, and what happens without a C++ build."""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnlab.errors import ConfigError
from rnnlab.nn import Recurrent, native
from rnnlab.nn.gru_seq import GRUSequence
from rnnlab.nn.layers import make_layer

pytestmark = pytest.mark.skipif(native.load() is None, reason="no C++ build here")


def _forward_backward(layer: Recurrent, x: torch.Tensor, lengths, s0: torch.Tensor) -> list[torch.Tensor]:
    """Output, final state and the gradients of a loss that weights every output and the final state."""
    xx, hh = x.clone().requires_grad_(), s0.clone().requires_grad_()
    out, (h,) = layer(xx, lengths, (hh,))
    weights = torch.linspace(-1, 1, out.numel(), dtype=x.dtype).view_as(out)
    ((out * weights).sum() + (h.sin()).sum()).backward()
    return [out, h, xx.grad, hh.grad, *(p.grad for p in layer.parameters())]


@pytest.mark.parametrize(
    "layers, bidirectional, ragged", [(1, False, False), (2, True, True), (2, False, True)]
)
@pytest.mark.parametrize("bias", [True, False])
def test_the_loop_is_the_equations_step_by_step(layers, bidirectional, ragged, bias):
    torch.manual_seed(0)
    fast = Recurrent("gru", 5, 7, layers, bidirectional, bias=bias).double()
    ref = Recurrent("gru", 5, 7, layers, bidirectional, bias=bias, fast_path="off").double()
    ref.load_state_dict(fast.state_dict())
    assert fast.path == "sequence" and ref.path == "reference"
    x = torch.randn(4, 9, 5, dtype=torch.float64)
    lengths = torch.tensor([9, 3, 7, 1]) if ragged else None
    s0 = torch.randn(layers * (2 if bidirectional else 1), 4, 7, dtype=torch.float64)
    for got, want in zip(
        _forward_backward(fast, x, lengths, s0), _forward_backward(ref, x, lengths, s0), strict=True
    ):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("ragged", [False, True])
def test_float32_matches_torch_nn_gru_padded_and_packed(ragged):
    torch.manual_seed(1)
    ours = Recurrent("gru", 9, 32, 2, bidirectional=True)
    theirs = torch.nn.GRU(9, 32, 2, batch_first=True, bidirectional=True)
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(6, 20, 9)
    lengths = torch.tensor([20, 5, 13, 20, 1, 8]) if ragged else None
    out, (h,) = ours(x, lengths)
    if ragged:
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        res, h_want = theirs(packed)
        want = pad_packed_sequence(res, batch_first=True, total_length=20)[0]
    else:
        want, h_want = theirs(x)
    torch.testing.assert_close(out, want, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(h, h_want, rtol=1e-5, atol=1e-5)
    (out.sum() + h.sum()).backward()
    (want.sum() + h_want.sum()).backward()
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-4, msg=name)


def test_gradcheck_of_the_function_with_padding():
    torch.manual_seed(2)
    T, B, H = 5, 3, 4
    dt = torch.float64
    xp = torch.randn(T, B, 3 * H, dtype=dt, requires_grad=True)
    h0 = torch.randn(B, H, dtype=dt, requires_grad=True)
    w = (torch.randn(3 * H, H, dtype=dt) * 0.5).requires_grad_()
    b = torch.randn(3 * H, dtype=dt, requires_grad=True)
    valid = torch.ones(T, B, dtype=torch.bool)
    valid[3:, 1] = False
    valid[1:, 2] = False
    assert torch.autograd.gradcheck(lambda *a: GRUSequence.apply(*a, valid), (xp, h0, w, b))
    assert torch.autograd.gradcheck(lambda *a: GRUSequence.apply(*a, None, None), (xp, h0, w))


def test_inference_equals_the_training_forward_and_keeps_no_graph():
    torch.manual_seed(3)
    layer = Recurrent("gru", 4, 8, 2).eval()
    x = torch.randn(3, 11, 4)
    train_out, _ = layer(x)
    with torch.inference_mode():
        infer_out, (h,) = layer(x)
    torch.testing.assert_close(infer_out, train_out.detach(), rtol=0, atol=0)
    assert not h.requires_grad


def test_fused_stays_selectable_and_agrees():
    torch.manual_seed(4)
    ours = Recurrent("gru", 4, 8, 2)
    fused = Recurrent("gru", 4, 8, 2, fast_path="fused")
    fused.load_state_dict(ours.state_dict())
    assert (ours.path, fused.path) == ("sequence", "fused")
    x, lengths = torch.randn(5, 12, 4), torch.tensor([12, 4, 9, 1, 12])
    torch.testing.assert_close(ours(x, lengths)[0], fused(x, lengths)[0], rtol=1e-5, atol=1e-5)
    assert make_layer("gru", 4, 8, fast_path="fused").path == "fused"
    assert Recurrent("lstm", 4, 8, fast_path="fused").path == "fused"


def test_fused_for_a_cell_without_a_kernel_is_a_one_line_error():
    with pytest.raises(ConfigError, match="no PyTorch fused kernel"):
        Recurrent("lngru", 4, 8, fast_path="fused")
    with pytest.raises(ConfigError, match="no PyTorch fused kernel"):
        make_layer("mingru", 4, 8, fast_path="fused")


def test_weight_drop_runs_through_the_loop_with_the_same_mask():
    torch.manual_seed(5)
    ours = Recurrent("gru", 4, 8, weight_drop=0.5)
    fused = Recurrent("gru", 4, 8, weight_drop=0.5, fast_path="fused")
    fused.load_state_dict(ours.state_dict())
    x = torch.randn(3, 6, 4)
    torch.manual_seed(9)
    a = ours(x)[0]
    torch.manual_seed(9)
    b = fused(x)[0]
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    a.sum().backward()
    assert ours.weight_hh_l0.grad is not None and (ours.weight_hh_l0.grad == 0).any()  # dropped entries


def test_without_a_build_or_off_cpu_the_gru_takes_the_fused_kernel(monkeypatch):
    monkeypatch.setattr(native, "load", lambda: None)
    layer = Recurrent("gru", 4, 8)
    assert layer.path == "fused"
    assert Recurrent("gru", 4, 8, fast_path="require").path == "fused"  # a fast path all the same
    layer(torch.randn(2, 3, 4))[0].sum().backward()
    assert Recurrent("gru", 4, 8).to(torch.bfloat16).path == "fused"
