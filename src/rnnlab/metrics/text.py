"""Corpus-level chrF and BLEU for sequence-to-sequence outputs, in pure Python (no sacrebleu dependency).

chrF (Popović 2015, "chrF: character n-gram F-score for automatic MT evaluation"): character n-grams of orders
1..6 with whitespace removed, counts clipped per sentence and summed over the corpus; precision and recall are
averaged over the orders, then combined as an F-beta score with beta=2 (recall weighs twice as much). Orders a
corpus cannot have (no n-grams in hypotheses or references) are left out of the average.

BLEU (Papineni et al. 2002): corpus BLEU-4, uniform weights, clipped n-gram precisions summed over the corpus,
brevity penalty exp(1 - r/c) when the hypotheses are shorter than the references. Tokens are words and single
punctuation marks (`\\w+|[^\\w\\s]`), case kept. Smoothing: none, except that an order with zero matches counts
0.1 matches ("floor" smoothing, as sacrebleu's `smooth_method="floor"`), so one empty order does not zero the
score; on a real test corpus no order is empty and the result is plain corpus BLEU.

Both return scores in 0..100 and take one reference per hypothesis.
"""

from __future__ import annotations

import math
import re
from collections import Counter

CHRF_ORDER = 6
CHRF_BETA = 2.0
BLEU_ORDER = 4
BLEU_FLOOR = 0.1
_TOKEN = re.compile(r"\w+|[^\w\s]")


def _check(hyps: list[str], refs: list[str]) -> None:
    if len(hyps) != len(refs):
        raise ValueError(
            f"got {len(hyps)} hypotheses and {len(refs)} references; pass one reference per hypothesis"
        )
    if not hyps:
        raise ValueError("no hypotheses; pass at least one (hypothesis, reference) pair")


def _ngrams(seq: str | list[str], n: int) -> Counter:
    return Counter(tuple(seq[i : i + n]) for i in range(len(seq) - n + 1))


def chrf(hyps: list[str], refs: list[str], order: int = CHRF_ORDER, beta: float = CHRF_BETA) -> float:
    """Corpus chrF (0..100): F-beta of character n-gram precision and recall averaged over orders 1..order."""
    _check(hyps, refs)
    match, n_hyp, n_ref = [0] * order, [0] * order, [0] * order
    for h, r in zip(hyps, refs, strict=True):
        h, r = re.sub(r"\s+", "", h), re.sub(r"\s+", "", r)
        for n in range(1, order + 1):
            hc, rc = _ngrams(h, n), _ngrams(r, n)
            match[n - 1] += sum((hc & rc).values())
            n_hyp[n - 1] += sum(hc.values())
            n_ref[n - 1] += sum(rc.values())
    used = [n for n in range(order) if n_hyp[n] > 0 and n_ref[n] > 0]
    if not used:
        return 100.0 if sum(n_hyp) == sum(n_ref) == 0 else 0.0
    prec = sum(match[n] / n_hyp[n] for n in used) / len(used)
    rec = sum(match[n] / n_ref[n] for n in used) / len(used)
    if prec + rec == 0:
        return 0.0
    b2 = beta * beta
    return 100.0 * (1 + b2) * prec * rec / (b2 * prec + rec)


def bleu_tokens(text: str) -> list[str]:
    """Words and single punctuation marks, the tokens BLEU counts."""
    return _TOKEN.findall(text)


def bleu(hyps: list[str], refs: list[str], order: int = BLEU_ORDER) -> float:
    """Corpus BLEU (0..100) with brevity penalty and floor smoothing of empty orders (see the module docstring)."""
    _check(hyps, refs)
    match, total = [0] * order, [0] * order
    hyp_len = ref_len = 0
    for h, r in zip(hyps, refs, strict=True):
        ht, rt = bleu_tokens(h), bleu_tokens(r)
        hyp_len += len(ht)
        ref_len += len(rt)
        for n in range(1, order + 1):
            hc = _ngrams(ht, n)
            match[n - 1] += sum((hc & _ngrams(rt, n)).values())
            total[n - 1] += sum(hc.values())
    if hyp_len == 0:
        return 0.0
    log_p = 0.0
    for m, t in zip(match, total, strict=True):
        if t == 0:
            return 0.0  # hypotheses too short to have any n-gram of this order
        log_p += math.log((m if m > 0 else BLEU_FLOOR) / t) / order
    bp = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)
    return 100.0 * bp * math.exp(log_p)
