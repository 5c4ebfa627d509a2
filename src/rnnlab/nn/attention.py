"""Attention over a padded sequence of keys: additive (Bahdanau 2015) and multiplicative (Luong 2015).

Both share one interface, ``forward(query (B, Hq), keys (B, S, Hk), key_mask (B, S)) -> (context (B, Hk),
weights (B, S))`` with ``key_mask`` True at real positions. Scores at padded positions are set to -inf before
the softmax, so their weights are exactly zero and the weights over real positions sum to 1.

The key half of the score does not depend on the query, so ``prepare(keys)`` computes it once per source
sequence and ``forward(..., prepared=...)`` reuses it at every decoding step.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnlab.errors import ConfigError, DataError


def masked_softmax(scores: Tensor, key_mask: Tensor | None) -> Tensor:
    """softmax over the last axis with padded positions (key_mask False) at exactly zero weight."""
    if key_mask is None:
        return torch.softmax(scores, dim=-1)
    if not bool(key_mask.any(dim=-1).all()):
        raise DataError("a row of key_mask has no real position; every source sequence needs at least 1 step")
    return torch.softmax(scores.masked_fill(~key_mask, float("-inf")), dim=-1)


def _check(query: Tensor, keys: Tensor, key_mask: Tensor | None, query_size: int, key_size: int) -> None:
    if query.dim() != 2 or query.shape[1] != query_size:
        raise DataError(f"query must have shape (batch, {query_size}), got {tuple(query.shape)}")
    if keys.dim() != 3 or keys.shape[0] != query.shape[0] or keys.shape[2] != key_size:
        raise DataError(
            f"keys must have shape ({query.shape[0]}, source_len, {key_size}), got {tuple(keys.shape)}"
        )
    if key_mask is not None and (key_mask.dtype != torch.bool or key_mask.shape != keys.shape[:2]):
        raise DataError(
            f"key_mask must be a bool tensor of shape {tuple(keys.shape[:2])} (True = real), "
            f"got {key_mask.dtype} {tuple(key_mask.shape)}"
        )


def _check_sizes(**sizes: int) -> None:
    for name, size in sizes.items():
        if int(size) < 1:
            raise ConfigError(f"{name} must be >= 1, got {size}")


class AdditiveAttention(nn.Module):
    """Bahdanau attention: score(q, k_s) = v^T tanh(W_q q + W_k k_s), a one-hidden-layer MLP per key."""

    def __init__(self, query_size: int, key_size: int, hidden: int | None = None) -> None:
        super().__init__()
        hidden = key_size if hidden is None else hidden
        _check_sizes(query_size=query_size, key_size=key_size, hidden=hidden)
        self.query_size, self.key_size = int(query_size), int(key_size)
        self.W_q = nn.Linear(query_size, hidden, bias=False)
        self.W_k = nn.Linear(key_size, hidden, bias=False)
        self.v = nn.Linear(hidden, 1, bias=False)

    def prepare(self, keys: Tensor) -> Tensor:
        """W_k k_s for every key (B, S, hidden): the query-independent half of the score."""
        return self.W_k(keys)

    def forward(
        self, query: Tensor, keys: Tensor, key_mask: Tensor | None = None, prepared: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """(context Σ_s a_s k_s (B, Hk), weights a (B, S)) for one query per sequence."""
        _check(query, keys, key_mask, self.query_size, self.key_size)
        Wk = self.prepare(keys) if prepared is None else prepared
        scores = self.v(torch.tanh(self.W_q(query)[:, None, :] + Wk)).squeeze(-1)  # (B, S)
        weights = masked_softmax(scores, key_mask)
        return torch.bmm(weights[:, None, :], keys).squeeze(1), weights

    def extra_repr(self) -> str:
        return f"query_size={self.query_size}, key_size={self.key_size}, hidden={self.v.in_features}"


class MultiplicativeAttention(nn.Module):
    """Luong "general" attention: score(q, k_s) = q^T W k_s, a bilinear form between query and key."""

    def __init__(self, query_size: int, key_size: int) -> None:
        super().__init__()
        _check_sizes(query_size=query_size, key_size=key_size)
        self.query_size, self.key_size = int(query_size), int(key_size)
        self.W = nn.Linear(key_size, query_size, bias=False)  # W k_s: (Hk) -> (Hq)

    def prepare(self, keys: Tensor) -> Tensor:
        """W k_s for every key (B, S, Hq), so that each step's scores are one batched dot product."""
        return self.W(keys)

    def forward(
        self, query: Tensor, keys: Tensor, key_mask: Tensor | None = None, prepared: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """(context Σ_s a_s k_s (B, Hk), weights a (B, S)) for one query per sequence."""
        _check(query, keys, key_mask, self.query_size, self.key_size)
        Wk = self.prepare(keys) if prepared is None else prepared
        scores = torch.bmm(Wk, query[:, :, None]).squeeze(-1)  # (B, S)
        weights = masked_softmax(scores, key_mask)
        return torch.bmm(weights[:, None, :], keys).squeeze(1), weights

    def extra_repr(self) -> str:
        return f"query_size={self.query_size}, key_size={self.key_size}"


ATTENTIONS: dict[str, type[nn.Module]] = {"bahdanau": AdditiveAttention, "luong": MultiplicativeAttention}


def make_attention(kind: str, query_size: int, key_size: int) -> nn.Module:
    """Build attention by name ('bahdanau' or 'luong'); an unknown name is an error listing the valid ones."""
    if kind not in ATTENTIONS:
        raise ConfigError(f"unknown attention {kind!r}; choose one of {sorted(ATTENTIONS)}")
    return ATTENTIONS[kind](query_size, key_size)


__all__ = ["ATTENTIONS", "AdditiveAttention", "MultiplicativeAttention", "make_attention", "masked_softmax"]
