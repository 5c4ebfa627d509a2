"""chrF and BLEU against values worked out by hand."""

from __future__ import annotations

import math

import pytest

from rnnlab.metrics.text import bleu, bleu_tokens, chrf


def test_identical_is_100():
    hyps = ["Thus twice before, and jump at this dead hour,", "Who's there?"]
    assert chrf(hyps, hyps) == pytest.approx(100.0)
    assert bleu(hyps, hyps) == pytest.approx(100.0)


def test_chrf_small_example():
    # order 1: {a,b} vs {a,c}: P = R = 1/2; order 2: "ab" vs "ac": P = R = 0; orders 3-6 absent -> F = 0.25
    assert chrf(["ab"], ["ac"]) == pytest.approx(25.0)
    assert chrf(["a b"], ["ab"]) == pytest.approx(100.0)  # whitespace is removed
    assert chrf(["xyz"], ["abc"]) == 0.0


def test_chrf_weighs_recall_twice():
    # "ab" vs ref "abcd": order 1 P=1, R=1/2; order 2 P=1, R=1/3; orders 3-6 have no hypothesis n-grams
    p, r = 1.0, (1 / 2 + 1 / 3) / 2
    assert chrf(["ab"], ["abcd"]) == pytest.approx(100 * 5 * p * r / (4 * p + r))


def test_bleu_hand_computed():
    # p1 = 5/6, p2 = 3/5, p3 = 2/4, p4 = 1/3, equal lengths -> BP = 1
    got = bleu(["the cat sat on the mat"], ["the cat sat on a mat"])
    assert got == pytest.approx(100 * (5 / 6 * 3 / 5 * 2 / 4 * 1 / 3) ** 0.25)


def test_bleu_brevity_penalty_and_floor():
    assert bleu(["the cat sat on"], ["the cat sat on the mat"]) == pytest.approx(100 * math.exp(1 - 6 / 4))
    # p4 has no match: floor 0.1 / 1
    assert bleu(["a b c d"], ["a b c e"]) == pytest.approx(100 * (3 / 4 * 2 / 3 * 1 / 2 * 0.1) ** 0.25)
    assert bleu(["a b"], ["a b"]) == 0.0  # no 4-grams at all


def test_bleu_is_corpus_level_and_tokenises_punctuation():
    assert bleu_tokens("Stand, ho! Who's") == ["Stand", ",", "ho", "!", "Who", "'", "s"]
    one = bleu(["the cat sat on the mat", "a b c d e"], ["the cat sat on a mat", "a b c d e"])
    # pooled counts: p1 = 10/11, p2 = 7/9, p3 = 5/7, p4 = 3/5
    assert one == pytest.approx(100 * (10 / 11 * 7 / 9 * 5 / 7 * 3 / 5) ** 0.25)


def test_bad_arguments():
    with pytest.raises(ValueError, match="one reference per hypothesis"):
        chrf(["a"], [])
    with pytest.raises(ValueError, match="at least one"):
        bleu([], [])
