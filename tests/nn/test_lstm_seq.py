"""Zoneout's fast path, the LSTM's (rnnlab.nn.lstm_seq) and GRU's (rnnlab.nn.gru_seq) whole-sequence C++ loops:
the reference loop step by step (float64, values and every gradient, in eval and with the same training
masks), gradcheck of the Functions, torch.nn.LSTM at rate 0, which path runs, and bfloat16 autocast stepping
out to float32."""

from __future__ import annotations

import pytest
import torch

from rnnlab.errors import ConfigError
from rnnlab.nn import Recurrent, native
from rnnlab.nn import recurrent as recurrent_module
from rnnlab.nn.gru_seq import GRUSequence
from rnnlab.nn.lstm_seq import ZoneoutLSTMSequence
from rnnlab.nn.regularize import zoneout_masks

pytestmark = pytest.mark.skipif(native.load() is None, reason="no C++ build here")


def _forward_backward(layer: Recurrent, x: torch.Tensor, lengths, s0) -> list[torch.Tensor]:
    """Output, final state and the gradients of a loss that weights every output and the final state."""
    xx = x.clone().requires_grad_()
    s0 = tuple(s.clone().requires_grad_() for s in s0[: layer.state_size])
    out, state = layer(xx, lengths, s0)
    weights = torch.linspace(-1, 1, out.numel(), dtype=x.dtype).view_as(out)
    ((out * weights).sum() + sum((s * (k + 1)).sin().sum() for k, s in enumerate(state))).backward()
    return [out, *state, xx.grad, *(s.grad for s in s0), *(p.grad for p in layer.parameters())]


def _pair(kind: str, layers: int, bidirectional: bool, p: float, **kw) -> tuple[Recurrent, Recurrent]:
    """The C++ loop and the reference loop with the same weights; `kw` may set zoneout_c (c's own rate)."""
    torch.manual_seed(0)
    fast = Recurrent(kind, 5, 7, layers, bidirectional, zoneout=p, **kw).double()
    ref = Recurrent(kind, 5, 7, layers, bidirectional, zoneout=p, fast_path="off", **kw).double()
    ref.load_state_dict(fast.state_dict())
    assert fast.path == "sequence" and ref.path == "reference"
    return fast, ref


def _inputs(layers: int, bidirectional: bool, ragged: bool):
    x = torch.randn(4, 9, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    lengths = torch.tensor([9, 3, 7, 1]) if ragged else None
    rows = layers * (2 if bidirectional else 1)
    s0 = tuple(torch.randn(rows, 4, 7, dtype=torch.float64) for _ in range(2))
    return x, lengths, s0


@pytest.mark.parametrize(
    "kind, rates", [("lstm", (0.3, None)), ("gru", (0.3, None)), ("lstm", (0.05, 0.5)), ("lstm", (0.0, 0.4))]
)
@pytest.mark.parametrize(
    "layers, bidirectional, ragged", [(1, False, False), (2, True, True), (2, False, True)]
)
def test_eval_is_the_reference_loops_expectation(kind, rates, layers, bidirectional, ragged):
    fast, ref = _pair(kind, layers, bidirectional, rates[0], zoneout_c=rates[1])
    fast.eval(), ref.eval()
    x, lengths, s0 = _inputs(layers, bidirectional, ragged)
    for got, want in zip(
        _forward_backward(fast, x, lengths, s0), _forward_backward(ref, x, lengths, s0), strict=True
    ):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kind, rates", [("lstm", (0.4, None)), ("gru", (0.4, None)), ("lstm", (0.1, 0.6))])
@pytest.mark.parametrize(
    "layers, bidirectional, ragged", [(1, False, False), (2, True, True), (3, False, True)]
)
def test_training_with_the_same_masks_is_the_reference_loop(
    kind, rates, layers, bidirectional, ragged, monkeypatch
):
    fast, ref = _pair(kind, layers, bidirectional, rates[0], zoneout_c=rates[1], residual=layers > 2)
    x, lengths, s0 = _inputs(layers, bidirectional, ragged)
    t_max, runs = x.shape[1], layers * (2 if bidirectional else 1)
    gen = torch.Generator().manual_seed(5)
    masks = [
        tuple(
            torch.bernoulli(torch.full((t_max, 4, 7), r, dtype=torch.float64), generator=gen)
            for r in fast.zone_rates
        )
        for _ in range(runs)
    ]
    drawn = iter(
        masks
    )  # the loop draws one mask per state tensor per (layer, direction), in the stack's order
    monkeypatch.setattr(recurrent_module, "zoneout_masks", lambda *a, **k: next(drawn))
    calls = iter(range(runs * t_max))  # the reference loop zones out once per step, in the same order

    def same_masks(new, old, rate, training):
        assert rate == fast.zone_rates and training
        i = next(calls)
        pair = masks[i // t_max]
        return tuple(
            m[i % t_max] * o + (1 - m[i % t_max]) * n for n, o, m in zip(new, old, pair, strict=True)
        )

    monkeypatch.setattr(recurrent_module, "zoneout", same_masks)
    got = _forward_backward(fast, x, lengths, s0)
    want = _forward_backward(ref, x, lengths, s0)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-10, atol=1e-10)
    assert next(calls, None) is None and next(drawn, None) is None  # every mask was used, by both


@pytest.mark.parametrize(
    "with_masks, p, p_c", [(True, 0.3, 0.3), (False, 0.3, 0.3), (False, 0.0, 0.0), (False, 0.1, 0.6)]
)
def test_gradcheck_of_the_function(with_masks, p, p_c):
    torch.manual_seed(2)
    t_max, b, h = 6, 3, 4
    xp = torch.randn(t_max, b, 4 * h, dtype=torch.float64, requires_grad=True)
    h0, c0 = (torch.randn(b, h, dtype=torch.float64, requires_grad=True) for _ in range(2))
    w = (0.5 * torch.randn(4 * h, h, dtype=torch.float64)).requires_grad_()
    zh, zc = zoneout_masks((p, p_c), (t_max, b, h), xp, training=with_masks)
    valid = torch.ones(t_max, b, dtype=torch.bool)
    valid[2:, 1] = False
    assert torch.autograd.gradcheck(
        lambda *a: ZoneoutLSTMSequence.apply(*a, valid, zh, zc, p, p_c), (xp, h0, c0, w), eps=1e-6, atol=1e-6
    )
    xp3 = xp.detach()[..., : 3 * h].clone().requires_grad_()  # the GRU's Function, its h mask
    w3, b3 = (
        w.detach()[: 3 * h].clone().requires_grad_(),
        torch.randn(3 * h, dtype=torch.float64).requires_grad_(),
    )
    assert torch.autograd.gradcheck(
        lambda *a: GRUSequence.apply(*a, valid, zh, p), (xp3, h0, w3, b3), eps=1e-6, atol=1e-6
    )


def test_rate_zero_is_torch_nn_lstm():
    torch.manual_seed(3)
    theirs = torch.nn.LSTM(6, 16, batch_first=True)
    x = torch.randn(5, 12, 6)
    xp = (x @ theirs.weight_ih_l0.T + theirs.bias_ih_l0 + theirs.bias_hh_l0).transpose(0, 1)
    zeros = torch.zeros(5, 16)
    out, h_n, c_n = ZoneoutLSTMSequence.apply(
        xp, zeros, zeros, theirs.weight_hh_l0, None, None, None, 0.0, 0.0
    )
    want, (h_want, c_want) = theirs(x)
    torch.testing.assert_close(out.transpose(0, 1), want, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close((h_n, c_n), (h_want[0], c_want[0]), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_training_keeps_each_unit_or_updates_it_at_the_rate(kind):
    p = 0.3
    torch.manual_seed(0)
    layer = Recurrent(kind, 4, 32, zoneout=p)
    assert layer.path == "sequence"
    x = torch.randn(16, 40, 4)
    with torch.no_grad():
        out, _ = layer(x)
    same = torch.isclose(out[:, 1:], out[:, :-1], atol=0, rtol=0)
    assert abs(same.float().mean().item() - p) < 0.03  # a kept h equals its previous value exactly


def test_separate_rates_for_h_and_c():
    """zoneout_c: a c kept at every step ends where it began while h moves, and the kept shares follow each
    tensor's own rate; the eval loop mixes with each rate (checked against the reference loop above)."""
    torch.manual_seed(6)
    t_max, b, h = 8, 3, 5
    xp = torch.randn(t_max, b, 4 * h)
    h0, c0 = torch.randn(b, h), torch.randn(b, h)
    w = torch.randn(4 * h, h)
    zh, zc = torch.zeros(t_max, b, h), torch.ones(t_max, b, h)
    out, h_n, c_n = ZoneoutLSTMSequence.apply(xp, h0, c0, w, None, zh, zc, 0.0, 1.0)
    assert torch.equal(c_n, c0) and not torch.allclose(h_n, h0)
    masks = zoneout_masks((0.05, 0.5), (200, 16, 32), xp, training=True)
    assert [round(m.mean().item(), 2) for m in masks] == [0.05, 0.5]
    assert zoneout_masks((0.05, 0.5), (2, 2, 2), xp, training=False) == (None, None)
    layer = Recurrent("lstm", 4, 6, zoneout_c=0.5)
    assert (layer.zone_rates, layer.zoned, layer.path) == ((0.0, 0.5), True, "sequence")
    assert Recurrent("lstm", 4, 6, zoneout=0.1).zone_rates == (0.1, 0.1)  # unset: one rate for both
    assert Recurrent("lstm", 4, 6, zoneout=0.1, zoneout_c=0.0).path == "sequence"
    assert not Recurrent("lstm", 4, 6, zoneout_c=0.0).zoned
    assert "zoneout_c=0.5" in repr(layer)


@pytest.mark.parametrize("kind", ["gru", "rnn", "lngru"])
def test_zoneout_c_on_a_cell_without_c_is_a_one_line_error(kind):
    with pytest.raises(
        ConfigError, match=f"zoneout_c zones the LSTM's cell state, and cell '{kind}' has none"
    ):
        Recurrent(kind, 4, 6, zoneout=0.1, zoneout_c=0.5)


@pytest.mark.parametrize(
    "options, path",
    [
        (dict(), "sequence"),
        (dict(fast_path="require"), "sequence"),
        (dict(fast_path="fused"), "reference"),  # PyTorch's kernel has no per-step hook
        (dict(fast_path="off"), "reference"),
        (dict(proj_size=3), "reference"),
    ],
)
def test_which_path_runs_zoneout(options, path):
    assert Recurrent("lstm", 4, 6, zoneout=0.1, **options).path == path
    assert Recurrent("lstm", 4, 6, **options).path in ("fused", "reference")  # no zoneout: unchanged
    if "proj_size" not in options:
        assert Recurrent("gru", 4, 6, zoneout=0.1, **options).path == path
    for kind in ("rnn", "lnlstm", "lngru"):
        assert Recurrent(kind, 4, 6, zoneout=0.1).path == "reference"


def test_a_required_fast_path_for_zoneout_without_one_is_a_one_line_error():
    for kind, kw in (("rnn", {}), ("lngru", {}), ("lstm", dict(proj_size=3))):
        with pytest.raises(ConfigError, match="runs the reference loop .* use fast_path 'auto'"):
            Recurrent(kind, 4, 6, zoneout=0.1, fast_path="require", **kw)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_under_bf16_autocast_the_loop_runs_float32(kind):
    torch.manual_seed(4)
    layer = Recurrent(kind, 4, 8, zoneout=0.2).eval()
    x = torch.randn(3, 5, 4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, _ = layer(x)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, layer(x)[0], atol=0, rtol=0)
