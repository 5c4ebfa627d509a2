"""The regularisation kit on Recurrent (issue 18): weight drop on the fused kernel, locked dropout, zoneout,
residual stacks, forget-gate bias and orthogonal init, each against a hand-built answer."""

from __future__ import annotations

import copy

import pytest
import torch

from rnnlab.errors import ConfigError
from rnnlab.nn import Recurrent
from rnnlab.nn import recurrent as recurrent_module
from rnnlab.nn.layers import make_layer
from rnnlab.nn.regularize import activation_penalty, embedding_dropout, locked_dropout

TOL = dict(atol=1e-5, rtol=1e-5)
TORCH = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}


def _x(b: int = 3, t: int = 7, i: int = 4) -> torch.Tensor:
    return torch.randn(b, t, i, generator=torch.Generator().manual_seed(1))


def _pair(kind: str, layers: int = 2, **options) -> tuple[Recurrent, Recurrent]:
    """A layer with `options` and a plain one with the same weights."""
    torch.manual_seed(0)
    ours = Recurrent(kind, 4, 6, num_layers=layers, **options)
    plain = Recurrent(kind, 4, 6, num_layers=layers)
    plain.load_state_dict(ours.state_dict())
    return ours, plain


# --- weight drop ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_weight_drop_zero_and_eval_are_the_plain_layer(kind):
    x = _x()
    off, plain = _pair(kind, weight_drop=0.0)
    torch.testing.assert_close(off(x)[0], plain(x)[0], atol=0, rtol=0)
    on, plain = _pair(kind, weight_drop=0.5)
    on.eval(), plain.eval()
    torch.testing.assert_close(on(x)[0], plain(x)[0], atol=0, rtol=0)
    assert list(on.state_dict()) == list(TORCH[kind](4, 6, num_layers=2).state_dict())  # PyTorch's names


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_weight_drop_masks_w_hh_on_the_fused_kernel(kind, monkeypatch):
    p = 0.5
    layer, _ = _pair(kind, layers=1, weight_drop=p, fast_path="fused")  # the GRU's default on CPU is its C++ loop
    seen: list[list[torch.Tensor]] = []
    kernel = recurrent_module._kernel

    def spy(k, nl):
        fn = kernel(k, nl)
        return lambda x, hx, weights, *rest: (seen.append(list(weights)), fn(x, hx, weights, *rest))[1]

    monkeypatch.setattr(recurrent_module, "_kernel", spy)
    x = _x()
    assert layer.path == "fused"
    out, state = layer(x)
    assert len(seen) == 1, "the fused kernel did not run"
    w_ih, w_hh = seen[0][0], seen[0][1]
    w = layer.weight_hh_l0
    assert w_ih is layer.weight_ih_l0 and w_hh is not w
    kept = w_hh != 0
    assert 0 < kept.float().mean() < 1
    torch.testing.assert_close(w_hh[kept], w[kept] / (1 - p))
    # the same answer as torch.nn with that dropped matrix, and gradients reach the parameter
    ref = TORCH[kind](4, 6, batch_first=True)
    ref.load_state_dict({**layer.state_dict(), "weight_hh_l0": w_hh.detach()})
    torch.testing.assert_close(out, ref(x)[0], **TOL)
    out.sum().backward()
    assert w.grad is not None and (w.grad[~kept] == 0).all() and w.grad.abs().sum() > 0
    layer(x)
    assert not torch.equal(seen[1][1], w_hh), "a fresh mask per forward"


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_weight_drop_reference_loop_draws_the_same_mask(kind):
    x, lengths = _x(), torch.tensor([7, 2, 5])
    fused, _ = _pair(kind, weight_drop=0.3)
    ref = Recurrent(kind, 4, 6, num_layers=2, weight_drop=0.3, fast_path="off")
    ref.load_state_dict(fused.state_dict())
    torch.manual_seed(5)
    a = fused(x, lengths)
    torch.manual_seed(5)
    b = ref(x, lengths)
    torch.testing.assert_close(a[0], b[0], **TOL)
    torch.testing.assert_close(a[1], b[1], **TOL)
    copy.deepcopy(ref)  # the cells hold parameters again, not the dropped tensors
    assert all(type(c.weight_hh) is torch.nn.Parameter for c in ref._cells)


# --- locked dropout -------------------------------------------------------------------------------------
def test_locked_dropout_mask_is_constant_over_time():
    torch.manual_seed(0)
    y = locked_dropout(torch.ones(4, 9, 16), 0.5, training=True)
    assert torch.equal(y, y[:, :1].expand_as(y))
    assert set(y.unique().tolist()) == {0.0, 2.0}
    assert torch.equal(locked_dropout(torch.ones(2, 3, 4), 0.5, training=False), torch.ones(2, 3, 4))


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_locked_dropout_between_layers_fused_equals_reference(kind):
    x = _x()
    fused, plain = _pair(kind, layers=3, locked_dropout=0.4)
    ref = Recurrent(kind, 4, 6, num_layers=3, locked_dropout=0.4, fast_path="off")
    ref.load_state_dict(fused.state_dict())
    torch.manual_seed(3)
    a = fused(x)[0]
    torch.manual_seed(3)
    torch.testing.assert_close(a, ref(x)[0], **TOL)
    assert not torch.allclose(a, plain(x)[0])  # dropout happened
    fused.eval(), plain.eval()
    torch.testing.assert_close(fused(x)[0], plain(x)[0], **TOL)


def test_locked_and_standard_dropout_together_is_an_error():
    with pytest.raises(ConfigError, match="set one of them to 0"):
        Recurrent("lstm", 4, 6, num_layers=2, dropout=0.2, locked_dropout=0.2)


# --- zoneout --------------------------------------------------------------------------------------------
def test_zoneout_eval_is_the_expectation():
    d = 0.3
    layer, _ = _pair("lstm", layers=1, zoneout=d)
    layer.eval()
    assert layer.path in ("sequence", "reference")  # the C++ loop where it builds (tests/nn/test_lstm_seq.py)
    cell = torch.nn.LSTMCell(4, 6)
    cell.load_state_dict({k[:-3]: v for k, v in layer.state_dict().items()})
    x = _x()
    h, c, outs = torch.zeros(3, 6), torch.zeros(3, 6), []
    for t in range(x.shape[1]):
        h_new, c_new = cell(x[:, t], (h, c))
        h, c = d * h + (1 - d) * h_new, d * c + (1 - d) * c_new
        outs.append(h)
    out, (h_n, c_n) = layer(x)
    torch.testing.assert_close(out, torch.stack(outs, 1), **TOL)
    torch.testing.assert_close(c_n[0], c, **TOL)
    steps, state = [], None
    for t in range(x.shape[1]):  # streaming zones out the same way
        h_t, state = layer.step(x[:, t], state)
        steps.append(h_t)
    torch.testing.assert_close(torch.stack(steps, 1), out, **TOL)


def test_zoneout_training_keeps_each_unit_or_updates_it():
    d = 0.5
    layer, _ = _pair("gru", layers=1, zoneout=d)
    cell = torch.nn.GRUCell(4, 6)
    cell.load_state_dict({k[:-3]: v for k, v in layer.state_dict().items()})
    x = torch.randn(16, 20, 4, generator=torch.Generator().manual_seed(2))
    torch.manual_seed(0)
    with torch.no_grad():
        out, _ = layer(x)
        prev, kept, total = torch.zeros(16, 6), 0, 0
        for t in range(x.shape[1]):
            fresh = cell(x[:, t], prev)
            same, new = torch.isclose(out[:, t], prev, atol=1e-6), torch.isclose(out[:, t], fresh, atol=1e-6)
            assert (same | new).all(), "each unit is either its previous value or the update"
            kept, total = kept + int((same & ~new).sum()), total + same.numel()
            prev = out[:, t]
    assert 0.4 < kept / total < 0.6


def test_zoneout_refuses_a_required_fast_path_where_it_has_none():
    with pytest.raises(ConfigError, match="zoneout on 'rnn' runs the reference loop"):
        Recurrent("rnn", 4, 6, zoneout=0.1, fast_path="require")


# --- residual -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fast_path", ["auto", "off"])
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_residual_output_is_layer_output_plus_input(kind, fast_path):
    layer, _ = _pair(kind, layers=2, residual=True)
    layer.fast_path = fast_path
    sd = layer.state_dict()
    first, second = Recurrent(kind, 4, 6), Recurrent(kind, 6, 6)
    first.load_state_dict({k: v for k, v in sd.items() if k.endswith("_l0")})
    second.load_state_dict({k.replace("_l1", "_l0"): v for k, v in sd.items() if k.endswith("_l1")})
    x, lengths = _x(), torch.tensor([7, 2, 5])
    h0, s0 = first(x, lengths)
    h1, s1 = second(h0, lengths)
    out, state = layer(x, lengths)
    torch.testing.assert_close(out, h1 + h0, **TOL)
    torch.testing.assert_close(state[0], torch.cat([s0[0], s1[0]]), **TOL)
    steps, st = [], None
    for t in range(x.shape[1]):
        h_t, st = layer.step(x[:, t], st)
        steps.append(h_t)
    torch.testing.assert_close(torch.stack(steps, 1)[0], out[0], **TOL)  # the full-length sequence


def test_residual_needs_stacked_layers():
    with pytest.raises(ConfigError, match="num_layers >= 2"):
        Recurrent("lstm", 4, 6, residual=True)


# --- initialisation -------------------------------------------------------------------------------------
def test_forget_bias_and_orthogonal_init():
    h = 6
    layer = Recurrent("lstm", 4, h, num_layers=2, bidirectional=True, forget_bias=1.0, init="orthogonal")
    for name, p in layer.named_parameters():
        if name.startswith("bias_ih"):
            assert torch.equal(p[h : 2 * h], torch.ones(h))
        if name.startswith("bias_hh"):
            assert torch.equal(p[h : 2 * h], torch.zeros(h))
            assert not torch.equal(p[:h], torch.zeros(h))  # the other gates keep PyTorch's init
        if name.startswith("weight_hh"):
            for g in range(4):
                block = p[g * h : (g + 1) * h]
                torch.testing.assert_close(block @ block.T, torch.eye(h), **TOL)


@pytest.mark.parametrize(
    "args,match",
    [
        (dict(weight_drop=-0.1), "weight_drop must be in"),
        (dict(zoneout=1.0), "zoneout must be in"),
        (dict(locked_dropout=1.5), "locked_dropout must be in"),
        (dict(init="xavier"), "init must be one of"),
        (dict(cell="gru", forget_bias=1.0), "forget_bias applies to the 'lstm' cell"),
    ],
)
def test_bad_options_are_one_line_errors(args, match):
    args = {"cell": "lstm", **args}
    with pytest.raises(ConfigError, match=match) as e:
        Recurrent(args.pop("cell"), 4, 6, num_layers=2, **args)
    assert "\n" not in str(e.value)


def test_make_layer_refuses_options_on_other_layers():
    assert make_layer("lstm", 4, 6, 2, weight_drop=0.2).weight_drop == 0.2
    with pytest.raises(ConfigError, match="weight_drop applies to the cells"):
        make_layer("mingru", 4, 6, weight_drop=0.2)
    with pytest.raises(ConfigError, match="unknown layer option"):
        make_layer("lstm", 4, 6, weigth_drop=0.2)


# --- embedding dropout and AR/TAR ---------------------------------------------------------------------------
def test_embedding_dropout_drops_whole_rows():
    torch.manual_seed(0)
    emb = torch.nn.Embedding(10, 5)
    ids = torch.arange(10).repeat(3, 1)
    y = embedding_dropout(emb, ids, 0.5, training=True)
    gone = (y == 0).all(-1)  # (3, 10): a dropped token is zero in every position
    assert gone.any() and not gone.all() and torch.equal(gone, gone[:1].expand_as(gone))
    torch.testing.assert_close(y[~gone], (emb(ids) / 0.5)[~gone])
    assert torch.equal(embedding_dropout(emb, ids, 0.5, training=False), emb(ids))


def test_activation_penalty_is_ar_plus_tar():
    h = torch.tensor([[[1.0, 2.0], [3.0, 5.0], [0.0, 1.0]]])  # (1, 3, 2)
    dropped = h * torch.tensor([[[2.0, 0.0]]])
    ar = (4 + 0 + 36 + 0 + 0 + 0) / 6
    tar = ((3 - 1) ** 2 + (5 - 2) ** 2 + (0 - 3) ** 2 + (1 - 5) ** 2) / 4
    torch.testing.assert_close(activation_penalty(h, dropped, 2.0, 0.0), torch.tensor(2.0 * ar))
    torch.testing.assert_close(activation_penalty(h, dropped, 0.0, 0.5), torch.tensor(0.5 * tar))
    torch.testing.assert_close(activation_penalty(h, dropped, 2.0, 0.5), torch.tensor(2.0 * ar + 0.5 * tar))


# --- LSTM projections -----------------------------------------------------------------------------------
@pytest.mark.parametrize("fast_path", ["auto", "off"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("ragged", [False, True])
def test_projections_match_torch_lstm(fast_path, bidirectional, ragged):
    torch.manual_seed(0)
    ours = Recurrent("lstm", 4, 6, num_layers=2, bidirectional=bidirectional, proj_size=3, fast_path=fast_path)
    tnn = torch.nn.LSTM(4, 6, num_layers=2, bidirectional=bidirectional, proj_size=3, batch_first=True)
    assert list(ours.state_dict()) == list(tnn.state_dict())
    tnn.load_state_dict(ours.state_dict())
    x, lengths = _x(), (torch.tensor([7, 2, 5]) if ragged else None)
    s0 = tuple(torch.randn_like(s) for s in ours.init_state(3))
    assert [s.shape[-1] for s in s0] == [3, 6] and ours.output_size == 3 * (1 + bidirectional)
    out, state = ours(x, lengths, s0)
    if ragged:
        packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        ref, ref_state = tnn(packed, s0)
        ref, _ = torch.nn.utils.rnn.pad_packed_sequence(ref, batch_first=True, total_length=x.shape[1])
    else:
        ref, ref_state = tnn(x, s0)
    torch.testing.assert_close(out, ref, **TOL)
    for a, b in zip(state, ref_state, strict=True):
        torch.testing.assert_close(a, b, **TOL)
    grads = torch.autograd.grad(out.pow(2).sum(), list(ours.parameters()))
    ref_grads = torch.autograd.grad(ref.pow(2).sum(), list(tnn.parameters()))
    for a, b in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(a, b, **TOL)


def test_projections_stream_and_refuse_bad_sizes():
    layer = Recurrent("lstm", 4, 6, num_layers=2, proj_size=2).eval()
    x = _x()
    out, final = layer(x)
    steps, state = [], None
    for t in range(x.shape[1]):
        h, state = layer.step(x[:, t], state)
        steps.append(h)
    torch.testing.assert_close(torch.stack(steps, 1), out, **TOL)
    torch.testing.assert_close(state[1], final[1], **TOL)
    with pytest.raises(ConfigError, match=r"proj_size must be in \[0, hidden_size=6\)"):
        Recurrent("lstm", 4, 6, proj_size=6)
    with pytest.raises(ConfigError, match="proj_size applies to the 'lstm' cell"):
        Recurrent("gru", 4, 6, proj_size=2)
