"""Non-recurrent baselines with the classifier's interface: an MLP over the flattened window and a 1-D CNN."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnlab.errors import ConfigError
from rnnlab.models.config import constructor_config
from rnnlab.nn.lengths import mask


class MLPClassifier(nn.Module):
    """Flattens the (zero-padded, cut to `max_len`) window and classifies it with a multilayer perceptron.

    It sees every step at once but has no notion of order or time shift: the lectures' baseline.
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        max_len: int,
        hidden: int = 256,
        layers: int = 2,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        if max_len < 1 or n_features < 1 or n_classes < 2 or layers < 1:
            raise ConfigError(
                f"MLPClassifier needs max_len, n_features >= 1, n_classes >= 2, layers >= 1; got "
                f"max_len={max_len}, n_features={n_features}, n_classes={n_classes}, layers={layers}"
            )
        self.config = constructor_config(MLPClassifier, locals())
        self.max_len = max_len
        dims = [n_features * max_len] + [hidden] * layers
        blocks: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:], strict=True):
            blocks += [nn.Linear(a, b), nn.ReLU(), nn.Dropout(dropout)]
        self.body = nn.Sequential(*blocks)
        self.head = nn.Linear(hidden, n_classes)

    def forward(self, x: Tensor, lengths: Tensor | None = None, y: Tensor | None = None):
        m = mask(lengths, x.shape[1], x.device)
        if m is not None:
            x = x * m.unsqueeze(-1).to(x.dtype)
        t = x.shape[1]
        if t < self.max_len:
            x = nn.functional.pad(x, (0, 0, 0, self.max_len - t))
        logits = self.head(self.body(x[:, : self.max_len].flatten(1)))
        return logits if y is None else (logits, nn.functional.cross_entropy(logits, y))


class CNN1dClassifier(nn.Module):
    """Stacked 1-D convolutions over time (conv, batch norm, ReLU), then mean+max pooling over real steps."""

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        channels: int = 64,
        layers: int = 3,
        kernel: int = 5,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        if kernel < 1 or kernel % 2 == 0:
            raise ConfigError(f"kernel must be a positive odd number (keeps the length), got {kernel}")
        if n_features < 1 or n_classes < 2 or layers < 1:
            raise ConfigError(
                f"CNN1dClassifier needs n_features >= 1, n_classes >= 2, layers >= 1; got "
                f"{n_features}, {n_classes}, {layers}"
            )
        self.config = constructor_config(CNN1dClassifier, locals())
        convs: list[nn.Module] = []
        for k in range(layers):
            convs += [
                nn.Conv1d(n_features if k == 0 else channels, channels, kernel, padding=kernel // 2),
                nn.BatchNorm1d(channels),
                nn.ReLU(),
            ]
        self.convs = nn.Sequential(*convs)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(2 * channels, n_classes)

    def forward(self, x: Tensor, lengths: Tensor | None = None, y: Tensor | None = None):
        m = mask(lengths, x.shape[1], x.device)
        if m is not None:
            x = x * m.unsqueeze(-1).to(x.dtype)
        h = self.convs(x.transpose(1, 2)).transpose(1, 2)  # (B, T, C)
        if m is None:
            pooled = torch.cat([h.mean(1), h.amax(1)], dim=-1)
        else:
            mf = m.unsqueeze(-1)
            mean = (h * mf).sum(1) / mf.sum(1)
            pooled = torch.cat([mean, h.masked_fill(~mf, float("-inf")).amax(1)], dim=-1)
        logits = self.head(self.drop(pooled))
        return logits if y is None else (logits, nn.functional.cross_entropy(logits, y))
