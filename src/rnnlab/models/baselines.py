"""Baselines every sequence model is measured against, on the same windows and splits it sees.

- classifiers with SequenceClassifier's interface: `MLPClassifier` (the flattened window, no notion of order)
  and `CNN1dClassifier` (1-D convolutions over time);
- `LogisticRegression`: the linear model, fit full-batch with L-BFGS (flattened windows, bags of words, or a
  patient's last visit);
- forecasting on unscaled targets: `last_value` (random walk), `seasonal_naive` and `LinearAR`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from rnnlab.errors import ConfigError, DataError
from rnnlab.models.config import constructor_config
from rnnlab.nn.lengths import mask


# --- neural classifiers without recurrence ---------------------------------------------------------------
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


# --- the linear classifier ------------------------------------------------------------------------------
class LogisticRegression:
    """softmax(x W + b) with an L2 penalty `l2` on W; inputs are standardised with training statistics."""

    def __init__(self, l2: float = 1e-3, max_iter: int = 200) -> None:
        self.l2, self.max_iter = float(l2), int(max_iter)
        self.linear: nn.Linear | None = None
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None

    def _tensor(self, x) -> torch.Tensor:
        """Dense inputs standardised with the training statistics; sparse ones (bags of words) as they are."""
        import scipy.sparse as sp  # here, not at the top: the neural models above never need scipy

        if sp.issparse(x):
            coo = x.tocoo()
            idx = torch.as_tensor(np.vstack([coo.row, coo.col]), dtype=torch.long)
            data = torch.as_tensor(coo.data, dtype=torch.float32)
            return torch.sparse_coo_tensor(idx, data, coo.shape, check_invariants=True)
        return torch.as_tensor((np.asarray(x, dtype=np.float64) - self.mean) / self.std, dtype=torch.float32)

    def _logits(self, xt: torch.Tensor) -> torch.Tensor:
        return (
            torch.sparse.mm(xt, self.linear.weight.T) + self.linear.bias if xt.is_sparse else self.linear(xt)
        )

    def fit(self, x, y: np.ndarray, n_classes: int | None = None) -> LogisticRegression:
        """x: (N, F) dense array or scipy sparse matrix; y: (N,) class ids."""
        import scipy.sparse as sp

        if not sp.issparse(x):
            x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] != len(y) or x.shape[0] == 0:
            raise DataError(f"logistic regression needs x (N, F) and y (N,), got {x.shape} and {np.shape(y)}")
        if not np.isfinite(x.data if sp.issparse(x) else x).all():
            raise DataError("logistic regression input contains NaN or inf; fill missing values first")
        k = int(n_classes or int(np.max(y)) + 1)
        if not sp.issparse(x):
            self.mean, std = x.mean(0), x.std(0)
            self.std = np.where(std > 1e-12, std, 1.0)
        xt = self._tensor(x)
        yt = torch.as_tensor(np.asarray(y), dtype=torch.long)
        torch.manual_seed(0)
        self.linear = nn.Linear(x.shape[1], k)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)
        opt = torch.optim.LBFGS(
            self.linear.parameters(), lr=1.0, max_iter=self.max_iter, line_search_fn="strong_wolfe"
        )

        def closure() -> torch.Tensor:
            opt.zero_grad()
            loss = (
                nn.functional.cross_entropy(self.linear(xt), yt) + self.l2 * self.linear.weight.pow(2).sum()
            )
            loss.backward()
            return loss

        opt.step(closure)
        return self

    def predict_proba(self, x) -> np.ndarray:
        if self.linear is None:
            raise DataError("LogisticRegression.predict_proba called before fit")
        with torch.no_grad():
            return torch.softmax(self._logits(self._tensor(x)), -1).numpy()

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.predict_proba(x).argmax(1)


# --- forecasting: `history` (N, lookback) of past target values -> forecasts (N, horizon) ----------------
def last_value(history: np.ndarray, horizon: int) -> np.ndarray:
    """Random walk: every future step equals the last observed value."""
    return np.repeat(history[:, -1:], horizon, axis=1)


def seasonal_naive(history: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """Each future step equals the value one season earlier (repeating the last season as needed)."""
    if season > history.shape[1]:
        raise DataError(
            f"seasonal naive needs a lookback of at least one season ({season}), got {history.shape[1]}"
        )
    last = history[:, -season:]
    reps = -(-horizon // season)
    return np.tile(last, (1, reps))[:, :horizon]


def seasonal_naive_at(series: np.ndarray, origins: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """Seasonal naive read from the whole series (a season may be longer than the lookback): the forecast
    of step k from origin o is series[o + k - season * (1 + k // season)] (clipped at the first row)."""
    k = np.arange(horizon)
    idx = np.asarray(origins)[:, None] + k[None, :] - season * (1 + k[None, :] // season)
    return np.asarray(series)[np.clip(idx, 0, None)]


class LinearAR:
    """Direct linear autoregression: one least-squares map from the lookback (+ intercept) to every horizon step."""

    def __init__(self, ridge: float = 1e-3) -> None:
        self.ridge = ridge
        self.coef: np.ndarray | None = None

    def fit(self, history: np.ndarray, future: np.ndarray) -> LinearAR:
        x = np.hstack([history, np.ones((len(history), 1))])
        a = x.T @ x + self.ridge * np.eye(x.shape[1])
        self.coef = np.linalg.solve(a, x.T @ future)
        return self

    def predict(self, history: np.ndarray) -> np.ndarray:
        if self.coef is None:
            raise DataError("LinearAR.predict called before fit")
        return np.hstack([history, np.ones((len(history), 1))]) @ self.coef


__all__ = [
    "CNN1dClassifier",
    "LinearAR",
    "LogisticRegression",
    "MLPClassifier",
    "last_value",
    "seasonal_naive",
    "seasonal_naive_at",
]
