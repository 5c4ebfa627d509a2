"""UEA/UCR .ts reader: real rows of GunPoint and JapaneseVowels (multivariate, variable length) as fixtures,
the one-line errors for corrupt files, and (slow) the published splits from the sktime wheel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rnnlab.data.uea import load_uea, parse_ts, to_set
from rnnlab.errors import DataError

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "tsc"


def _read(name: str, split: str) -> str:
    return (FIX / f"{name}_{split}.ts").read_text()


def test_univariate_equal_length():
    series, labels, classes = parse_ts(_read("GunPointSmall", "TRAIN"), "GunPointSmall")
    assert classes == ["1", "2"] and len(series) == 12 and labels.count("1") == 6
    assert all(s.shape == (150, 1) and s.dtype == np.float32 for s in series)
    assert series[0][0, 0] == pytest.approx(-0.6478854)


def test_multivariate_variable_length_is_padded_with_lengths():
    series, labels, classes = parse_ts(_read("JapaneseVowelsSmall", "TRAIN"), "jv")
    assert classes == [str(i) for i in range(1, 10)] and len(series) == 18
    assert {s.shape[1] for s in series} == {12} and len({len(s) for s in series}) > 1
    s = to_set(series, labels, classes, "jv", "train", {})
    assert s.x.shape == (18, int(s.lengths.max()), 12) and s.features[0] == "dim_0"
    i = int(np.argmin(s.lengths))
    assert (s.x[i, s.lengths[i] :] == 0).all()
    np.testing.assert_array_equal(s.x[i, : s.lengths[i]], series[i])
    assert s.y.tolist() == [classes.index(lab) for lab in labels]


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda t: t.replace("-0.6478854,", "-0.64x78854,", 1), "line .*bad values"),
        (lambda t: t.replace(":1\n", ":7\n", 1), "label '7' is not among"),
        (lambda t: t.replace("@classLabel true 1 2", "@classLabel false"), "@classLabel must be true"),
        (lambda t: t.split("@data")[0] + "@data\n", "no data rows"),
        (lambda t: t.replace("-0.6478854,", "?,", 1), "missing or non-finite|bad values"),
        (lambda t: t.replace(":1\n", ":0.1,0.2:1\n", 1), "channels"),
    ],
)
def test_corrupt_files_are_one_line_errors(edit, match):
    with pytest.raises(DataError, match=match) as e:
        parse_ts(edit(_read("GunPointSmall", "TRAIN")), "GunPointSmall")
    assert "\n" not in str(e.value)


@pytest.mark.slow
def test_real_published_splits():
    for name, sizes, shape in [
        ("gunpoint", (50, 150), (150, 1)),
        ("italy_power", (67, 1029), (24, 1)),
        ("japanese_vowels", (270, 370), (29, 12)),
    ]:
        train, test = load_uea(name)
        assert (len(train), len(test)) == sizes and test.x.shape[1:] == shape
