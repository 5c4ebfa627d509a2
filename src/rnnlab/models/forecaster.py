"""Many-to-many forecasting from a lookback window: recurrent encoder (optionally behind a CNN front-end, the
CNN-LSTM) and either a direct multi-horizon head or an autoregressive decoder.

forward(x (B, L, F), xf (B, H, Ff) known-future covariates or None, y (B, H) or None) -> forecast (B, H), or
(forecast, MSE loss) given y. Everything is in the scaled units the windows carry.

`normalize` says what the network sees of the target's level, inside forward (so `rnnlab forecast`, serving
and the ONNX graph get it for free): 'level' (the default) predicts the offset from the window's mean target
value, so a level the training data never reached does not have to be extrapolated by a saturating network;
'window' (RevIN-style, Kim et al. 2022) also feeds the encoder the window's target minus its mean divided by
its spread and scales the forecast back, for series whose test range lies outside the training range;
'none' is the plain network.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnlab.errors import ConfigError
from rnnlab.models.config import constructor_config
from rnnlab.models.frontends import ConvFrontEnd
from rnnlab.nn.layers import make_layer

DECODERS = ("direct", "autoregressive")
NORMALIZE = ("level", "window", "none")
HEADS = ("point", "quantile")
LEVELS = tuple(round(0.05 * k, 2) for k in range(1, 20))  # the quantile head's levels: 0.05 .. 0.95
MEDIAN = LEVELS.index(0.5)
EPS = 1e-4  # added to a window's variance (scaled units) so a flat window does not divide by zero


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
        normalize: str = "level",
        head: str = "point",
    ) -> None:
        super().__init__()
        if n_features < 1 or horizon < 1 or n_future < 0 or not 0 <= target_index < n_features:
            raise ConfigError(
                f"Forecaster needs n_features >= 1, horizon >= 1, n_future >= 0 and 0 <= target_index < "
                f"n_features; got {n_features}, {horizon}, {n_future}, {target_index}"
            )
        if highway < 0:
            raise ConfigError(f"highway (number of target lags fed linearly) must be >= 0, got {highway}")
        if normalize not in NORMALIZE:
            raise ConfigError(f"normalize must be one of {NORMALIZE}, got {normalize!r}")
        if decoder not in DECODERS:
            raise ConfigError(f"decoder must be one of {DECODERS}, got {decoder!r}")
        if head not in HEADS:
            raise ConfigError(f"head must be one of {HEADS}, got {head!r}")
        if head == "quantile" and decoder != "direct":
            raise ConfigError("the quantile head needs decoder 'direct'; set model.decoder direct")
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
            # the quantile head: each level's distance from the median, positive and cumulative (no crossing)
            self.quantile_offsets = (
                nn.Linear(hidden + horizon * n_future, horizon * (len(LEVELS) - 1))
                if head == "quantile"
                else None
            )
        else:
            self.dec = make_layer(cell, 1 + n_future, hidden, layers, fast_path=fast_path)
            self.head = nn.Linear(hidden, 1)
        self.highway = nn.Linear(highway, horizon) if highway else None

    def forward(self, x: Tensor, xf: Tensor | None = None, y: Tensor | None = None):
        """The forecast (B, H) (the median for a quantile head), or (forecast, loss) given y: MSE for the point
        head, the mean pinball loss over LEVELS for the quantile head."""
        q = self._forecast(x, xf)
        pred = q[..., MEDIAN] if q.dim() == 3 else q
        if y is None:
            return pred
        if q.dim() == 2:
            return pred, nn.functional.mse_loss(pred, y)
        tau = torch.tensor(LEVELS, dtype=q.dtype, device=q.device)
        d = y.unsqueeze(-1) - q
        return pred, torch.maximum(tau * d, (tau - 1) * d).mean() * 2

    def quantiles(self, x: Tensor, xf: Tensor | None = None) -> Tensor:
        """(B, H, len(LEVELS)) quantile forecasts at LEVELS (scaled units); the quantile head's only."""
        if self.config.get("head", "point") != "quantile":
            raise ConfigError(
                "this Forecaster has a point head; train with model.head quantile for quantiles"
            )
        return self._forecast(x, xf)

    def _forecast(self, x: Tensor, xf: Tensor | None) -> Tensor:
        """(B, H) point forecasts, or (B, H, len(LEVELS)) quantiles for the quantile head."""
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
        loc, sc, x = self._normalize(x)
        shift = loc if sc is None else torch.zeros_like(loc)  # what x's target values are offsets from
        h = self.frontend(x, None) if self.frontend is not None else x
        _, state = self.rnn(h)
        if cfg["decoder"] == "direct":
            z = [self.drop(state[0][-1])]
            if cfg["n_future"]:
                z.append(xf.reshape(x.shape[0], -1))
            zc = torch.cat(z, -1)
            pred = self.head(zc)
        else:
            prev, outs = x[:, -1, cfg["target_index"]].unsqueeze(-1) - shift, []
            for t in range(cfg["horizon"]):
                inp = torch.cat([prev, xf[:, t]], -1) if cfg["n_future"] else prev
                out, state = self.dec.step(inp, state)
                prev = self.head(self.drop(out))
                outs.append(prev)
            pred = torch.cat(outs, -1)
        if self.highway is not None:
            lags = x[:, -cfg["highway"] :, cfg["target_index"]]
            if lags.shape[1] != cfg["highway"]:
                raise ValueError(f"highway needs a lookback of at least {cfg['highway']}, got {x.shape[1]}")
            pred = pred + self.highway(lags - shift)
        if getattr(self, "quantile_offsets", None) is not None:  # levels below and above the median
            d = nn.functional.softplus(self.quantile_offsets(zc)).view(len(x), cfg["horizon"], 2, MEDIAN)
            below, above = torch.cumsum(d[:, :, 0], -1).flip(-1), torch.cumsum(d[:, :, 1], -1)
            m = pred.unsqueeze(-1)
            pred = torch.cat([m - below, m, m + above], -1)
            loc = loc.unsqueeze(-1)
            sc = None if sc is None else sc.unsqueeze(-1)
        return loc + pred if sc is None else loc + sc * pred

    def _normalize(self, x: Tensor) -> tuple[Tensor, Tensor | None, Tensor]:
        """(location (B, 1), spread (B, 1) or None, the input with its target column normalised for 'window')."""
        t = self.config["target_index"]
        mode = self.config.get("normalize", "level")
        if mode == "none":
            return torch.zeros_like(x[:, :1, t]), None, x
        tgt = x[:, :, t]
        loc = tgt.mean(1, keepdim=True)  # (B, 1): forecasts are offsets from it
        if mode == "level":
            return loc, None, x
        sc = torch.sqrt(((tgt - loc) ** 2).mean(1, keepdim=True) + EPS)
        xn = torch.cat([x[:, :, :t], ((tgt - loc) / sc).unsqueeze(-1), x[:, :, t + 1 :]], -1)
        return loc, sc, xn
