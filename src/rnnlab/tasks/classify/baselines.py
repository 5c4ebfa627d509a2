"""Non-recurrent baselines scored on the same train/validation/test split as the run's model, so results.json
can put them side by side: `baselines: {name: {accuracy, macro_f1, ...}}`.

Each baseline takes the run's datamodule and returns test metrics; hyper-parameters are chosen on the
validation split only. Sequences: logistic regression on the flattened window or on the last valid step.
Texts (the lectures' comparisons for recurrent models, on the run's own split and vocabulary): a
bag-of-tokens logistic regression (word or character level) and a first-order Markov chain per class (a
bigram language model for each label; classify by the largest log-likelihood plus log prior).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from rnnlab.data.tokens import bag_of_tokens
from rnnlab.errors import ConfigError
from rnnlab.metrics.classification import scores
from rnnlab.models.baselines import LogisticRegression

L2_GRID = (1e-3, 1e-2, 1e-1)


def flat(s, max_len: int) -> np.ndarray:
    """Each sequence flattened to one vector (zero-padded to `max_len` steps): the MLP's view, made linear."""
    x = np.zeros((len(s), max_len, s.x.shape[2]), dtype=np.float32)
    t = min(max_len, s.x.shape[1])
    x[:, :t] = s.x[:, :t]
    return x.reshape(len(s), -1)


def fit_logreg(features: Callable, dm, n_classes: int) -> tuple[LogisticRegression, float]:
    """Logistic regression on features(split) with L2 chosen on validation; (model, chosen l2)."""
    xtr, ytr = features("train")
    xva, yva = features("val")
    best = None
    for l2 in L2_GRID:  # chosen by validation log-loss (accuracy is too coarse on small sets)
        m = LogisticRegression(l2).fit(xtr, ytr, n_classes)
        p = m.predict_proba(xva)[np.arange(len(yva)), yva]
        loss = float(-np.log(np.clip(p, 1e-12, 1)).mean())
        if best is None or loss < best[0]:
            best = (loss, m, l2)
    return best[1], best[2]


def _test_split(dm) -> str:
    return "test" if "test" in dm.sets else "val"


def logreg(dm) -> dict:
    """Multinomial logistic regression on the flattened (scaled) window."""

    def features(split):
        s = dm.sets[split]
        return flat(s, dm.max_len), s.y

    m, l2 = fit_logreg(features, dm, dm.n_classes)
    x, y = features(_test_split(dm))
    return {**scores(y, m.predict_proba(x), dm.n_classes, dm.classes), "l2": l2}


def last_step_logreg(dm) -> dict:
    """Logistic regression on each sequence's last valid step only (for visits: the latest visit)."""

    def features(split):
        s = dm.sets[split]
        return s.x[np.arange(len(s)), np.asarray(s.lengths) - 1], s.y

    m, l2 = fit_logreg(features, dm, dm.n_classes)
    x, y = features(_test_split(dm))
    return {**scores(y, m.predict_proba(x), dm.n_classes, dm.classes), "l2": l2}


SMOOTHING = (0.01, 0.1, 1.0)
TEXT_L2_GRID = (1e-4, 1e-3, 1e-2)


def _ids(dm, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not hasattr(dm, "vocab"):
        raise ConfigError("bow_logreg and markov baselines need text data (data.name tweets, reviews, ...)")
    s = dm.sets[split]
    return s.x[:, :, 0].astype(np.int64), np.asarray(s.lengths), s.y


def bow_logreg(dm) -> dict:
    """Logistic regression on log(1 + count) of every vocabulary token in the document."""

    def features(split):
        ids, lengths, y = _ids(dm, split)
        bag = bag_of_tokens(ids, lengths, dm.vocab_size)
        return sp.csr_matrix(bag).log1p(), y

    (xtr, ytr), (xva, yva) = features("train"), features("val")
    best = None
    for l2 in TEXT_L2_GRID:
        m = LogisticRegression(l2).fit(xtr, ytr, dm.n_classes)
        p = m.predict_proba(xva)[np.arange(len(yva)), yva]
        loss = float(-np.log(np.clip(p, 1e-12, 1)).mean())
        if best is None or loss < best[0]:
            best = (loss, m, l2)
    x, y = features(_test_split(dm))
    return {**scores(y, best[1].predict_proba(x), dm.n_classes, dm.classes), "l2": best[2]}


class MarkovClassifier:
    """One first-order Markov chain over token ids per class, add-k smoothed: log P(doc | class)."""

    def __init__(self, vocab_size: int, k: float) -> None:
        self.v, self.k = int(vocab_size), float(k)

    def _pairs(self, ids: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(doc index, prev * V + token) for every step; the first token follows id 0 (<pad> as start)."""
        prev = np.concatenate([np.zeros((len(ids), 1), np.int64), ids[:, :-1]], 1)
        valid = np.arange(ids.shape[1])[None, :] < lengths[:, None]
        doc = np.broadcast_to(np.arange(len(ids))[:, None], ids.shape)[valid]
        return doc, (prev * self.v + ids)[valid]

    def fit(self, ids: np.ndarray, lengths: np.ndarray, y: np.ndarray, n_classes: int) -> MarkovClassifier:
        doc, code = self._pairs(ids, lengths)
        self.tables = []
        for c in range(n_classes):
            keys, counts = np.unique(code[y[doc] == c], return_counts=True)
            rows = np.bincount(keys // self.v, weights=counts, minlength=self.v)
            self.tables.append((keys, counts.astype(np.float64), rows))
        self.log_prior = np.log(np.bincount(y, minlength=n_classes) / len(y))
        return self

    def log_likelihood(self, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        doc, code = self._pairs(ids, lengths)
        out = np.zeros((len(ids), len(self.tables)))
        for c, (keys, counts, rows) in enumerate(self.tables):
            pos = np.clip(np.searchsorted(keys, code), 0, max(len(keys) - 1, 0))
            n = np.where(keys[pos] == code, counts[pos], 0.0) if len(keys) else np.zeros(len(code))
            logp = np.log((n + self.k) / (rows[code // self.v] + self.k * self.v))
            out[:, c] = np.bincount(doc, weights=logp, minlength=len(ids)) + self.log_prior[c]
        return out

    def predict_proba(self, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        ll = self.log_likelihood(ids, lengths)
        p = np.exp(ll - ll.max(1, keepdims=True))
        return p / p.sum(1, keepdims=True)


def markov(dm) -> dict:
    """First-order Markov chain per class over the run's tokens (a bigram 'n-gram' classifier)."""
    tr, va = _ids(dm, "train"), _ids(dm, "val")
    best = None
    for k in SMOOTHING:
        m = MarkovClassifier(dm.vocab_size, k).fit(*tr, dm.n_classes)
        acc = float((m.predict_proba(va[0], va[1]).argmax(1) == va[2]).mean())
        if best is None or acc > best[0]:
            best = (acc, m, k)
    ids, lengths, y = _ids(dm, _test_split(dm))
    return {**scores(y, best[1].predict_proba(ids, lengths), dm.n_classes, dm.classes), "smoothing": best[2]}


BASELINES: dict[str, Callable] = {
    "logreg": logreg,
    "last_step_logreg": last_step_logreg,
    "bow_logreg": bow_logreg,
    "markov": markov,
}


def run_baselines(names: list[str] | None, dm) -> dict:
    """{name: test metrics + seconds} for every named baseline."""
    out = {}
    for name in names or []:
        if name not in BASELINES:
            raise ConfigError(
                f"unknown baseline {name!r} in train.baselines; choose from {sorted(BASELINES)}"
            )
        t0 = time.perf_counter()
        out[name] = {**BASELINES[name](dm), "seconds": round(time.perf_counter() - t0, 2)}
    return out
