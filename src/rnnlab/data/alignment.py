"""Monotonic 1:1 alignment of two spoken-line sequences of one play (First Folio spelling -> modern spelling):

1. every word gets a coarse key (lower case, u/v and i/j folded, doubled letters collapsed, final e dropped,
   so "heere" ~ "here", "haue" ~ "have") and `difflib.SequenceMatcher` matches the two word streams; its
   matched words vote for which modern line a Folio line corresponds to, and unmatched lines are placed by
   linear interpolation between voted neighbours;
2. each Folio line is scored against the few modern lines around its estimate by the character ratio of the
   normalised lines (lower case, letters only, u/v and i/j folded);
3. a maximum-weight chain, strictly increasing on both sides, keeps 1:1 pairs with ratio >= MIN_RATIO whose
   shared letters reach both ends of both lines (EDGE_SLACK) and whose sides are MIN_CHARS..MAX_CHARS long.

Prose re-wrapped differently in the two editions mostly drops out at step 3. MIN_RATIO = 0.7 and
EDGE_SLACK = 3 were set by reading samples: without the end check, re-wrapped prose passed the ratio with words
missing on one side; with it, only ~0.15% of kept pairs score below 0.8, and those are the same line with an
editor's word changes ("iust" -> "jump", "heauen" -> "God").
"""

from __future__ import annotations

import bisect
import difflib
import re

MIN_RATIO = 0.7
MIN_CHARS, MAX_CHARS = 10, 80
EDGE_SLACK = 3  # unmatched normalised letters allowed before the first / after the last shared run
WINDOW = 3  # modern lines either side of a Folio line's estimated position that are scored


def normalise(line: str) -> str:
    """Lower case, letters only, u/v and i/j folded, long s as s: the form the similarity is measured on."""
    s = line.lower().replace("\u017f", "s").replace("v", "u").replace("j", "i")
    return re.sub(r"[^a-z]", "", s)


def _word_key(word: str) -> str:
    """A coarse spelling key for anchoring: doubled letters collapsed, y -> i, a final e dropped."""
    w = re.sub(r"(.)\1+", r"\1", word.replace("y", "i"))
    return w[:-1] if len(w) > 2 and w.endswith("e") else w


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
