"""SequenceSet: the one in-memory form every data set takes (padded numpy arrays + lengths + metadata)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rnnlab.errors import DataError


@dataclass
class SequenceSet:
    """Padded sequences and their labels.

    x: (N, T, F) float32, zero past each sequence's length; lengths: (N,) int64 >= 1;
    y: (N,) int64 class ids (many-to-one) or (N, T) int64 per step (-100 = ignore), or None (unlabelled);
    classes: class names, index = class id; features: feature names; groups: (N,) e.g. subject ids.
    """

    x: np.ndarray
    lengths: np.ndarray
    y: np.ndarray | None
    classes: list[str]
    features: list[str]
    groups: np.ndarray | None = None
    ids: list[str] | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.x = np.ascontiguousarray(self.x, dtype=np.float32)
        self.lengths = np.asarray(self.lengths, dtype=np.int64)
        if self.x.ndim != 3:
            raise DataError(
                f"x must be (N, T, F), got shape {self.x.shape}; stack sequences or pad them first"
            )
        n, t, f = self.x.shape
        if n == 0:
            raise DataError("the data set is empty (0 sequences); check the file and filters")
        if self.lengths.shape != (n,):
            raise DataError(f"lengths must be ({n},), got {self.lengths.shape}")
        if (self.lengths < 1).any():
            bad = int(np.flatnonzero(self.lengths < 1)[0])
            raise DataError(f"sequence {self._name(bad)} has length 0; drop empty sequences before training")
        if (self.lengths > t).any():
            raise DataError(f"a length exceeds the padded time axis {t}")
        if not np.isfinite(self.x).all():
            i, s, j = (int(v[0]) for v in np.nonzero(~np.isfinite(self.x)))
            raise DataError(
                f"feature '{self.features[j] if j < len(self.features) else j}' of sequence {self._name(i)} "
                f"at step {s} is NaN/inf; fill or drop missing values first"
            )
        if len(self.features) != f:
            raise DataError(f"{len(self.features)} feature names for {f} features")
        if self.y is not None:
            self.y = np.asarray(self.y, dtype=np.int64)
            if self.y.shape[0] != n:
                raise DataError(f"{self.y.shape[0]} labels for {n} sequences")

    def _name(self, i: int) -> str:
        return repr(self.ids[i]) if self.ids is not None else f"#{i}"

    @property
    def n_features(self) -> int:
        return int(self.x.shape[2])

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def subset(self, index: np.ndarray) -> SequenceSet:
        """The sequences at `index` (a bool mask or int indices), metadata kept."""
        index = np.asarray(index)
        if index.dtype == bool:
            index = np.flatnonzero(index)
        return SequenceSet(
            x=self.x[index],
            lengths=self.lengths[index],
            y=None if self.y is None else self.y[index],
            classes=list(self.classes),
            features=list(self.features),
            groups=None if self.groups is None else self.groups[index],
            ids=None if self.ids is None else [self.ids[i] for i in index],
            meta=dict(self.meta),
        )


def pad(seqs: list[np.ndarray], max_len: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Stack ragged (T_i, F) arrays into a zero-padded (N, T, F) float32 array and (N,) lengths."""
    if not seqs:
        raise DataError("no sequences to pad")
    feats = {s.shape[1] if s.ndim == 2 else -1 for s in seqs}
    if len(feats) != 1 or -1 in feats:
        raise DataError(
            f"sequences have inconsistent feature counts {sorted(feats)}; every (T, F) array needs the same F"
        )
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    t = int(max_len or lengths.max())
    out = np.zeros((len(seqs), t, feats.pop()), dtype=np.float32)
    for i, s in enumerate(seqs):
        out[i, : min(len(s), t)] = s[:t]
    return out, np.minimum(lengths, t)
