"""Many-to-many forecasting from a lookback window: recurrent encoder (optionally behind a CNN front-end, the
CNN-LSTM) and either a direct multi-horizon head or an autoregressive decoder.

forward(x (B, L, F), xf (B, H, Ff) known-future covariates or None, y (B, H) or None) -> forecast (B, H), or
(forecast, MSE loss) given y. Everything is in the scaled units the windows carry. Both heads predict the
offset from the window's mean target value, so a level the training data never reached (a trend) does not
have to be extrapolated by a saturating network (the mean, unlike the last value, carries little noise).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnlab.errors import ConfigError
from rnnlab.models.config import constructor_config
from rnnlab.models.frontends import ConvFrontEnd
from rnnlab.nn.layers import make_layer

DECODERS = ("direct", "autoregressive")


class Forecaster(nn.Module):
    """Encoder over the window; 'direct' maps its final state (+ future covariates) to all H steps at once,
    'autoregressive' unrolls a decoder cell H steps, feeding back its own previous forecast."""

    def __init__(
        self,
        n_features: int,
        horizon: int,
        n_future: int = 0,
        target_index: int = 0,
        cell: str = "lstm",
        hidden: int = 64,
        layers: int = 2,
        dropout: float = 0.1,
        decoder: str = "direct",
        conv_channels: int = 0,
        conv_layers: int = 2,
        conv_kernel: int = 5,
        fast_path: str = "auto",
        highway: int = 0,
    ) -> None:
        super().__init__()
        if n_features < 1 or horizon < 1 or n_future < 0 or not 0 <= target_index < n_features:
            raise ConfigError(
                f"Forecaster needs n_features >= 1, horizon >= 1, n_future >= 0 and 0 <= target_index < "
                f"n_features; got {n_features}, {horizon}, {n_future}, {target_index}"
            )
        if highway < 0:
            raise ConfigError(f"highway (number of target lags fed linearly) must be >= 0, got {highway}")
        if decoder not in DECODERS:
            raise ConfigError(f"decoder must be one of {DECODERS}, got {decoder!r}")
        self.config = constructor_config(Forecaster, locals())
        self.frontend = (
            ConvFrontEnd(n_features, conv_channels, conv_layers, conv_kernel) if conv_channels else None
        )
        self.rnn = make_layer(
            cell,
            conv_channels or n_features,
            hidden,
            layers,
            dropout=dropout if layers > 1 else 0.0,
            fast_path=fast_path,
        )
        self.drop = nn.Dropout(dropout)
        if decoder == "direct":
            self.head = nn.Sequential(
                nn.Linear(hidden + horizon * n_future, hidden), nn.ReLU(), nn.Linear(hidden, horizon)
            )
        else:
            self.dec = make_layer(cell, 1 + n_future, hidden, layers, fast_path=fast_path)
            self.head = nn.Linear(hidden, 1)
        self.highway = nn.Linear(highway, horizon) if highway else None

    def forward(self, x: Tensor, xf: Tensor | None = None, y: Tensor | None = None):
        cfg = self.config
        if x.dim() != 3 or x.shape[2] != cfg["n_features"]:
            raise ValueError(
                f"expected x of shape (batch, lookback, {cfg['n_features']}), got {tuple(x.shape)}"
            )
        if cfg["n_future"] and (xf is None or tuple(xf.shape[1:]) != (cfg["horizon"], cfg["n_future"])):
            got = None if xf is None else tuple(xf.shape)
            raise ValueError(
                f"expected known-future covariates xf of shape (batch, {cfg['horizon']}, {cfg['n_future']}), got {got}"
            )
        level = x[:, :, cfg["target_index"]].mean(1, keepdim=True)  # (B, 1): forecasts are offsets from it
        h = self.frontend(x, None) if self.frontend is not None else x
        _, state = self.rnn(h)
        if cfg["decoder"] == "direct":
            z = [self.drop(state[0][-1])]
            if cfg["n_future"]:
                z.append(xf.reshape(x.shape[0], -1))
            pred = level + self.head(torch.cat(z, -1))
        else:
            prev, outs = x[:, -1, cfg["target_index"]].unsqueeze(-1), []
            for t in range(cfg["horizon"]):
                inp = torch.cat([prev - level, xf[:, t]], -1) if cfg["n_future"] else prev - level
                out, state = self.dec.step(inp, state)
                prev = level + self.head(self.drop(out))
                outs.append(prev)
            pred = torch.cat(outs, -1)
        if self.highway is not None:
            lags = x[:, -cfg["highway"] :, cfg["target_index"]]
            if lags.shape[1] != cfg["highway"]:
                raise ValueError(f"highway needs a lookback of at least {cfg['highway']}, got {x.shape[1]}")
            pred = pred + self.highway(lags - level)
        if y is None:
            return pred
        return pred, nn.functional.mse_loss(pred, y)
