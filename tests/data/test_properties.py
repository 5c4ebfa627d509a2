"""Property-based tests (hypothesis) of the data layer's documented invariants.

Windows (`data.windows`): targets follow their inputs, no window crosses a split boundary unless `straddle`,
the window count, a scaler fit on the training rows only, values copied exactly. Padding (`nn.lengths`,
`nn.recurrent.Recurrent`): masks, last steps, masked means and reversal respect the lengths, and a ragged
batch gives each sequence what it gets alone. Vocabularies (`data.tokens`, `data.pairs.CharVocab`,
`data.captions`): round trips, unknown ids, ids in range, nothing outside the training documents.
Pair batches (`data.pairs.PairDataset.collate`): teacher forcing shift and exact padding.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from rnnlab.data import captions
from rnnlab.data.pairs import BOS, EOS, PAD, UNK, CharVocab, PairDataset
from rnnlab.data.tokens import SPECIALS, TokenVocab, tokenize
from rnnlab.data.windows import Standardiser, chronological_windows, split_points
from rnnlab.errors import DataError
from rnnlab.nn.lengths import check_lengths, last_step, mask, masked_mean, reverse_padded
from rnnlab.nn.recurrent import Recurrent

# no example database: nothing is written into the checkout, and each run draws fresh examples
FAST = settings(max_examples=80, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

# --- windows ----------------------------------------------------------------------------------------------


@st.composite
def window_cases(draw: st.DrawFn) -> dict:
    """A series (row index as the target column, plus random covariates) and window/split settings."""
    n = draw(st.integers(20, 160))
    n_extra = draw(st.integers(0, 2))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    values = np.column_stack([np.arange(n, dtype=np.float64), rng.normal(3.0, 2.0, size=(n, n_extra))])
    names = ["row"] + [f"c{j}" for j in range(n_extra)]
    test_fraction = draw(st.floats(0.05, 0.35))
    val_fraction = draw(st.sampled_from([0.0, 0.05, 0.1, 0.2, 0.3]))
    assume(val_fraction + test_fraction < 0.85)
    return {
        "values": values,
        "names": names,
        "lookback": draw(st.integers(1, 10)),
        "horizon": draw(st.integers(1, 6)),
        "stride": draw(st.integers(1, 4)),
        "val_fraction": val_fraction,
        "test_fraction": test_fraction,
        "straddle": draw(st.booleans()),
        "future": names[1:2] if n_extra and draw(st.booleans()) else [],
    }


def _expected_count(a: int, b: int, lo: int, lookback: int, horizon: int, stride: int) -> int:
    """Windows with forecast span in [a, b), lookback from row `lo` on, origins `stride` apart from the first."""
    first = max(a, lo + lookback)
    last = b - horizon
    return 0 if last < first else (last - first) // stride + 1


@FAST
@given(window_cases())
def test_windows_respect_time_splits_counts_and_values(case: dict) -> None:
    values, names = case["values"], case["names"]
    lookback, horizon, stride = case["lookback"], case["horizon"], case["stride"]
    n = len(values)
    val_start, test_start = split_points(n, case["val_fraction"], case["test_fraction"])
    bounds = {"train": (0, val_start), "val": (val_start, test_start), "test": (test_start, n)}
    kw = {k: case[k] for k in ("val_fraction", "test_fraction", "stride", "straddle", "future")}
    counts = {}
    for part, (a, b) in bounds.items():
        lo = 0 if case["straddle"] and part != "train" else a
        counts[part] = _expected_count(a, b, lo, lookback, horizon, stride) if b > a else None
    if 0 in counts.values():  # a non-empty part too short for one window is an error, not an empty part
        with pytest.raises(DataError, match="too short for lookback"):
            chronological_windows(values, names, "row", lookback, horizon, **kw)
        return
    parts, scaler = chronological_windows(values, names, "row", lookback, horizon, **kw)
    assert set(parts) == {p for p, c in counts.items() if c is not None}
    # the scaler is the training rows' own statistics, whatever the rows after them hold
    ref = Standardiser.fit(values[:val_start])
    np.testing.assert_allclose(scaler.mean, values[:val_start].mean(0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(scaler.std, ref.std, rtol=1e-12)
    later = values.copy()
    later[val_start:] = np.random.default_rng(0).normal(50.0, 9.0, size=later[val_start:].shape)
    _, scaler2 = chronological_windows(later, names, "row", lookback, horizon, **kw)
    np.testing.assert_array_equal(scaler2.mean, scaler.mean)
    np.testing.assert_array_equal(scaler2.std, scaler.std)
    scaled = scaler.transform(values)
    fut = [names.index(c) for c in case["future"]]
    for part, w in parts.items():
        a, b = bounds[part]
        assert len(w) == counts[part]
        assert w.x.shape == (len(w), lookback, len(names)) and w.y.shape == (len(w), horizon)
        in_rows = np.rint(scaler.inverse(w.x[:, :, 0].astype(np.float64), 0)).astype(int)
        out_rows = np.rint(scaler.inverse(w.y.astype(np.float64), 0)).astype(int)
        # inputs are the `lookback` rows just before the origin, targets the `horizon` rows from it
        np.testing.assert_array_equal(in_rows, w.origin[:, None] + np.arange(-lookback, 0))
        np.testing.assert_array_equal(out_rows, w.origin[:, None] + np.arange(horizon))
        assert (in_rows.max(1) < out_rows.min(1)).all()
        assert (np.diff(w.origin) == stride).all()
        # forecasts stay in their own part; inputs too unless straddle lets val/test look back
        assert out_rows.min() >= a and out_rows.max() < b
        lo = 0 if case["straddle"] and part != "train" else a
        assert in_rows.min() >= lo
        if part == "train" or not case["straddle"]:
            assert in_rows.min() >= a
        # every value is the scaled series value at that row, bit for bit (float32)
        for i, o in enumerate(w.origin):
            np.testing.assert_array_equal(w.x[i], scaled[o - lookback : o].astype(np.float32))
            np.testing.assert_array_equal(w.y[i], scaled[o : o + horizon, 0].astype(np.float32))
            np.testing.assert_array_equal(w.xf[i], scaled[o : o + horizon][:, fut].astype(np.float32))


# --- lengths, masks, padding ------------------------------------------------------------------------------


@st.composite
def ragged(draw: st.DrawFn, max_batch: int = 5, max_time: int = 8, max_feat: int = 3) -> tuple:
    """(x (B, T, D) float64 with garbage in the padding, lengths (B,) in 1..T with max == T)."""
    lengths = draw(st.lists(st.integers(1, max_time), min_size=1, max_size=max_batch))
    t, d = max(lengths), draw(st.integers(1, max_feat))
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    x = torch.randn(len(lengths), t, d, generator=gen, dtype=torch.float64)
    return x, torch.tensor(lengths)


@FAST
@given(ragged())
def test_mask_last_step_and_masked_mean_follow_lengths(case: tuple) -> None:
    x, lengths = case
    b, t, _ = x.shape
    assert torch.equal(check_lengths(lengths, b, t), lengths)
    m = mask(lengths, t)
    assert m.shape == (b, t) and m.dtype == torch.bool
    assert torch.equal(m.sum(1), lengths)
    assert not (m[:, 1:] & ~m[:, :-1]).any()  # True steps form a prefix
    last = last_step(x, lengths)
    mean = masked_mean(x, lengths)
    for i, n in enumerate(lengths.tolist()):
        assert torch.equal(last[i], x[i, n - 1])
        torch.testing.assert_close(mean[i], x[i, :n].mean(0), rtol=1e-12, atol=1e-12)
    garbage = torch.where(m[..., None], x, torch.full_like(x, 1e6))  # what lies in the padding is ignored
    assert torch.equal(last_step(garbage, lengths), last)
    torch.testing.assert_close(masked_mean(garbage, lengths), mean, rtol=1e-12, atol=1e-12)
    assert torch.equal(last_step(x, None), x[:, -1]) and mask(None, t) is None


@FAST
@given(ragged(), st.integers(-2, 0) | st.integers(1, 3))
def test_check_lengths_refuses_empty_and_overlong(case: tuple, bad: int) -> None:
    x, lengths = case
    b, t, _ = x.shape
    wrong = lengths.clone()
    wrong[-1] = bad if bad <= 0 else t + bad
    with pytest.raises(ValueError, match="at least 1 step|exceeds the padded time axis") as e:
        check_lengths(wrong, b, t)
    assert "\n" not in str(e.value)


@FAST
@given(ragged())
def test_reverse_padded_is_an_involution_that_keeps_padding_in_place(case: tuple) -> None:
    x, lengths = case
    r = reverse_padded(x, lengths)
    assert torch.equal(reverse_padded(r, lengths), x)
    for i, n in enumerate(lengths.tolist()):
        assert torch.equal(r[i, :n], x[i, :n].flip(0))
        assert torch.equal(r[i, n:], x[i, n:])
    assert torch.equal(reverse_padded(x, None), x.flip(1))


@SLOW
@given(
    ragged(max_batch=4, max_time=6),
    st.sampled_from(["rnn", "gru", "lstm"]),
    st.integers(1, 4),
    st.integers(1, 2),
    st.booleans(),
    st.sampled_from(["off", "auto"]),
)
def test_recurrent_is_padding_invariant(
    case: tuple, cell: str, hidden: int, layers: int, bidirectional: bool, fast_path: str
) -> None:
    """Each sequence of a ragged batch gets the outputs and final state it gets alone; padding outputs are 0."""
    x, lengths = case
    torch.manual_seed(0)
    rnn = Recurrent(cell, x.shape[2], hidden, layers, bidirectional, fast_path=fast_path).double()
    with torch.no_grad():
        out, state = rnn(x, lengths)
        for i, n in enumerate(lengths.tolist()):
            alone, alone_state = rnn(x[i : i + 1, :n])
            torch.testing.assert_close(out[i, :n], alone[0], rtol=1e-10, atol=1e-12)
            assert (out[i, n:] == 0).all()
            for s, s_alone in zip(state, alone_state, strict=True):
                torch.testing.assert_close(s[:, i], s_alone[:, 0], rtol=1e-10, atol=1e-12)


# --- vocabularies and tokenizers ----------------------------------------------------------------------------

# words, punctuation, emoticons, mentions, URLs, hashtags, non-ASCII letters and odd whitespace
WORDISH = st.sampled_from(
    ["the", "The", "don't", "café", "naïve", "#Tag", "@bob", "http://x.io/a", ":)", "D:", "!!", "...", "42"]
)
DOC = st.lists(WORDISH | st.text(min_size=1, max_size=6), min_size=0, max_size=12).map(" ".join)
DOCS = st.lists(DOC, min_size=1, max_size=8)


@FAST
@given(DOCS, st.sampled_from(["word", "char"]), st.integers(1, 3), st.none() | st.integers(3, 12))
def test_token_vocab_holds_only_training_tokens_in_frequency_order(
    docs: list[str], level: str, min_freq: int, max_size: int | None
) -> None:
    counts = Counter(t for d in docs for t in tokenize(d, level))
    assume(any(c >= min_freq for c in counts.values()))
    v = TokenVocab.build(docs, level, min_freq, max_size)
    assert v.tokens[:2] == SPECIALS and len(set(v.tokens)) == len(v.tokens)
    kept = v.tokens[2:]
    assert kept and all(counts[t] >= min_freq for t in kept)  # never a token absent from the documents
    assert max_size is None or len(v) <= max_size
    assert [(-counts[t], t) for t in kept] == sorted((-counts[t], t) for t in kept)
    if max_size is None:  # nothing frequent enough is dropped
        assert set(kept) == {t for t, c in counts.items() if c >= min_freq}
    assert TokenVocab.from_dict(v.to_dict()) == v


@FAST
@given(DOCS, st.sampled_from(["word", "char"]), st.none() | st.integers(3, 10), st.none() | st.integers(1, 9))
def test_token_encode_decode_round_trip_and_unknown_ids(
    docs: list[str], level: str, max_size: int | None, max_len: int | None
) -> None:
    assume(any(tokenize(d, level) for d in docs))
    v = TokenVocab.build(docs, level, 1, max_size)
    ids, lengths = v.encode(docs, max_len=max_len)
    assert ids.dtype == np.int64 and ids.shape == (len(docs), lengths.max())
    assert ids.min() >= 0 and ids.max() < len(v)
    for row, n, doc in zip(ids, lengths, docs, strict=True):
        toks = tokenize(doc, level)[:max_len] or ["<unk>"]
        assert n == len(toks) and 1 <= n and (max_len is None or n <= max_len)
        assert (row[:n] != 0).all() and (row[n:] == 0).all()  # <pad> only past the length
        # known tokens come back as themselves, others as <unk>
        assert v.decode(row) == [t if t in v.index else "<unk>" for t in toks]
    if max_size is None and max_len is None:  # every training token is known: an exact round trip
        for row, doc in zip(ids, docs, strict=True):
            toks = tokenize(doc, level)
            if toks:
                assert v.decode(row) == toks
                if level == "char":
                    assert "".join(v.decode(row)) == doc


@FAST
@given(DOCS, st.text(min_size=1, max_size=20))
def test_unknown_characters_map_to_the_unknown_id(docs: list[str], other: str) -> None:
    assume("".join(docs))
    v = TokenVocab.build(docs, "char")
    (row,), (n,) = v.encode([other])
    known = set("".join(docs))
    assert [int(i) == 1 for i in row[:n]] == [c not in known for c in other]


@FAST
@given(
    st.lists(st.tuples(st.text(max_size=10), st.text(max_size=10)), min_size=1, max_size=6),
    st.text(max_size=15),
)
def test_char_vocab_round_trip_and_unknowns(pairs: list[tuple[str, str]], text: str) -> None:
    v = CharVocab.from_pairs(pairs)
    seen = {c for s, t in pairs for c in s + t}
    assert set(v.itos[4:]) == seen and v.itos[:4] == ("<pad>", "<bos>", "<eos>", "<unk>")
    assert CharVocab.from_dict(v.to_dict()) == v
    for s, t in pairs:  # text made of known characters comes back exactly
        for side in (s, t):
            ids = v.encode(side, bos=True, eos=True)
            assert ids[0] == BOS and ids[-1] == EOS and all(4 <= i < len(v) for i in ids[1:-1])
            assert v.decode(ids) == side
    ids = v.encode(text, eos=False)
    assert all(0 <= i < len(v) for i in ids)
    assert [i == UNK for i in ids] == [c not in seen for c in text]
    assert v.decode(ids) == "".join(c if c in seen else "?" for c in text)


@FAST
@given(
    st.lists(st.sampled_from(captions.CAPTION_WORDS), max_size=6),
    st.lists(st.sampled_from(captions.CAPTION_WORDS), max_size=6),
    st.booleans(),
)
def test_caption_encode_decode_round_trip(words: list[str], more: list[str], bos: bool) -> None:
    ids = captions.encode(words, bos=bos, eos=True)
    assert ids.dtype == np.int64 and ((ids >= 0) & (ids < len(captions.VOCAB))).all()
    assert len(ids) == len(words) + bos + 1
    assert captions.decode(ids) == words
    assert captions.decode(torch.as_tensor(ids)) == words
    assert captions.encode(" ".join(words)).tolist() == captions.encode(words).tolist()
    # decoding stops at the first <eos>; padding after it is ignored
    tail = np.concatenate([ids, captions.encode(more), np.zeros(3, dtype=np.int64)])
    assert captions.decode(tail) == words


@FAST
@given(
    st.lists(st.sampled_from(captions.CAPTION_WORDS), max_size=4),
    st.text(min_size=1, max_size=8).filter(lambda w: w not in captions.CAPTION_WORDS),
    st.integers(len(captions.VOCAB), 10**6) | st.integers(-(10**6), -1),
)
def test_caption_unknown_word_or_id_is_a_one_line_error(words: list[str], word: str, bad_id: int) -> None:
    with pytest.raises(DataError, match="unknown caption word") as e:
        captions.encode([*words, word])
    assert "\n" not in str(e.value)
    with pytest.raises(DataError, match="unknown caption token id") as e:
        captions.decode([*captions.encode(words).tolist(), bad_id])
    assert "\n" not in str(e.value)


# --- text-pair batches --------------------------------------------------------------------------------------


@FAST
@given(
    st.lists(
        st.tuples(st.text(min_size=1, max_size=9), st.text(min_size=1, max_size=9)), min_size=1, max_size=6
    ),
    st.data(),
)
def test_pair_collate_shifts_targets_and_pads_exactly_past_the_lengths(
    pairs: list[tuple[str, str]], data: st.DataObject
) -> None:
    vocab = CharVocab.from_pairs(
        pairs[: data.draw(st.integers(1, len(pairs)))]
    )  # later pairs may hold unknowns
    ds = PairDataset(pairs, vocab)
    idx = data.draw(st.lists(st.integers(0, len(pairs) - 1), min_size=1, max_size=5))
    b = ds.collate(idx)
    assert b["index"].tolist() == idx
    assert b["src"].shape == (len(idx), int(b["src_lengths"].max()))
    assert b["tgt_in"].shape == b["tgt_out"].shape == (len(idx), int(b["tgt_lengths"].max()))
    for k, i in enumerate(idx):
        src, tgt = pairs[i]
        s, t = int(b["src_lengths"][k]), int(b["tgt_lengths"][k])
        assert s == len(src) + 1 and t == len(tgt) + 1
        tin, tout, srow = b["tgt_in"][k], b["tgt_out"][k], b["src"][k]
        assert tin[0] == BOS and torch.equal(tin[1:t], tout[: t - 1])  # BOS + target, shifted by one
        assert tout[t - 1] == EOS and srow[s - 1] == EOS
        assert (tin[t:] == PAD).all() and (tout[t:] == PAD).all() and (srow[s:] == PAD).all()
        assert (tin[:t] != PAD).all() and (tout[:t] != PAD).all() and (srow[:s] != PAD).all()
        assert tout[:t].tolist() == vocab.encode(tgt) and srow[:s].tolist() == vocab.encode(src)
        assert vocab.decode(tout.tolist()) == vocab.decode(vocab.encode(tgt))
