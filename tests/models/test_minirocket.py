"""MiniRocket-like: the kernels and dilations of the paper, feature count, and accuracy on real GunPoint rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rnnlab.data.uea import parse_ts, to_set
from rnnlab.models.minirocket import MiniRocketLike, _dilations, _kernels

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "tsc"


def test_kernels_and_dilations():
    w = _kernels()
    assert w.shape == (84, 1, 9) and set(w.unique().tolist()) == {-1.0, 2.0}
    assert (w.sum(-1) == 0).all()  # six -1s and three 2s: every kernel sums to zero
    d, counts = _dilations(150, 10_000)
    assert d[0] == 1 and d[-1] == 18 and counts.sum() == 10_000 // 84  # (150 - 1) / 8 = 18.6 -> 18


def test_real_gunpoint_rows_and_variable_lengths():
    train, test = (
        to_set(*parse_ts((FIX / f"GunPointSmall_{s}.ts").read_text()), "GunPoint", s, {})
        for s in ("TRAIN", "TEST")
    )
    m = MiniRocketLike(n_features=1000, seed=0).fit(train.x, train.lengths, train.y)
    assert m.transform(test.x[:2]).shape == (2, 84 * (1000 // 84))
    assert (m.predict(test.x, test.lengths) == test.y).mean() >= 0.8
    jv = to_set(*parse_ts((FIX / "JapaneseVowelsSmall_TRAIN.ts").read_text()), "jv", "train", {})
    f = MiniRocketLike(n_features=500).fit(jv.x, jv.lengths, jv.y).transform(jv.x, jv.lengths)
    assert np.isfinite(f).all() and f.min() >= 0 and f.max() <= 1
