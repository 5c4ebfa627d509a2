"""Classification summaries computed from labels and predictions (numpy): confusion matrix, per-class P/R/F1."""

from __future__ import annotations

import numpy as np

from rnnlab.metrics.ranking import bootstrap_ci


def confusion_matrix(y: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts[i, j] = sequences of true class i predicted as j."""
    m = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(m, (np.asarray(y), np.asarray(pred)), 1)
    return m


def classification_report(y: np.ndarray, pred: np.ndarray, n_classes: int, classes: list[str]) -> dict:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix."""
    m = confusion_matrix(y, pred, n_classes)
    tp = np.diag(m).astype(float)
    precision = np.divide(tp, m.sum(0), out=np.zeros_like(tp), where=m.sum(0) > 0)
    recall = np.divide(tp, m.sum(1), out=np.zeros_like(tp), where=m.sum(1) > 0)
    f1 = np.divide(
        2 * precision * recall, precision + recall, out=np.zeros_like(tp), where=(precision + recall) > 0
    )
    per_class = {
        c: {
            "precision": round(float(precision[i]), 4),
            "recall": round(float(recall[i]), 4),
            "f1": round(float(f1[i]), 4),
            "support": int(m[i].sum()),
        }
        for i, c in enumerate(classes)
    }
    present = m.sum(1) > 0
    return {
        "accuracy": float(tp.sum() / max(1, m.sum())),
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "per_class": per_class,
        "confusion": m.tolist(),
    }


def scores(y: np.ndarray, probs: np.ndarray, n_classes: int, classes: list[str]) -> dict:
    """Accuracy and macro-F1; for two classes also AUROC and AUPRC of p(class 1), each with a 95% bootstrap
    interval over the test sequences (subjects)."""
    rep = classification_report(y, probs.argmax(1), n_classes, classes)
    out = {"accuracy": rep["accuracy"], "macro_f1": rep["macro_f1"]}
    if n_classes == 2 and 0 < y.sum() < len(y):
        for name in ("auroc", "auprc"):
            point, lo, hi = bootstrap_ci(y, probs[:, 1], name)
            out[name], out[f"{name}_ci95"] = point, [lo, hi]
    return out
