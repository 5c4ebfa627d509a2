"""Convolutional front-end for recurrent models (CNN-LSTM): local patterns first, then recurrence over them."""

from __future__ import annotations

from torch import Tensor, nn

from rnnlab.errors import ConfigError
from rnnlab.nn.lengths import mask


class ConvFrontEnd(nn.Module):
    """`layers` x (Conv1d 'same' padding, ReLU) over time; keeps the length, zeroes padding after every layer."""

    def __init__(self, n_features: int, channels: int, layers: int = 2, kernel: int = 5) -> None:
        super().__init__()
        if channels < 1 or layers < 1:
            raise ConfigError(f"conv front-end needs channels >= 1 and layers >= 1, got {channels}, {layers}")
        if kernel < 1 or kernel % 2 == 0:
            raise ConfigError(f"kernel must be a positive odd number (keeps the length), got {kernel}")
        self.convs = nn.ModuleList(
            nn.Conv1d(n_features if k == 0 else channels, channels, kernel, padding=kernel // 2)
            for k in range(layers)
        )
        self.out_features = channels

    def forward(self, x: Tensor, lengths: Tensor | None) -> Tensor:
        """(B, T, F) -> (B, T, channels)."""
        m = mask(lengths, x.shape[1], x.device)
        m = None if m is None else m.unsqueeze(1).to(x.dtype)  # (B, 1, T)
        h = x.transpose(1, 2)
        for conv in self.convs:
            h = nn.functional.relu(conv(h * m if m is not None else h))
        if m is not None:
            h = h * m
        return h.transpose(1, 2)
