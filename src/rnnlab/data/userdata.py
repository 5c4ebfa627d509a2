"""The user's own sequences from .npz or long-format .csv, validated into a SequenceSet with one-line errors.

.npz layouts (never pickled; object arrays are refused because unpickling can run code):
  equal length:  np.savez(path, X=(N, T, F) array, y=labels)            # y optional when predicting
  padded ragged: np.savez(path, X=(N, T_max, F) zero-padded, lengths=(N,) ints, y=labels)
  list ragged:   np.savez(path, *list_of_(T_i, F)_arrays, y=labels)       # stored as arr_0, arr_1, ...
Optional keys: `ids` (N,) sequence ids, `features` (F,) feature names. Labels are ints or strings.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from rnnlab.data.sequences import SequenceSet, pad
from rnnlab.errors import DataError

# what zipfile/numpy raise for a damaged archive: bad deflate data (zlib.error), a header naming an unknown
# zip version or compression method (NotImplementedError), a member flagged as encrypted (RuntimeError)
_ZIP_ERRORS = (OSError, zipfile.BadZipFile, EOFError, zlib.error, NotImplementedError, RuntimeError)
_RAGGED_FIX = "save ragged data as X padded to (N, T, F) plus lengths (N,), or np.savez(path, *arrays)"


def _check_file(path: str | Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data file {path} not found; check the path")
    return path


def _label_strings(values: np.ndarray, where: str) -> list[str]:
    """Labels as strings: integers (or integral floats) as '3', strings stripped; NaN/blank is an error."""
    values = np.asarray(values)
    if values.dtype.kind in "iub":
        return [str(int(v)) for v in values]
    if values.dtype.kind == "f":
        if not np.isfinite(values).all():
            raise DataError(f"labels in {where} contain NaN/inf; give every sequence a label")
        if not (values == np.round(values)).all():
            raise DataError(f"labels in {where} are non-integer numbers; use integer or string class labels")
        return [str(int(v)) for v in values]
    out = []
    for v in values:
        if v is None or (isinstance(v, float) and np.isnan(v)) or str(v).strip() == "":
            raise DataError(f"labels in {where} contain empty values; give every sequence a label")
        out.append(str(v).strip())
    return out


def _sort_key(label: str) -> tuple:
    return (0, int(label), "") if re.fullmatch(r"-?\d+", label) else (1, 0, label)


def encode_labels(labels: list[str], classes: list[str] | None, where: str) -> tuple[np.ndarray, list[str]]:
    """Class ids for `labels`: classes = sorted unique labels (numeric order for ints) unless given."""
    if classes is None:
        classes = sorted(set(labels), key=_sort_key)
    else:
        classes = [str(c) for c in classes]
        unknown = sorted(set(labels) - set(classes), key=_sort_key)
        if unknown:
            raise DataError(
                f"labels {unknown[:10]} in {where} were not seen in training (known: {classes}); "
                "drop those sequences or retrain with them"
            )
    index = {c: i for i, c in enumerate(classes)}
    return np.array([index[lab] for lab in labels], dtype=np.int64), classes


def _check_finite(
    x: np.ndarray, lengths: np.ndarray, features: list[str], ids: list[str], where: str
) -> None:
    """A DataError naming the feature and sequence of the first NaN/inf inside the valid steps."""
    valid = np.arange(x.shape[1])[None, :] < lengths[:, None]
    bad = ~np.isfinite(x) & valid[:, :, None]
    if bad.any():
        i, t, j = (int(v[0]) for v in np.nonzero(bad))
        raise DataError(
            f"feature {features[j]!r} of sequence {ids[i]!r} in {where} is NaN/inf at step {t}; "
            "fill or drop missing values first"
        )


# --- .npz ------------------------------------------------------------------------------------------


def _npz_get(z: np.lib.npyio.NpzFile, key: str, where: str) -> np.ndarray:
    try:
        return z[key]
    except ValueError as e:
        if "allow_pickle" in str(e):
            raise DataError(
                f"{key!r} in {where} is a pickled object array, which rnnlab refuses to load; {_RAGGED_FIX}"
            ) from None
        raise DataError(f"{key!r} in {where} is unreadable ({e}); save it again with numpy.savez") from e
    except _ZIP_ERRORS as e:
        why = "corrupt compressed data" if isinstance(e, zlib.error) else type(e).__name__
        raise DataError(f"{key!r} in {where} is unreadable ({why}); save it again with numpy.savez") from e


def _npz_sequences(z: np.lib.npyio.NpzFile, where: str) -> tuple[np.ndarray, np.ndarray]:
    """(x padded (N,T,F), lengths) from the X[/lengths] or arr_0..arr_{n-1} layout."""
    keys = set(z.files)
    if "X" in keys:
        x = _npz_get(z, "X", where)
        if x.dtype.kind not in "iufb":
            raise DataError(f"X in {where} has non-numeric dtype {x.dtype}; store features as numbers")
        if x.ndim == 2:
            x = x[:, :, None]
        if x.ndim != 3:
            raise DataError(f"X in {where} has shape {x.shape}; expected (N, T, F) or (N, T); {_RAGGED_FIX}")
        if "lengths" in keys:
            lengths = _npz_get(z, "lengths", where)
            if lengths.shape != (len(x),) or lengths.dtype.kind not in "iu":
                raise DataError(
                    f"lengths in {where} must be ({len(x)},) integers, got {lengths.shape} {lengths.dtype}"
                )
            if (lengths > x.shape[1]).any():
                raise DataError(
                    f"lengths in {where} exceed X's time axis {x.shape[1]}; pad X to the longest sequence"
                )
        else:
            lengths = np.full(len(x), x.shape[1])
        return x, lengths.astype(np.int64)
    arr_keys = sorted((k for k in keys if re.fullmatch(r"arr_\d+", k)), key=lambda k: int(k[4:]))
    if not arr_keys:
        raise DataError(f"{where} has no 'X' array (keys: {sorted(keys)}); save features as X=(N, T, F)")
    seqs = []
    for k in arr_keys:
        a = _npz_get(z, k, where)
        if a.dtype.kind not in "iufb":
            raise DataError(
                f"sequence {k} in {where} has non-numeric dtype {a.dtype}; store features as numbers"
            )
        seqs.append(a[:, None] if a.ndim == 1 else a)
    bad = [(k, s.shape) for k, s in zip(arr_keys, seqs, strict=True) if s.ndim != 2]
    if bad:
        raise DataError(
            f"sequence {bad[0][0]} in {where} has shape {bad[0][1]}; each ragged sequence must be (T_i, F)"
        )
    counts = {s.shape[1] for s in seqs}
    if len(counts) > 1:
        first = {
            c: next(k for k, s in zip(arr_keys, seqs, strict=True) if s.shape[1] == c) for c in sorted(counts)
        }
        raise DataError(
            f"ragged sequences in {where} have inconsistent feature counts {first}; "
            "every (T_i, F) needs the same F"
        )
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    x = np.zeros((len(seqs), max(int(lengths.max()), 1), counts.pop()), dtype=np.float64)
    for i, s in enumerate(seqs):
        x[i, : len(s)] = s
    return x, lengths


def read_npz(path: str | Path, classes: list[str] | None = None, require_labels: bool = True) -> SequenceSet:
    """Sequences from an .npz (layouts in the module docstring), labels encoded against `classes` if given."""
    path = _check_file(path)
    where = path.name
    try:
        z = np.load(path, allow_pickle=False)
    except (ValueError, *_ZIP_ERRORS) as e:
        raise DataError(
            f"{where} is not a readable .npz ({type(e).__name__}); save it with numpy.savez"
        ) from e
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise DataError(
            f"{where} holds a single array, not an .npz archive; save it with numpy.savez(path, X=..., y=...)"
        )
    with z:
        x, lengths = _npz_sequences(z, where)
        n = len(x)
        ids = [str(v) for v in _npz_get(z, "ids", where)] if "ids" in z.files else [str(i) for i in range(n)]
        if len(ids) != n:
            raise DataError(f"{where} has {len(ids)} ids for {n} sequences; give one id per sequence")
        if "features" in z.files:
            features = [str(v) for v in _npz_get(z, "features", where)]
            if len(features) != x.shape[2]:
                raise DataError(
                    f"{where} names {len(features)} features but X has {x.shape[2]}; fix 'features'"
                )
        else:
            features = [f"f{j}" for j in range(x.shape[2])]
        y_raw = _npz_get(z, "y", where) if "y" in z.files else None
    if n == 0:
        raise DataError(f"{where} holds 0 sequences; check the file")
    if (lengths < 1).any():
        raise DataError(
            f"sequence {ids[int(np.flatnonzero(lengths < 1)[0])]!r} in {where} has length 0; drop it"
        )
    x = x.astype(np.float64, copy=False)
    _check_finite(x, lengths, features, ids, where)
    x = np.where(np.arange(x.shape[1])[None, :, None] < lengths[:, None, None], x, 0.0)
    y, classes = _labels(y_raw, n, classes, require_labels, where)
    meta = {"source": str(path), "format": "npz"}
    return SequenceSet(x=x, lengths=lengths, y=y, classes=classes, features=features, ids=ids, meta=meta)


def _labels(
    y_raw: np.ndarray | None, n: int, classes: list[str] | None, require_labels: bool, where: str
) -> tuple[np.ndarray | None, list[str]]:
    if y_raw is None:
        if require_labels:
            raise DataError(
                f"{where} has no labels; add y (one label per sequence), or predict without labels"
            )
        return None, [str(c) for c in classes] if classes is not None else []
    if y_raw.ndim != 1 or len(y_raw) != n:
        raise DataError(f"y in {where} has shape {y_raw.shape}; expected one label per sequence ({n},)")
    return encode_labels(_label_strings(y_raw, where), classes, where)


# --- long-format .csv --------------------------------------------------------------------------------


def read_long_csv(
    path: str | Path,
    id_col: str,
    time_col: str,
    label_col: str | None,
    features: list[str] | None = None,
    classes: list[str] | None = None,
    require_labels: bool = True,
) -> SequenceSet:
    """Sequences from a long CSV (one row per time step), sorted by time within id, one label per sequence."""
    path = _check_file(path)
    where = path.name
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError, ValueError) as e:
        raise DataError(
            f"{where} is not a readable CSV ({type(e).__name__}: {str(e).splitlines()[0][:120]})"
        ) from e
    cols = list(df.columns)
    has_label = label_col is not None and label_col in cols
    needed = [("id", id_col), ("time", time_col)] + ([("label", label_col)] if require_labels else [])
    for role, col in needed:
        if col is None or col not in cols:
            raise DataError(f"{role} column {col!r} is not in {where} (columns: {cols}); pass the right name")
    skip = {id_col, time_col, label_col}
    features = [c for c in cols if c not in skip] if features is None else list(features)
    missing = [c for c in features if c not in cols]
    if missing:
        raise DataError(
            f"feature column {missing[0]!r} is not in {where} (columns: {cols}); pass the right name"
        )
    if not features:
        raise DataError(f"{where} has no feature columns besides id/time/label (columns: {cols})")
    for c in features:
        if not (pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])):
            bad = df[c][pd.to_numeric(df[c], errors="coerce").isna() & df[c].notna()]
            example = repr(bad.iloc[0]) if len(bad) else str(df[c].dtype)
            raise DataError(
                f"feature column {c!r} in {where} is not numeric (e.g. {example}); convert or drop it"
            )
    if df.empty:
        raise DataError(f"{where} has no rows; check the file")
    if df[id_col].isna().any():
        raise DataError(
            f"id column {id_col!r} in {where} has empty values (row {int(df[id_col].isna().argmax()) + 2})"
        )
    if df[time_col].isna().any():
        raise DataError(
            f"time column {time_col!r} in {where} has empty values "
            f"(row {int(df[time_col].isna().argmax()) + 2})"
        )
    codes, uniques = pd.factorize(df[id_col].astype(str))  # sequence order = first appearance in the file
    ids = [str(u) for u in uniques]
    df = df.assign(_code=codes).sort_values(["_code", time_col], kind="stable")
    dup = df.duplicated(["_code", time_col])
    if dup.any():
        r = df[dup].iloc[0]
        raise DataError(
            f"sequence {ids[int(r['_code'])]!r} in {where} repeats time {r[time_col]}; one row per time step"
        )
    values = df[features].to_numpy(np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        row, j = (int(v[0]) for v in np.nonzero(bad))
        sid = ids[int(df["_code"].iloc[row])]
        raise DataError(
            f"feature {features[j]!r} of sequence {sid!r} in {where} is NaN/inf; "
            "fill or drop missing values first"
        )
    counts = np.bincount(df["_code"].to_numpy(), minlength=len(ids))
    seqs = np.split(values, np.cumsum(counts)[:-1])
    y = None
    classes_out = [str(c) for c in classes] if classes is not None else []
    if has_label and (require_labels or df[label_col].notna().any()):
        labels = df[label_col]
        empty = labels.isna().groupby(df["_code"]).any()
        if empty.any():
            sid = ids[int(empty.idxmax())]
            raise DataError(
                f"label column {label_col!r} is empty for sequence {sid!r} in {where}; label every row"
            )
        nunique = labels.groupby(df["_code"]).nunique()
        if (nunique > 1).any():
            code = int(nunique.idxmax())
            vals = pd.unique(labels[df["_code"] == code]).tolist()[:5]
            raise DataError(
                f"label column {label_col!r} changes within sequence {ids[code]!r} in {where} "
                f"(values {vals}); "
                "each sequence needs one label"
            )
        per_seq = labels.groupby(df["_code"]).first().sort_index().to_numpy()
        y, classes_out = encode_labels(_label_strings(per_seq, where), classes, where)
    x, lengths = pad(seqs)
    meta = {
        "source": str(path),
        "format": "long_csv",
        "id_col": id_col,
        "time_col": time_col,
        "label_col": label_col,
    }
    return SequenceSet(x=x, lengths=lengths, y=y, classes=classes_out, features=features, ids=ids, meta=meta)


def read_user_data(path: str | Path, **opts: object) -> SequenceSet:
    """Read the user's .npz or long .csv by suffix; `opts` go to read_npz / read_long_csv."""
    path = _check_file(path)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return read_npz(path, **opts)  # type: ignore[arg-type]
    if suffix == ".csv":
        return read_long_csv(path, **opts)  # type: ignore[arg-type]
    raise DataError(
        f"{path.name} has suffix {suffix!r}; rnnlab reads .npz (X, y[, lengths]) or long-format .csv"
    )
