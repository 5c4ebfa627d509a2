"""Labelled documents for text classification: the TextSet, a fixed stratified split, a user's CSV, and a
token vocabulary (characters or words) that encodes documents into padded id arrays.

Word tokenizer (`level="word"`, see WORD_PATTERN; TOKENIZER names its version in saved vocabularies):
  URLs (http://, https://, www.)          -> "<url>"
  @mentions                               -> "<user>"
  emoticons  :) :-( ;D =P :/ <3  (and D: ): after a space)  kept whole, case kept
  hashtags   #DeflateGate                 -> "#deflategate"
  words      letters/digits/_ with inner apostrophes ("don't", "they're") -> lower-cased
  punctuation: a run of one character is one token ("!", "!!!", "..."); any other symbol alone
Whitespace separates tokens and is dropped. Character level (`level="char"`) keeps every character and its
case, whitespace and newlines included.

Ids: 0 = "<pad>", 1 = "<unk>", then tokens by training frequency (ties in string order). A document that
tokenises to nothing (e.g. only spaces at word level) encodes as a single <unk>, so no sequence is empty.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from rnnlab.errors import DataError

PAD, UNK = 0, 1
SPECIALS = ("<pad>", "<unk>")
LEVELS = ("char", "word")
TOKENIZER = "word-v1"  # bump when WORD_PATTERN changes: saved word vocabularies then refuse to load

_URL = r"(?:https?://|www\.)\S+"
_USER = r"@\w+"
_EMOTICON = (
    r"<3(?!\d)"
    r"|[<>]?[:;=][\-o*']?[)\](\[dDpPoO/\\|3*}{@$](?!\w)"  # :)  :-(  ;D  =P  :/  >:(  not 10:30
    r"|(?<!\S)[)\](\[dDpP][\-o*']?[:;=](?!\S)"  # D:  ):  only standing alone
)
WORD_PATTERN = re.compile(
    rf"(?P<url>{_URL})|(?P<user>{_USER})|(?P<emo>{_EMOTICON})|(?P<word>#?\w+(?:['’]\w+)*)"
    r"|(?P<punct>(?P<p>[^\w\s])(?P=p)*)"
)


@dataclass
class TextSet:
    """N labelled documents. `labels` (N,) int64 index `classes`; `ids` are unique strings; `confidence`
    (N,) float (NaN where unknown) is an optional per-document weight such as annotator agreement."""

    texts: list[str]
    labels: np.ndarray
    classes: list[str]
    ids: list[str]
    confidence: np.ndarray | None = None
    name: str = "text"

    def __post_init__(self) -> None:
        self.labels = np.asarray(self.labels, dtype=np.int64)
        n = len(self.texts)
        if self.labels.shape != (n,) or len(self.ids) != n:
            raise DataError(
                f"{self.name}: {n} texts, labels of shape {self.labels.shape} and {len(self.ids)} ids; "
                "give one label and one id per text"
            )
        if n and (self.labels.min() < 0 or self.labels.max() >= len(self.classes)):
            raise DataError(
                f"{self.name}: labels must lie in 0..{len(self.classes) - 1} (classes {self.classes})"
            )
        if len(set(self.ids)) != n:
            dup = next(i for i, c in Counter(self.ids).items() if c > 1)
            raise DataError(f"{self.name}: id {dup!r} appears more than once; ids must be unique")
        if self.confidence is not None:
            self.confidence = np.asarray(self.confidence, dtype=np.float64)
            if self.confidence.shape != (n,):
                raise DataError(f"{self.name}: confidence has shape {self.confidence.shape}; expected ({n},)")

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, index, name: str | None = None) -> TextSet:
        """The documents at `index` (ints), in that order, with the same classes."""
        index = np.asarray(index, dtype=np.int64).reshape(-1)
        conf = None if self.confidence is None else self.confidence[index]
        return TextSet(
            [self.texts[i] for i in index],
            self.labels[index],
            list(self.classes),
            [self.ids[i] for i in index],
            conf,
            name or self.name,
        )

    def counts(self) -> dict[str, int]:
        """Documents per class, in class order."""
        n = np.bincount(self.labels, minlength=len(self.classes))
        return {c: int(k) for c, k in zip(self.classes, n, strict=True)}

    def describe(self) -> dict:
        """What a run directory records about these documents (data.json)."""
        return {"name": self.name, "n": len(self), "classes": list(self.classes), "counts": self.counts()}


def id_hash(doc_id: str, seed: int = 0) -> int:
    """A machine-independent 64-bit hash of an id (sha256 of "seed:id"; not Python's salted hash())."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{doc_id}".encode()).digest()[:8], "big")


def stratified_split(
    ts: TextSet, fractions: tuple[float, ...] = (0.8, 0.1, 0.1), seed: int = 0
) -> tuple[TextSet, ...]:
    """Split `ts` into len(fractions) parts, stratified by class and fixed by the ids alone.

    Within each class, documents are ordered by id_hash(id, seed) and cut at round(n * cumulative
    fraction), so every machine and every run gets the same parts, a document's part does not depend on
    which other documents are present, and each part keeps the class balance (to one document per class).
    Parts keep the documents' original order and are named `<name>-part<k>`; with three parts they are
    train, val and test. An empty part is a DataError.
    """
    fr = np.asarray(fractions, dtype=np.float64)
    if fr.ndim != 1 or len(fr) < 2 or (fr <= 0).any() or abs(fr.sum() - 1) > 1e-9:
        raise DataError(f"split fractions {tuple(fractions)} must be 2+ positive numbers summing to 1")
    names = ["train", "val", "test"] if len(fr) == 3 else [f"part{k}" for k in range(len(fr))]
    parts: list[list[int]] = [[] for _ in fr]
    cum = np.cumsum(fr)
    cum[-1] = 1.0
    for c in range(len(ts.classes)):
        members = np.flatnonzero(ts.labels == c)
        members = sorted(members, key=lambda i: (id_hash(ts.ids[i], seed), ts.ids[i]))
        cuts = [0, *(int(np.floor(len(members) * x + 0.5)) for x in cum)]
        for k in range(len(fr)):
            parts[k].extend(int(i) for i in members[cuts[k] : cuts[k + 1]])
    for k, p in enumerate(parts):
        if not p:
            raise DataError(
                f"{ts.name}: the {names[k]} part of a {tuple(fractions)} split is empty ({len(ts)} documents); "
                "give more documents or larger fractions"
            )
    return tuple(ts.subset(sorted(p), f"{ts.name}-{names[k]}") for k, p in enumerate(parts))


def dedupe(texts: list[str]) -> list[int]:
    """Indices of the first occurrence of each distinct non-empty text (order kept)."""
    seen: set[str] = set()
    keep = []
    for i, t in enumerate(texts):
        if t and t not in seen:
            seen.add(t)
            keep.append(i)
    return keep


def _label_key(label: str) -> tuple:
    return (0, int(label), "") if re.fullmatch(r"-?\d+", label) else (1, 0, label)


def read_text_csv(
    path: str | Path,
    text_col: str = "text",
    label_col: str = "label",
    *,
    id_col: str | None = None,
    classes: list[str] | None = None,
) -> TextSet:
    """A user's UTF-8 CSV (header row; a BOM is fine) as a TextSet, or a one-line DataError naming the row.

    Labels are strings, stripped; classes are the sorted distinct labels (integers in numeric order) unless
    `classes` is given (e.g. a trained run's), when an unseen label is an error and one class is fine. Ids
    come from `id_col` or are "row<k>": k counts CSV records after the header from 1 (blank lines too), the
    same k the errors name. Texts are kept as written except that surrounding whitespace is stripped; an
    empty text is an error (drop the row), not silently skipped; duplicates are kept (the user's choice).
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"text file {p} not found; check the path")
    raw = p.read_bytes()
    bom = 3 if raw.startswith(b"\xef\xbb\xbf") else 0
    try:
        content = raw[bom:].decode("utf-8")
    except UnicodeDecodeError as e:
        off = e.start + bom
        raise DataError(
            f"{p} is not UTF-8 (byte 0x{raw[off]:02x} at offset {off}); re-save it as UTF-8 "
            "(e.g. `iconv -f latin1 -t utf-8`)"
        ) from None
    reader = csv.reader(io.StringIO(content, newline=""))
    try:
        rows = list(reader)
    except csv.Error as e:
        raise DataError(
            f"{p} is not a readable CSV (line {reader.line_num}: {e}); check for an unclosed quote"
        ) from None
    if not rows or not any(h.strip() for h in rows[0]):
        raise DataError(f"{p} is empty; give a CSV with a header row and one document per row")
    header = [h.strip() for h in rows[0]]
    for role, col in (("text", text_col), ("label", label_col), ("id", id_col)):
        if col is not None and col not in header:
            raise DataError(f"{role} column {col!r} is not in {p} (columns: {header}); pass the right name")
    ti, li = header.index(text_col), header.index(label_col)
    ii = None if id_col is None else header.index(id_col)
    texts, labels, ids = [], [], []
    for k, row in enumerate(rows[1:], start=1):
        if not row:
            continue  # a blank line
        if len(row) != len(header):
            raise DataError(
                f"row {k} of {p} has {len(row)} fields, the header has {len(header)}; quote texts that contain commas"
            )
        text, label = row[ti].strip(), row[li].strip()
        if not text:
            raise DataError(f"row {k} of {p} has an empty text; drop empty documents from the file")
        if not label:
            raise DataError(f"row {k} of {p} has no label in column {label_col!r}; label it or drop the row")
        texts.append(text)
        labels.append(label)
        ids.append(row[ii].strip() if ii is not None else f"row{k}")
    if not texts:
        raise DataError(f"{p} has a header but no documents; add one document per row")
    if classes is None:
        classes = sorted(set(labels), key=_label_key)
        if len(classes) < 2:
            raise DataError(
                f"label column {label_col!r} of {p} has only one class ({classes[0]!r}); "
                "a classifier needs documents of at least two classes"
            )
    else:
        classes = [str(c) for c in classes]
        unknown = sorted(set(labels) - set(classes), key=_label_key)
        if unknown:
            raise DataError(
                f"labels {unknown[:10]} in {p} are not among the classes {classes}; drop those rows or retrain"
            )
    index = {c: i for i, c in enumerate(classes)}
    return TextSet(texts, np.array([index[x] for x in labels], dtype=np.int64), classes, ids, name=p.stem)


def tokenize(text: str, level: str = "word") -> list[str]:
    """The tokens of one document at `level` ("char": every character; "word": see the module docstring)."""
    if level == "char":
        return list(text)
    if level != "word":
        raise DataError(f"token level {level!r} is unknown; choose one of {', '.join(LEVELS)}")
    out = []
    for m in WORD_PATTERN.finditer(text):
        if m.group("url"):
            out.append("<url>")
        elif m.group("user"):
            out.append("<user>")
        elif m.group("word"):
            out.append(m.group(0).lower())
        else:
            out.append(m.group(0))  # emoticon or punctuation run, as written
    return out


@dataclass(frozen=True)
class TokenVocab:
    """Tokens in id order (0 <pad>, 1 <unk>, then by training frequency) at one level ("char" or "word")."""

    tokens: tuple[str, ...]
    level: str = "word"
    min_freq: int = 1
    index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise DataError(f"token level {self.level!r} is unknown; choose one of {', '.join(LEVELS)}")
        if tuple(self.tokens[:2]) != SPECIALS or len(set(self.tokens)) != len(self.tokens):
            raise DataError("token vocabulary is corrupt (no <pad>/<unk> first, or duplicates); rebuild it")
        object.__setattr__(self, "index", {t: i for i, t in enumerate(self.tokens)})

    @classmethod
    def build(
        cls, texts: list[str], level: str = "word", min_freq: int = 1, max_size: int | None = None
    ) -> TokenVocab:
        """The vocabulary of `texts` (pass the TRAINING texts only): tokens seen at least `min_freq` times,
        most frequent first (ties in string order), at most `max_size` ids in all, <pad> and <unk> included."""
        if level not in LEVELS:
            raise DataError(f"token level {level!r} is unknown; choose one of {', '.join(LEVELS)}")
        if int(min_freq) < 1:
            raise DataError(f"min_freq={min_freq} must be at least 1")
        if max_size is not None and int(max_size) < 3:
            raise DataError(f"max_size={max_size} must be at least 3 (<pad>, <unk> and one token)")
        counts = Counter(t for text in texts for t in tokenize(text, level))
        kept = sorted((t for t, c in counts.items() if c >= min_freq), key=lambda t: (-counts[t], t))
        if not kept:
            raise DataError(
                f"no {level} token occurs {min_freq}+ times in {len(texts)} training texts; lower min_freq"
            )
        if max_size is not None:
            kept = kept[: int(max_size) - len(SPECIALS)]
        return cls((*SPECIALS, *kept), level, int(min_freq))

    def __len__(self) -> int:
        return len(self.tokens)

    def tokenize(self, text: str) -> list[str]:
        return tokenize(text, self.level)

    def encode(self, texts: list[str], max_len: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(ids (N, T) int64 padded with 0, lengths (N,) int64); T is the longest length after truncation
        to the first `max_len` tokens. Unknown tokens are 1; an empty document is one <unk> (length 1)."""
        if max_len is not None and int(max_len) < 1:
            raise DataError(f"max_len={max_len} must be at least 1")
        seqs = []
        for text in texts:
            ids = [self.index.get(t, UNK) for t in self.tokenize(text)] or [UNK]
            seqs.append(ids if max_len is None else ids[: int(max_len)])
        lengths = np.array([len(s) for s in seqs], dtype=np.int64)
        out = np.zeros((len(seqs), int(lengths.max()) if len(seqs) else 0), dtype=np.int64)
        for i, s in enumerate(seqs):
            out[i, : len(s)] = s
        return out, lengths

    def decode(self, ids) -> list[str]:
        """Tokens for ids, padding dropped (join with "" at char level, " " at word level)."""
        return [self.tokens[int(i)] for i in ids if int(i) != PAD]

    def to_dict(self) -> dict:
        return {
            "level": self.level,
            "tokenizer": TOKENIZER if self.level == "word" else "char",
            "min_freq": self.min_freq,
            "tokens": list(self.tokens),
        }

    @classmethod
    def from_dict(cls, d: dict) -> TokenVocab:
        level = d.get("level")
        want = TOKENIZER if level == "word" else "char"
        if d.get("tokenizer") != want:
            raise DataError(
                f"vocabulary was made by tokenizer {d.get('tokenizer')!r}, this rnnlab uses {want!r}; retrain the run"
            )
        return cls(tuple(d["tokens"]), level, int(d.get("min_freq", 1)))


def bag_of_tokens(
    ids: np.ndarray, lengths: np.ndarray, vocab_size: int, dense: bool = False
) -> sp.csr_matrix | np.ndarray:
    """Token counts per document, (N, vocab_size) float32 (CSR, or dense when `dense`): the valid steps
    only, so <pad> (column 0) is always 0 and <unk> (column 1) counts unknown tokens."""
    ids, lengths = np.asarray(ids), np.asarray(lengths)
    if ids.ndim != 2 or lengths.shape != (ids.shape[0],):
        raise DataError(f"ids {ids.shape} and lengths {lengths.shape} must be (N, T) and (N,)")
    if (lengths < 0).any() or (lengths > ids.shape[1]).any():
        raise DataError(f"lengths must lie in 0..{ids.shape[1]} (the padded width of ids)")
    valid = np.arange(ids.shape[1])[None, :] < lengths[:, None]
    rows, cols = np.nonzero(valid)
    tok = ids[rows, cols]
    if tok.size and (tok.min() < 0 or tok.max() >= vocab_size):
        raise DataError(f"token ids run outside 0..{vocab_size - 1}; pass the vocabulary that encoded them")
    m = sp.csr_matrix(
        (np.ones(len(tok), dtype=np.float32), (rows, tok)), shape=(ids.shape[0], int(vocab_size))
    )
    m.sum_duplicates()
    return m.toarray() if dense else m
