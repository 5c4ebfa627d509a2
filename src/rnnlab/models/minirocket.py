"""A compact MiniRocket (Dempster, Schmidt, Webb 2021, "MiniRocket: A Very Fast (Almost) Deterministic Transform
for Time Series Classification") with a ridge classifier, in torch + numpy.

What follows the paper: the 84 kernels of length 9 with weights -1 and 2 (three 2s); dilations 2^x for x evenly
spaced in [0, log2((T - 1) / 8)] (at most 32 per kernel), about 10,000 features shared out over them; biases
from the quantiles (a low-discrepancy sequence) of one random training series' convolution output per
kernel/dilation; padding alternating between kernel/dilation combinations; PPV (proportion of positive values)
features; for several channels, each kernel/dilation sums the convolutions of a random subset of 1-9 channels.
Then a ridge classifier on standardised features with the penalty picked from 10 values in 1e-3..1e3 by exact
leave-one-out error (closed form over the training Gram matrix, as RidgeClassifierCV does).
Simplified, hence "MiniRocket-like": series of different lengths are scored on their own real steps (padding
past a series' length is not convolved into PPV), random choices come from numpy's generator rather than the
reference implementation's, and the intercept comes from centring (the LOO formula ignores its refit).
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import torch

from rnnlab.errors import DataError

KERNEL = 9
ALPHAS = np.logspace(-3, 3, 10)
PHI = (np.sqrt(5) + 1) / 2


def _kernels() -> torch.Tensor:
    """(84, 1, 9) weights: -1 everywhere, 2 at each choice of three positions."""
    w = -torch.ones(84, 1, KERNEL)
    for k, idx in enumerate(combinations(range(KERNEL), 3)):
        w[k, 0, list(idx)] = 2.0
    return w


def _dilations(length: int, n_features: int) -> tuple[np.ndarray, np.ndarray]:
    per_kernel = n_features // 84
    most = min(per_kernel, 32)
    top = np.log2(max(length - 1, 1) / (KERNEL - 1))
    d, counts = np.unique(np.logspace(0, max(top, 0.0), most, base=2).astype(np.int64), return_counts=True)
    counts = (counts * per_kernel / most).astype(np.int64)
    i = 0
    while counts.sum() < per_kernel:
        counts[i % len(counts)] += 1
        i += 1
    return d, counts


class MiniRocketLike:
    """fit(x (N, T, C), lengths, y) then predict(x, lengths) -> class ids."""

    def __init__(self, n_features: int = 10_000, seed: int = 0) -> None:
        if n_features < 84:
            raise DataError(f"MiniRocket needs at least 84 features (one per kernel), got {n_features}")
        self.n_features, self.seed = n_features, seed

    # --- the transform -------------------------------------------------------------------------------------
    def _conv(self, x: torch.Tensor, d: int) -> torch.Tensor:
        """(N, C, T) -> (N, C, 84, T) per-channel convolutions, zero padded to keep the length."""
        n, c, t = x.shape
        out = torch.nn.functional.conv1d(x.reshape(n * c, 1, t), self.weights, padding=4 * d, dilation=d)
        return out.reshape(n, c, 84, t)

    def _combined(self, conv: torch.Tensor, di: int) -> torch.Tensor:
        """(N, C, 84, T) -> (N, 84, T): each kernel's sum over its channel subset at dilation index `di`."""
        return torch.einsum("nckt,kc->nkt", conv, self.channels[di])

    def _valid(self, lengths: torch.Tensor, t: int, d: int, di: int) -> torch.Tensor:
        """(N, 84, T) mask of the positions each kernel scores: real steps, minus the edges when unpadded."""
        pos = torch.arange(t)
        real = pos[None, :] < lengths[:, None]  # (N, T)
        inner = real & (pos[None, :] >= 4 * d) & (pos[None, :] < lengths[:, None] - 4 * d)
        padded = torch.tensor([(di + k) % 2 == 0 for k in range(84)])
        out = torch.where(padded[None, :, None], real[:, None, :], inner[:, None, :])
        return out | ~out.any(-1, keepdim=True) & real[:, None, :]  # too short to leave the edges: all steps

    def _prepare(self, x, lengths) -> tuple[torch.Tensor, torch.Tensor]:
        x = np.asarray(x, dtype=np.float32)
        if x.ndim == 2:
            x = x[..., None]
        lengths = np.full(len(x), x.shape[1]) if lengths is None else np.asarray(lengths)
        return torch.from_numpy(x).transpose(1, 2).contiguous(), torch.as_tensor(lengths, dtype=torch.long)

    def _fit_transform(self, x: torch.Tensor, lengths: torch.Tensor) -> None:
        rng = np.random.default_rng(self.seed)
        n, c, t = x.shape
        self.weights = _kernels()
        self.dilations, self.counts = _dilations(int(lengths.max()), self.n_features)
        self.channels, self.biases = [], []
        q_at = 0
        for di, (d, count) in enumerate(zip(self.dilations, self.counts, strict=True)):
            sel = torch.zeros(84, c)
            for k in range(84):
                most = min(c, KERNEL)
                k_ch = int(2 ** rng.uniform(0, np.log2(most + 1))) if c > 1 else 1
                sel[k, rng.choice(c, size=min(max(k_ch, 1), most), replace=False)] = 1.0
            self.channels.append(sel)
            conv = self._combined(self._conv(x, int(d)), di)  # (N, 84, T)
            who = rng.integers(0, n, size=84)
            qs = ((np.arange(q_at, q_at + 84 * count) + 1) * PHI % 1).reshape(84, count)
            q_at += 84 * count
            b = np.empty((84, count), dtype=np.float32)
            for k in range(84):
                series = conv[who[k], k, : int(lengths[who[k]])].numpy()
                b[k] = np.quantile(series, qs[k])
            self.biases.append(torch.from_numpy(b))

    def transform(self, x, lengths=None) -> np.ndarray:
        """(N, ~n_features) PPV features."""
        xt, lt = self._prepare(x, lengths)
        with torch.no_grad():
            return np.concatenate(
                [self._ppv(xt[s : s + 32], lt[s : s + 32]) for s in range(0, len(xt), 32)]
            ).astype(np.float64)

    def _ppv(self, xt: torch.Tensor, lt: torch.Tensor) -> np.ndarray:
        feats = []
        for di, d in enumerate(self.dilations):
            conv = self._combined(self._conv(xt, int(d)), di)  # (N, 84, T)
            valid = self._valid(lt, xt.shape[2], int(d), di).to(conv.dtype)  # (N, 84, T)
            above = (conv[:, :, None, :] > self.biases[di][None, :, :, None]).to(conv.dtype)  # (N, 84, F, T)
            ppv = (above * valid[:, :, None, :]).sum(-1) / valid.sum(-1, keepdim=True).clamp_min(1)
            feats.append(ppv.reshape(len(xt), -1))
        return torch.cat(feats, 1).numpy()

    # --- the ridge classifier -----------------------------------------------------------------------------
    def fit(self, x, lengths, y) -> MiniRocketLike:
        xt, lt = self._prepare(x, lengths)
        y = np.asarray(y)
        self.classes = np.unique(y)
        if len(self.classes) < 2:
            raise DataError("MiniRocket needs training series of at least two classes")
        with torch.no_grad():
            self._fit_transform(xt, lt)
        f = self.transform(x, lengths)
        self.mean, sd = f.mean(0), f.std(0)
        self.sd = np.where(sd > 1e-12, sd, 1.0)
        z = (f - self.mean) / self.sd
        t = np.where(y[:, None] == self.classes[None, :], 1.0, -1.0)
        self.t_mean = t.mean(0)
        tc = t - self.t_mean
        s, u = np.linalg.eigh(z @ z.T)  # Gram matrix: N x N, cheap for the archive's training sizes
        s = np.clip(s, 0.0, None)
        ut = u.T @ tc
        best = None
        for alpha in ALPHAS:
            g_inv_diag = (u**2 / (s + alpha)).sum(1)  # diag of (K + alpha I)^-1
            dual = u @ (ut / (s + alpha)[:, None])
            loo = dual / g_inv_diag[:, None]  # leave-one-out residuals
            err = float((loo**2).sum())
            if best is None or err < best[0]:
                best = (err, alpha, dual)
        self.alpha = float(best[1])
        self.coef = z.T @ best[2]  # (P, K)
        return self

    def decision_function(self, x, lengths=None) -> np.ndarray:
        z = (self.transform(x, lengths) - self.mean) / self.sd
        return z @ self.coef + self.t_mean

    def predict(self, x, lengths=None) -> np.ndarray:
        return self.classes[self.decision_function(x, lengths).argmax(1)]


__all__ = ["MiniRocketLike"]
