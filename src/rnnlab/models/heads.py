"""Readouts that turn a (B, T, D) sequence of outputs into one (B, D) vector: last state, mean, attention."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnlab.errors import ConfigError
from rnnlab.nn.lengths import mask, masked_mean

READOUTS = ("last", "mean", "attention")


class AttentionPool(nn.Module):
    """Additive attention pooling: score_t = v^T tanh(W o_t); softmax over real steps; sum of o_t weighted."""

    def __init__(self, dim: int, hidden: int | None = None) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, hidden or dim)
        self.score = nn.Linear(hidden or dim, 1, bias=False)

    def weights(self, output: Tensor, lengths: Tensor | None) -> Tensor:
        """Attention weights (B, T), zero on padding, summing to 1."""
        s = self.score(torch.tanh(self.proj(output))).squeeze(-1)
        m = mask(lengths, output.shape[1], output.device)
        if m is not None:
            s = s.masked_fill(~m, float("-inf"))
        return torch.softmax(s, dim=1)

    def forward(self, output: Tensor, lengths: Tensor | None) -> Tensor:
        return torch.einsum("bt,btd->bd", self.weights(output, lengths), output)


def check_readout(readout: str) -> str:
    """Validate a readout name at construction."""
    if readout not in READOUTS:
        raise ConfigError(f"readout must be one of {READOUTS}, got {readout!r}")
    return readout


def masked_cross_entropy(logits: Tensor, y: Tensor, lengths: Tensor | None) -> Tensor:
    """Per-step cross-entropy over real steps only: logits (B, T, C), y (B, T) with -100 = ignore."""
    if lengths is not None:
        m = mask(lengths, y.shape[1], y.device)
        y = y.masked_fill(~m, -100)
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=-100)


def smoothed_cross_entropy(logits: Tensor, y: Tensor, lengths: Tensor | None, smoothing: float) -> Tensor:
    """Cross-entropy against (1 - smoothing) one-hot + smoothing / classes: logits (B, C) with y (B,), or per
    step (B, T, C) with y (B, T), padded steps (past `lengths`, or y = -100) left out."""
    if logits.dim() == 3 and lengths is not None:
        y = y.masked_fill(~mask(lengths, y.shape[1], y.device), -100)
    return nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=-100, label_smoothing=smoothing
    )


__all__ = [
    "AttentionPool",
    "READOUTS",
    "check_readout",
    "masked_cross_entropy",
    "masked_mean",
    "smoothed_cross_entropy",
]
