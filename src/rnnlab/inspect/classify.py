"""What a classifier got wrong and how sure it was: confusion, calibration, low-confidence examples."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnlab.data.sequences import SequenceSet
from rnnlab.metrics.classification import classification_report


@dataclass
class Diagnosis:
    """A classifier's test-set outcome: probabilities, report, calibration and the examples worth a look."""

    probs: np.ndarray  # (N, C)
    y: np.ndarray  # (N,)
    report: dict
    ece: float
    low_confidence: list[int]  # indices, least confident first
    confident_wrong: list[int]  # wrong predictions, most confident first


def expected_calibration_error(conf: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """ECE: the bin-weighted gap between confidence and accuracy over equal-width confidence bins."""
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(conf, edges) - 1, 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            ece += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return float(ece)


def diagnose(probs: np.ndarray, y: np.ndarray, classes: list[str], k: int = 6) -> Diagnosis:
    """Report, ECE and the k lowest-confidence and k most confidently wrong test sequences."""
    pred = probs.argmax(1)
    conf = probs.max(1)
    correct = (pred == y).astype(float)
    wrong = np.flatnonzero(pred != y)
    return Diagnosis(
        probs=probs,
        y=y,
        report=classification_report(y, pred, len(classes), classes),
        ece=expected_calibration_error(conf, correct),
        low_confidence=[int(i) for i in np.argsort(conf)[:k]],
        confident_wrong=[int(i) for i in wrong[np.argsort(-conf[wrong])][:k]],
    )


def examples(s: SequenceSet, d: Diagnosis, indices: list[int], classes: list[str]) -> list[dict]:
    """Plot-ready examples: the raw (unscaled) signal up to its length, ids, labels and confidence."""
    out = []
    for i in indices:
        p = d.probs[i]
        out.append(
            {
                "x": s.x[i, : int(s.lengths[i])],
                "id": s.ids[i] if s.ids else str(i),
                "label": classes[int(d.y[i])],
                "pred": classes[int(p.argmax())],
                "conf": float(p.max()),
            }
        )
    return out
