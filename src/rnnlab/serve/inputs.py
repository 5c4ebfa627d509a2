"""JSON numbers -> numpy arrays of the shape a model needs, with one-line 422 errors naming the field, the
row and the fix (ragged rows, a wrong feature count, an empty sequence, NaN/inf)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rnnlab.serve.errors import ApiError


def matrix(
    rows: Sequence[Sequence[float]], width: int, field: str, names: Sequence[str] | None = None
) -> np.ndarray:
    """(T, width) float64 from `rows`, each a list of `width` finite numbers; T >= 1."""
    if len(rows) == 0:
        raise ApiError(422, f"'{field}' is empty; send at least one row of {width} numbers")
    for i, row in enumerate(rows):
        if len(row) != width:
            named = f" ({', '.join(names)})" if names and len(names) <= 12 else ""
            raise ApiError(
                422,
                f"'{field}' row {i} has {len(row)} values but this model takes {width}{named}; "
                f"send every row with {width} numbers",
            )
    a = np.asarray(rows, dtype=np.float64).reshape(len(rows), width)
    finite(a, field, names)
    return a


def finite(a: np.ndarray, field: str, names: Sequence[str] | None = None) -> None:
    """422 naming the first NaN/inf entry of `a` (rows x columns)."""
    bad = ~np.isfinite(a)
    if bad.any():
        where = np.argwhere(bad)[0]
        col = int(where[-1]) if a.ndim > 1 else None
        column = (
            f" column {names[col]!r}"
            if names and col is not None and col < len(names)
            else (f" column {col}" if col is not None else "")
        )
        raise ApiError(
            422,
            f"'{field}' row {int(where[0])}{column} is {a[tuple(where)]}; send finite numbers (fill or drop "
            "missing values first)",
        )


def vector(values: Sequence[float], length: int | None, field: str) -> np.ndarray:
    """(length,) float64 of finite numbers (any length >= 1 when `length` is None)."""
    if len(values) == 0 or (length is not None and len(values) != length):
        want = f"{length}" if length is not None else "at least one"
        raise ApiError(422, f"'{field}' has {len(values)} values; send {want}")
    a = np.asarray(values, dtype=np.float64)
    finite(a, field)
    return a


def bounded(value: int, low: int, high: int, field: str) -> int:
    """`value` when low <= value <= high, else a 422 naming the range."""
    if not low <= value <= high:
        raise ApiError(422, f"'{field}' is {value}; send a value from {low} to {high}")
    return value
