"""One forecaster for a whole panel (DeepAR-style, Salinas et al. 2020): trained across every series at once,
on windows divided by their own scale, with embeddings of the series id and its static covariates, and a
likelihood head (Student-t or Gaussian) whose quantiles are the forecast's intervals.

forward(x (B, L, 1 + P), xf (B, H, P), log_scale (B,), sid (B,), static (B, S)) -> (loc, spread, df), each
(B, H), in scaled units. Unlike DeepAR's ancestral sampling, all H steps come out at once (a direct multi-
horizon head, as in MQ-RNN), so a forecast is one pass and its quantiles are exact.

`anchor` is what `loc` is an offset from: 'seasonal' the seasonal-naive forecast read off the lookback (the
same quarter last year for quarterly data; the last value when the lookback is shorter than the season),
'last' the last value, 'none' zero. Anchoring makes "copy last season" the network's starting point.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import stats
from torch import Tensor, nn

from rnnlab.errors import ConfigError
from rnnlab.models.config import constructor_config
from rnnlab.nn.layers import make_layer

LIKELIHOODS = ("studentt", "gaussian")
ANCHORS = ("seasonal", "last", "none")
MIN_SPREAD = 1e-3  # scaled units: keeps the likelihood finite on a flat window
MIN_DF = 2.0  # Student-t degrees of freedom above 2: the variance exists


def seasonal_positions(lookback: int, horizon: int, season: int) -> list[int]:
    """Lookback index of each horizon step's seasonal-naive value: the same phase one season (or more) back."""
    if season < 2 or lookback < season:
        return [lookback - 1] * horizon
    return [lookback + k - season * (k // season + 1) for k in range(horizon)]


class GlobalForecaster(nn.Module):
    """Recurrent encoder over the scaled lookback (+ calendar, id and static embeddings, log scale); an MLP
    head maps its final state and the horizon's calendar to each step's loc, spread and degrees of freedom."""

    def __init__(
        self,
        n_series: int,
        static_sizes: list[int],
        n_calendar: int,
        lookback: int,
        horizon: int,
        season: int = 1,
        cell: str = "lstm",
        hidden: int = 32,
        layers: int = 1,
        dropout: float = 0.0,
        likelihood: str = "studentt",
        anchor: str = "seasonal",
        id_embed: int = 4,
    ) -> None:
        super().__init__()
        if likelihood not in LIKELIHOODS:
            raise ConfigError(f"model.likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
        if anchor not in ANCHORS:
            raise ConfigError(f"model.anchor must be one of {ANCHORS}, got {anchor!r}")
        if n_series < 1 or lookback < 1 or horizon < 1 or any(s < 1 for s in static_sizes):
            raise ConfigError(
                f"GlobalForecaster needs n_series, lookback, horizon and every static size >= 1; got "
                f"{n_series}, {lookback}, {horizon}, {static_sizes}"
            )
        static_sizes = [int(s) for s in static_sizes]
        self.config = constructor_config(GlobalForecaster, locals())
        self.id_embed = nn.Embedding(n_series, id_embed) if id_embed else None
        self.static_embed = nn.ModuleList(nn.Embedding(s, min(4, s)) for s in static_sizes)
        n_emb = id_embed + sum(min(4, s) for s in static_sizes)
        self.rnn = make_layer(
            cell, 1 + n_calendar + n_emb + 1, hidden, layers, dropout=dropout if layers > 1 else 0.0
        )
        self.drop = nn.Dropout(dropout)
        self.head = nn.Sequential(
            nn.Linear(hidden + horizon * n_calendar + n_emb, hidden),
            nn.ReLU(),
            nn.Linear(hidden, 3 * horizon),
        )
        self.register_buffer(
            "positions", torch.tensor(seasonal_positions(lookback, horizon, season)), persistent=False
        )

    def _embeddings(self, sid: Tensor, static: Tensor) -> Tensor:
        parts = [self.id_embed(sid)] if self.id_embed is not None else []
        parts += [emb(static[:, k]) for k, emb in enumerate(self.static_embed)]
        return torch.cat(parts, -1) if parts else sid.new_zeros((len(sid), 0), dtype=torch.float32)

    def forward(self, x: Tensor, xf: Tensor, log_scale: Tensor, sid: Tensor, static: Tensor):
        c = self.config
        if x.dim() != 3 or x.shape[1] != c["lookback"] or x.shape[2] != 1 + c["n_calendar"]:
            raise ValueError(
                f"expected x of shape (batch, {c['lookback']}, {1 + c['n_calendar']}), got {tuple(x.shape)}"
            )
        if (sid < 0).any() or (sid >= c["n_series"]).any():
            raise ValueError(f"series index out of range 0..{c['n_series'] - 1}")
        emb = self._embeddings(sid, static)
        per_series = torch.cat([emb, log_scale.unsqueeze(-1)], -1)
        inp = torch.cat([x, per_series.unsqueeze(1).expand(-1, x.shape[1], -1)], -1)
        _, state = self.rnn(inp)
        z = torch.cat([self.drop(state[0][-1]), xf.reshape(len(x), -1), emb], -1)
        out = self.head(z).view(len(x), 3, c["horizon"])
        loc = out[:, 0] + self.anchor(x[:, :, 0])
        spread = nn.functional.softplus(out[:, 1]) + MIN_SPREAD
        df = nn.functional.softplus(out[:, 2]) + MIN_DF
        return loc, spread, df

    def anchor(self, y: Tensor) -> Tensor:
        """What loc is an offset from, per horizon step (B, H), read off the scaled lookback y (B, L)."""
        mode = self.config["anchor"]
        if mode == "none":
            return y.new_zeros((len(y), self.config["horizon"]))
        if mode == "last":
            return y[:, -1:].expand(-1, self.config["horizon"])
        return y[:, self.positions]

    def distribution(self, loc: Tensor, spread: Tensor, df: Tensor) -> torch.distributions.Distribution:
        if self.config["likelihood"] == "gaussian":
            return torch.distributions.Normal(loc, spread)
        return torch.distributions.StudentT(df, loc, spread)

    def nll(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """Mean negative log-likelihood of the batch's scaled targets, and the forecast's loc (B, H)."""
        loc, spread, df = self(batch["x"], batch["xf"], batch["log_scale"], batch["sid"], batch["static"])
        return -self.distribution(loc, spread, df).log_prob(batch["y"]).mean(), loc

    def quantiles(
        self, loc: Tensor, spread: Tensor, df: Tensor, taus: tuple[float, ...]
    ) -> dict[float, np.ndarray]:
        """{tau: (B, H)} quantiles of the predicted distribution, in scaled units (median = loc)."""
        m, s, d = (t.detach().double().numpy() for t in (loc, spread, df))
        if self.config["likelihood"] == "gaussian":
            return {t: m + s * stats.norm.ppf(t) for t in taus}
        return {t: m + s * stats.t.ppf(t, d) for t in taus}
