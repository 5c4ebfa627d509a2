"""Additive and multiplicative attention: hand-written reference scores, masking, padding invariance, errors."""

from __future__ import annotations

import pytest
import torch

from rnnlab.errors import ConfigError, DataError
from rnnlab.nn.attention import AdditiveAttention, MultiplicativeAttention, make_attention

B, S, HQ, HK = 3, 6, 5, 7
KINDS = ["bahdanau", "luong"]


def _inputs(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    query = torch.randn(B, HQ, generator=g)
    keys = torch.randn(B, S, HK, generator=g)
    lengths = torch.tensor([6, 2, 4])
    key_mask = torch.arange(S)[None, :] < lengths[:, None]
    return query, keys, key_mask, lengths


def _make(kind: str):
    torch.manual_seed(0)
    return make_attention(kind, HQ, HK)


def _reference_softmax_and_context(scores: list[list[float]], keys, lengths):
    """Softmax over the real positions only, written out; padded positions get weight 0."""
    weights = torch.zeros(B, S, dtype=torch.float64)
    for b in range(B):
        real = torch.tensor(scores[b][: lengths[b]], dtype=torch.float64)
        e = torch.exp(real - real.max())
        weights[b, : lengths[b]] = e / e.sum()
    context = torch.einsum("bs,bsk->bk", weights, keys.double())
    return context, weights


def test_bahdanau_matches_hand_written_scores():
    att = _make("bahdanau")
    query, keys, key_mask, lengths = _inputs()
    Wq, Wk, v = att.W_q.weight.double(), att.W_k.weight.double(), att.v.weight.double()[0]
    scores = [
        [float(v @ torch.tanh(Wq @ query[b].double() + Wk @ keys[b, s].double())) for s in range(S)]
        for b in range(B)
    ]
    want_ctx, want_w = _reference_softmax_and_context(scores, keys, lengths)
    ctx, w = att(query, keys, key_mask)
    torch.testing.assert_close(w.double(), want_w, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(ctx.double(), want_ctx, atol=1e-6, rtol=1e-5)


def test_luong_general_matches_hand_written_scores():
    att = _make("luong")
    query, keys, key_mask, lengths = _inputs()
    W = att.W.weight.double()  # (HQ, HK): score = q^T W k
    scores = [[float(query[b].double() @ W @ keys[b, s].double()) for s in range(S)] for b in range(B)]
    want_ctx, want_w = _reference_softmax_and_context(scores, keys, lengths)
    ctx, w = att(query, keys, key_mask)
    torch.testing.assert_close(w.double(), want_w, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(ctx.double(), want_ctx, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_weights_sum_to_one_and_are_exactly_zero_on_padding(kind):
    att = _make(kind)
    query, keys, key_mask, _ = _inputs()
    keys = keys.masked_fill(~key_mask[..., None], 1e4)  # huge padded keys must still get no weight
    ctx, w = att(query, keys, key_mask)
    assert ctx.shape == (B, HK) and w.shape == (B, S)
    torch.testing.assert_close(w.sum(-1), torch.ones(B))
    assert bool((w[~key_mask] == 0).all())
    assert bool((w[key_mask] > 0).all())
    assert torch.isfinite(ctx).all()


@pytest.mark.parametrize("kind", KINDS)
def test_padding_positions_do_not_change_the_output(kind):
    att = _make(kind)
    query, keys, key_mask, _ = _inputs()
    longer = torch.cat([keys, torch.randn(B, 4, HK) * 100], 1)
    longer_mask = torch.cat([key_mask, torch.zeros(B, 4, dtype=torch.bool)], 1)
    ctx, w = att(query, keys, key_mask)
    ctx2, w2 = att(query, longer, longer_mask)
    torch.testing.assert_close(ctx2, ctx)
    torch.testing.assert_close(w2[:, :S], w)
    assert bool((w2[:, S:] == 0).all())


@pytest.mark.parametrize("kind", KINDS)
def test_prepared_keys_give_the_same_answer_and_gradients_stay_finite(kind):
    att = _make(kind)
    query, keys, key_mask, _ = _inputs()
    keys.requires_grad_(True)
    ctx, w = att(query, keys, key_mask, prepared=att.prepare(keys))
    torch.testing.assert_close((ctx, w), att(query, keys, key_mask))
    ctx.sum().backward()
    assert torch.isfinite(keys.grad).all()
    assert bool((keys.grad[~key_mask] == 0).all())  # padding gets no gradient either


@pytest.mark.parametrize("kind", KINDS)
def test_no_mask_means_every_key_is_real(kind):
    att = _make(kind)
    query, keys, _, _ = _inputs()
    torch.testing.assert_close(att(query, keys), att(query, keys, torch.ones(B, S, dtype=torch.bool)))


def test_errors_name_the_problem():
    att = _make("luong")
    query, keys, key_mask, _ = _inputs()
    empty = key_mask.clone()
    empty[1] = False
    with pytest.raises(DataError, match="no real position"):
        att(query, keys, empty)
    with pytest.raises(DataError, match="query must have shape"):
        att(query[:, :2], keys, key_mask)
    with pytest.raises(DataError, match="keys must have shape"):
        att(query, keys[:2], key_mask)
    with pytest.raises(DataError, match="bool tensor"):
        att(query, keys, key_mask.long())
    with pytest.raises(ConfigError, match="unknown attention"):
        make_attention("dot-product", HQ, HK)
    with pytest.raises(ConfigError, match="hidden must be >= 1"):
        AdditiveAttention(HQ, HK, hidden=0)
    with pytest.raises(ConfigError, match="key_size must be >= 1"):
        MultiplicativeAttention(HQ, 0)
