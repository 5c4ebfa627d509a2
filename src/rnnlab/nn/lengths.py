"""Helpers for padded batches with a `(batch,)` lengths tensor: masks, validation, last-step gather, pooling."""

from __future__ import annotations

import torch
from torch import Tensor


def check_input(x: Tensor, input_size: int, lengths: Tensor | None) -> Tensor | None:
    """Validate a batch-first (B, T, F) input for a recurrent layer and its lengths; lengths that are all T
    come back as None (no packing or masking needed)."""
    if x.dim() != 3:
        raise ValueError(f"expected batch-first input (batch, time, features), got shape {tuple(x.shape)}")
    if x.shape[2] != input_size:
        raise ValueError(
            f"expected {input_size} input features, got {x.shape[2]} (input shape {tuple(x.shape)})"
        )
    if x.shape[1] == 0:
        raise ValueError("input has 0 time steps; every sequence needs at least 1 step")
    lengths = check_lengths(lengths, x.shape[0], x.shape[1])
    if lengths is not None and bool((lengths == x.shape[1]).all()):
        return None
    return lengths


def check_lengths(lengths: Tensor | None, batch: int, time: int) -> Tensor | None:
    """Validate lengths against a (batch, time, ...) input; None means every sequence is full length."""
    if lengths is None:
        return None
    if not isinstance(lengths, Tensor):
        lengths = torch.as_tensor(lengths)
    if lengths.dtype.is_floating_point or lengths.dtype == torch.bool:
        raise ValueError(f"lengths must be an integer tensor, got {lengths.dtype}")
    if lengths.shape != (batch,):
        raise ValueError(
            f"lengths must have shape ({batch},) for a batch of {batch}, got {tuple(lengths.shape)}"
        )
    lo, hi = int(lengths.min()), int(lengths.max())
    if lo < 1:
        raise ValueError(
            f"a sequence has length {lo}; every sequence needs at least 1 step (drop empty ones)"
        )
    if hi > time:
        raise ValueError(f"a length ({hi}) exceeds the padded time axis ({time})")
    return lengths.long()


def mask(lengths: Tensor | None, time: int, device=None) -> Tensor | None:
    """(batch, time) bool mask, True at real steps; None when lengths is None."""
    if lengths is None:
        return None
    steps = torch.arange(time, device=device if device is not None else lengths.device)
    return steps[None, :] < lengths.to(steps.device)[:, None]


def last_step(output: Tensor, lengths: Tensor | None) -> Tensor:
    """Output at each sequence's last real step: (B, T, D) -> (B, D)."""
    if lengths is None:
        return output[:, -1]
    idx = (lengths.to(output.device) - 1).view(-1, 1, 1).expand(-1, 1, output.shape[-1])
    return output.gather(1, idx).squeeze(1)


def masked_mean(output: Tensor, lengths: Tensor | None) -> Tensor:
    """Mean over the real steps of each sequence: (B, T, D) -> (B, D)."""
    if lengths is None:
        return output.mean(dim=1)
    m = mask(lengths, output.shape[1], output.device).unsqueeze(-1).to(output.dtype)
    return (output * m).sum(dim=1) / m.sum(dim=1)


def reverse_padded(x: Tensor, lengths: Tensor | None) -> Tensor:
    """Reverse each sequence inside its own length; padding stays at the end."""
    if lengths is None:
        return x.flip(1)
    t = x.shape[1]
    steps = torch.arange(t, device=x.device)[None, :]
    lens = lengths.to(x.device)[:, None]
    idx = torch.where(steps < lens, lens - 1 - steps, steps)
    return x.gather(1, idx.unsqueeze(-1).expand(-1, -1, x.shape[-1]))
