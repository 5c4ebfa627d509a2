"""Non-recurrent baselines scored on the same train/validation/test split as the run's model, so results.json
can put them side by side: `baselines: {name: {accuracy, macro_f1, ...}}`.

Each baseline takes the run's datamodule and returns test metrics; hyper-parameters are chosen on the
validation split only.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from rnnlab.errors import ConfigError
from rnnlab.models.linear import LogisticRegression
from rnnlab.train.metrics import scores
from rnnlab.train.text_baselines import bow_logreg, markov

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
