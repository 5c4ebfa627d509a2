"""LSTM-FCN (Karim, Majumdar, Darabi, Chen 2017, "LSTM Fully Convolutional Networks for Time Series
Classification"): an LSTM branch and a fully convolutional branch side by side, concatenated before the softmax.

FCN branch (Wang et al. 2017): three blocks of Conv1d -> BatchNorm -> ReLU with 128, 256, 128 filters of widths
8, 5, 3 ('same' padding), then global average pooling over the real steps. LSTM branch: `hidden` units, then
dropout (the paper's 0.8). One difference from the paper, on purpose: the paper's "dimension shuffle" feeds the
LSTM the whole univariate series as one time step; here the LSTM reads the series step by step (packed to each
series' length), which is what a recurrent toolkit compares. Padding never changes the answer: inputs are zeroed
past each length before every convolution and pooling only counts real steps.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnlab.errors import ConfigError
from rnnlab.models.config import constructor_config
from rnnlab.nn.layers import make_layer
from rnnlab.nn.lengths import mask


class LSTMFCN(nn.Module):
    """forward(x (B, T, F), lengths (B,) or None, y=None) -> logits (B, C), or (logits, loss) given y.

    `channels` is the first and last FCN block's width (the middle block has twice as many); `kernels` the
    three convolution widths."""

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        cell: str = "lstm",
        hidden: int = 8,
        channels: int = 128,
        kernels: tuple[int, int, int] | list[int] = (8, 5, 3),
        dropout: float = 0.8,
        fast_path: str = "auto",
    ) -> None:
        super().__init__()
        if n_features < 1 or n_classes < 2 or hidden < 1 or channels < 1:
            raise ConfigError(
                f"LSTMFCN needs n_features, hidden, channels >= 1 and n_classes >= 2; got {n_features}, "
                f"{hidden}, {channels}, {n_classes}"
            )
        kernels = [int(k) for k in kernels]
        if len(kernels) != 3 or min(kernels) < 1:
            raise ConfigError(f"LSTMFCN needs three positive kernel widths, got {kernels}")
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {dropout}")
        self.config = constructor_config(LSTMFCN, locals())
        widths = [n_features, channels, 2 * channels, channels]
        self.convs = nn.ModuleList(nn.Conv1d(widths[i], widths[i + 1], kernels[i]) for i in range(3))
        self.norms = nn.ModuleList(nn.BatchNorm1d(widths[i + 1]) for i in range(3))
        self.rnn = make_layer(cell, n_features, hidden, 1, False, 0.0, fast_path=fast_path)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden + channels, n_classes)

    def forward(self, x: Tensor, lengths: Tensor | None = None, y: Tensor | None = None):
        m = mask(lengths, x.shape[1], x.device)
        mf = None if m is None else m.unsqueeze(1).to(x.dtype)  # (B, 1, T)
        h = x.transpose(1, 2)
        for conv, norm in zip(self.convs, self.norms, strict=True):
            k = conv.kernel_size[0]  # 'same' padding, by hand (even widths pad one more on the right)
            h = nn.functional.pad(h if mf is None else h * mf, ((k - 1) // 2, k // 2))
            h = nn.functional.relu(norm(conv(h)))
        if mf is None:
            fcn = h.mean(-1)
        else:
            fcn = (h * mf).sum(-1) / mf.sum(-1)
        _, state = self.rnn(x, lengths)
        last = state[0][-1]  # the final hidden state (h of (h, c) for an LSTM), each series at its length
        logits = self.head(torch.cat([self.drop(last), fcn], dim=-1))
        return logits if y is None else (logits, nn.functional.cross_entropy(logits, y))


__all__ = ["LSTMFCN"]
