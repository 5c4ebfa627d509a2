"""Multinomial logistic regression, fit full-batch with L-BFGS: the linear baseline every sequence model is
compared against (on flattened windows, bags of words, or a patient's last visit)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from rnnlab.errors import DataError


class LogisticRegression:
    """softmax(x W + b) with an L2 penalty `l2` on W; inputs are standardised with training statistics."""

    def __init__(self, l2: float = 1e-3, max_iter: int = 200) -> None:
        self.l2, self.max_iter = float(l2), int(max_iter)
        self.linear: nn.Linear | None = None
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None

    def _tensor(self, x) -> torch.Tensor:
        """Dense inputs standardised with the training statistics; sparse ones (bags of words) as they are."""
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
