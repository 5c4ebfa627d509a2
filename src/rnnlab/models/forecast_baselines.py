"""Honest forecasting baselines on the same windows a model sees: last value, seasonal naive, linear AR.

All work on unscaled targets: `history` (N, lookback) of past target values, forecasts (N, horizon).
"""

from __future__ import annotations

import numpy as np

from rnnlab.errors import DataError


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
