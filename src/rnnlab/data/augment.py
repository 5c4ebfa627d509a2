"""Training-time augmentation of scaled IMU-like sequences: per-channel gain and additive jitter.

Subjects differ in how they move and how the phone sits; a small random gain per sequence and channel and a
little white noise make a classifier lean less on one person's exact amplitudes. Applied to training batches
only, after scaling, so `jitter` is in units of each channel's training standard deviation.
"""

from __future__ import annotations

import torch

from rnnlab.errors import ConfigError


class Augment:
    """x -> x * g + e with g ~ N(1, scale^2) per (sequence, channel) and e ~ N(0, jitter^2) per value."""

    def __init__(self, scale: float = 0.0, jitter: float = 0.0, seed: int = 0) -> None:
        if scale < 0 or jitter < 0:
            raise ConfigError(f"augment_scale and augment_jitter must be >= 0, got {scale} and {jitter}")
        self.scale = float(scale)
        self.jitter = float(jitter)
        self.gen = torch.Generator().manual_seed(seed)

    @property
    def active(self) -> bool:
        return self.scale > 0 or self.jitter > 0

    def __call__(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Augment a padded batch (B, T, F); padded steps stay exactly zero."""
        if not self.active:
            return x
        b, t, f = x.shape
        out = x
        if self.scale > 0:
            out = out * (1.0 + self.scale * torch.randn(b, 1, f, generator=self.gen, dtype=x.dtype))
        if self.jitter > 0:
            out = out + self.jitter * torch.randn(b, t, f, generator=self.gen, dtype=x.dtype)
        valid = torch.arange(t)[None, :] < lengths[:, None]
        return out * valid[..., None].to(x.dtype)
