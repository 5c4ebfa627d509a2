"""TextSet, the fixed stratified split, a user's text CSV, the tokenizers, TokenVocab and bag_of_tokens."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rnnlab.data.tokens import (
    PAD,
    UNK,
    TextSet,
    TokenVocab,
    bag_of_tokens,
    dedupe,
    id_hash,
    read_text_csv,
    stratified_split,
    tokenize,
)
from rnnlab.errors import DataError


def _one_line(e: pytest.ExceptionInfo) -> str:
    msg = str(e.value)
    assert "\n" not in msg and msg.strip() == msg
    return msg


def _set(n_per_class=(50, 30, 20), prefix="d") -> TextSet:
    labels = np.concatenate([np.full(n, c) for c, n in enumerate(n_per_class)])
    ids = [f"{prefix}{i}" for i in range(len(labels))]
    return TextSet([f"text {i}" for i in ids], labels, ["a", "b", "c"], ids, name="toy")


# --- TextSet --------------------------------------------------------------------------------------------


def test_textset_subset_counts_describe():
    ts = TextSet(["x", "y", "z"], [0, 1, 1], ["neg", "pos"], ["i0", "i1", "i2"], np.array([1.0, np.nan, 0.5]))
    assert ts.labels.dtype == np.int64 and len(ts) == 3 and ts.counts() == {"neg": 1, "pos": 2}
    sub = ts.subset([2, 0], name="s")
    assert sub.texts == ["z", "x"] and sub.ids == ["i2", "i0"] and sub.labels.tolist() == [1, 0]
    np.testing.assert_array_equal(sub.confidence, [0.5, 1.0])
    assert sub.describe() == {"name": "s", "n": 2, "classes": ["neg", "pos"], "counts": {"neg": 1, "pos": 1}}
    assert json.dumps(ts.describe())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"labels": [0, 1]}, "3 texts, labels of shape"),
        ({"ids": ["a", "b"]}, "and 2 ids"),
        ({"labels": [0, 1, 2]}, r"labels must lie in 0..1"),
        ({"ids": ["a", "b", "a"]}, "id 'a' appears more than once"),
        ({"confidence": [1.0]}, r"confidence has shape \(1,\)"),
    ],
)
def test_textset_validates(kwargs, match):
    args = {"texts": ["x", "y", "z"], "labels": [0, 1, 1], "classes": ["n", "p"], "ids": ["a", "b", "c"]}
    with pytest.raises(DataError, match=match) as e:
        TextSet(**{**args, **kwargs})
    _one_line(e)


def test_dedupe_keeps_first_and_drops_empty():
    assert dedupe(["a", "b", "a", "", "c", "b"]) == [0, 1, 4]


# --- the fixed split ------------------------------------------------------------------------------------


def test_id_hash_is_sha256_based_and_machine_independent():
    # pinned values: the first 8 bytes of sha256("seed:id"); Python's salted hash() would change per process
    assert id_hash("row1") == 0xE240F6774A177CE6
    assert id_hash("abc", seed=3) == 0xAAB5F9AE99B2E38F


def test_stratified_split_is_disjoint_complete_and_stratified():
    ts = _set()
    train, val, test = stratified_split(ts, (0.8, 0.1, 0.1))
    ids = [set(p.ids) for p in (train, val, test)]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    assert ids[0] | ids[1] | ids[2] == set(ts.ids)
    assert train.counts() == {"a": 40, "b": 24, "c": 16}
    assert val.counts() == {"a": 5, "b": 3, "c": 2} and test.counts() == {"a": 5, "b": 3, "c": 2}
    assert (train.name, val.name, test.name) == ("toy-train", "toy-val", "toy-test")
    assert train.ids == sorted(train.ids, key=ts.ids.index)  # original order kept
    for p in (train, val, test):  # texts, labels and ids stay aligned
        assert all(t == f"text {i}" for t, i in zip(p.texts, p.ids, strict=True))
        assert all(ts.labels[ts.ids.index(i)] == y for i, y in zip(p.ids, p.labels, strict=True))


def test_split_depends_only_on_ids_and_seed():
    ts = _set()
    parts = [set(p.ids) for p in stratified_split(ts)]
    again = [set(p.ids) for p in stratified_split(ts)]
    shuffled = ts.subset(np.random.default_rng(5).permutation(len(ts)))
    reordered = [set(p.ids) for p in stratified_split(shuffled)]
    assert parts == again == reordered
    other_seed = [set(p.ids) for p in stratified_split(ts, seed=1)]
    assert other_seed[2] != parts[2]
    # a document's part is fixed by its hash rank among its class: dropping one doc moves few others
    smaller = [set(p.ids) for p in stratified_split(ts.subset(range(1, len(ts))))]
    moved = sum(len(smaller[k] - parts[k]) for k in range(3))
    assert moved <= 3


@pytest.mark.parametrize(
    ("fractions", "match"),
    [
        ((0.8, 0.3), "must be 2\\+ positive numbers summing to 1"),
        ((1.0,), "must be 2\\+ positive"),
        ((0.9, 0.1, 0.0), "positive"),
    ],
)
def test_split_fractions_are_checked(fractions, match):
    with pytest.raises(DataError, match=match) as e:
        stratified_split(_set(), fractions)
    _one_line(e)


def test_split_with_an_empty_part_is_an_error():
    with pytest.raises(
        DataError, match=r"the val part of a \(0.8, 0.1, 0.1\) split is empty \(4 documents\)"
    ) as e:
        stratified_split(_set((2, 2, 0)))
    _one_line(e)
    a, b = stratified_split(_set((3, 3, 0)), (0.5, 0.5))
    assert (a.name, len(a), len(b)) == ("toy-part0", 4, 2)  # round(1.5) -> 2 per class


# --- a user's CSV ---------------------------------------------------------------------------------------


def _csv(tmp_path, content: str | bytes, name="docs.csv"):
    p = tmp_path / name
    p.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return p


def test_read_text_csv_happy_path(tmp_path):
    p = _csv(
        tmp_path,
        '\ufeffid,label,text\r\nq1,pos,"good, very good"\r\nq2,neg,"bad\nworse"\r\n\r\nq3,pos,  fine  \r\n',
    )
    ts = read_text_csv(p, "text", "label", id_col="id")
    assert ts.texts == ["good, very good", "bad\nworse", "fine"] and ts.ids == ["q1", "q2", "q3"]
    assert ts.classes == ["neg", "pos"] and ts.labels.tolist() == [1, 0, 1] and ts.name == "docs"
    ts = read_text_csv(p, "text", "label", classes=["pos", "neg", "other"])
    assert ts.labels.tolist() == [0, 1, 0] and ts.ids == ["row1", "row2", "row4"]
    q = _csv(tmp_path, "text,label\na,10\nb,2\nc,-1\n", "num.csv")
    assert read_text_csv(q).classes == ["-1", "2", "10"]  # integers in numeric order


@pytest.mark.parametrize(
    ("content", "kwargs", "match"),
    [
        (b"text,label\nok,a\ncaf\xe9,b\n", {}, r"not UTF-8 \(byte 0xe9 at offset 19\).*iconv"),
        (b"\xef\xbb\xbftext,label\n\xff,a\n", {}, r"byte 0xff at offset 14"),
        ("text,label\nok,a\n   ,b\nfine,b\n", {}, r"row 2 of .* has an empty text; drop empty documents"),
        ("text,label\nok,a\n,b\n", {}, "row 2 .* empty text"),
        ("text,label\nok,a\nfine,a\n", {}, r"label column 'label' of .* has only one class \('a'\)"),
        ("body,label\nok,a\n", {}, r"text column 'text' is not in .* \(columns: \['body', 'label'\]\)"),
        ("text,y\nok,a\n", {}, r"label column 'label' is not in .*\['text', 'y'\]"),
        ("text,label\nok,a\n", {"id_col": "key"}, "id column 'key' is not in"),
        (
            "text,label\nok,a\nfine, \n",
            {},
            r"row 2 of .* has no label in column 'label'; label it or drop the row",
        ),
        ("text,label\nok,a\nfine\n", {}, "row 2 of .* has 1 fields, the header has 2; quote texts"),
        (
            "text,label\nok,a\nx,c\n",
            {"classes": ["a", "b"]},
            r"labels \['c'\] in .* are not among the classes",
        ),
        ("", {}, "is empty; give a CSV with a header row"),
        ("text,label\n", {}, "has a header but no documents"),
        ("id,text,label\na,x,p\na,y,q\n", {"id_col": "id"}, "id 'a' appears more than once"),
    ],
)
def test_read_text_csv_errors_are_one_line(tmp_path, content, kwargs, match):
    with pytest.raises(DataError, match=match) as e:
        read_text_csv(_csv(tmp_path, content), **kwargs)
    _one_line(e)


def test_read_text_csv_missing_file(tmp_path):
    with pytest.raises(DataError, match="not found; check the path") as e:
        read_text_csv(tmp_path / "nope.csv")
    _one_line(e)


# --- tokenizers -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("@AmericanAir thanks :) great!!!", ["<user>", "thanks", ":)", "great", "!!!"]),
        ("see http://t.co/x1 and www.a.com/b.", ["see", "<url>", "and", "<url>"]),
        ("I DON'T like it :-( #DeflateGate", ["i", "don't", "like", "it", ":-(", "#deflategate"]),
        ("lol :D :P ;) =/ <3 D: ok", ["lol", ":D", ":P", ";)", "=/", "<3", "D:", "ok"]),
        (
            "meet at 10:30 (see above): fine",
            ["meet", "at", "10", ":", "30", "(", "see", "above", ")", ":", "fine"],
        ),
        ("wait... what?!", ["wait", "...", "what", "?", "!"]),
        ("great:)", ["great", ":)"]),
        ("doesn’t", ["doesn’t"]),
        ("  \n ", []),
    ],
)
def test_word_tokenizer(text, tokens):
    assert tokenize(text, "word") == tokens


def test_char_tokenizer_keeps_case_and_whitespace():
    assert tokenize("Hi !\n", "char") == ["H", "i", " ", "!", "\n"]
    with pytest.raises(DataError, match="token level 'byte' is unknown; choose one of char, word"):
        tokenize("x", "byte")


# --- TokenVocab -----------------------------------------------------------------------------------------


TRAIN = ["the cat sat", "the dog sat", "a cat"]


def test_vocab_order_min_freq_and_max_size():
    v = TokenVocab.build(TRAIN, "word")
    # counts: the 2, cat 2, sat 2, a 1, dog 1 -> frequency, then string order
    assert v.tokens == ("<pad>", "<unk>", "cat", "sat", "the", "a", "dog") and len(v) == 7
    assert TokenVocab.build(TRAIN, "word", min_freq=2).tokens == ("<pad>", "<unk>", "cat", "sat", "the")
    assert TokenVocab.build(TRAIN, "word", max_size=4).tokens == ("<pad>", "<unk>", "cat", "sat")
    c = TokenVocab.build(["aAb"], "char")
    assert c.tokens == ("<pad>", "<unk>", "A", "a", "b") and c.index["A"] == 2


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"level": "bpe"}, "token level 'bpe' is unknown"),
        ({"min_freq": 0}, "min_freq=0 must be at least 1"),
        ({"max_size": 2}, "max_size=2 must be at least 3"),
        ({"min_freq": 5}, "no word token occurs 5\\+ times in 3 training texts; lower min_freq"),
    ],
)
def test_vocab_build_errors(kwargs, match):
    with pytest.raises(DataError, match=match) as e:
        TokenVocab.build(TRAIN, **kwargs)
    _one_line(e)


def test_encode_pads_truncates_and_never_leaves_a_sequence_empty():
    v = TokenVocab.build(TRAIN, "word")
    ids, lengths = v.encode(["the cat", "a zebra sat down", "", "!!!"])
    assert ids.dtype == np.int64 and lengths.dtype == np.int64 and ids.shape == (4, 4)
    i = v.index
    assert ids.tolist() == [
        [i["the"], i["cat"], PAD, PAD],
        [i["a"], UNK, i["sat"], UNK],
        [UNK, PAD, PAD, PAD],  # empty document: one <unk>
        [UNK, PAD, PAD, PAD],  # "!!!" is a token this vocabulary never saw
    ]
    assert lengths.tolist() == [2, 4, 1, 1]
    ids, lengths = v.encode(["a zebra sat down", "the"], max_len=2)
    assert ids.tolist() == [[i["a"], UNK], [i["the"], PAD]] and lengths.tolist() == [2, 1]
    assert v.decode(ids[1]) == ["the"]
    with pytest.raises(DataError, match="max_len=0 must be at least 1"):
        v.encode(["x"], max_len=0)
    c = TokenVocab.build(["ab"], "char")
    ids, lengths = c.encode(["abc", "   "])
    assert ids.tolist() == [[c.index["a"], c.index["b"], UNK], [UNK, UNK, UNK]] and lengths.tolist() == [3, 3]
    assert "".join(c.decode([c.index["b"], c.index["a"], PAD])) == "ba"


def test_vocab_to_dict_round_trip_and_corrupt_dicts():
    for level in ("word", "char"):
        v = TokenVocab.build(TRAIN, level, min_freq=1)
        d = json.loads(json.dumps(v.to_dict()))
        w = TokenVocab.from_dict(d)
        assert w == v and w.index == v.index and w.level == level
    d = TokenVocab.build(TRAIN, "word").to_dict()
    with pytest.raises(
        DataError, match="tokenizer 'word-v0', this rnnlab uses 'word-v1'; retrain the run"
    ) as e:
        TokenVocab.from_dict({**d, "tokenizer": "word-v0"})
    _one_line(e)
    with pytest.raises(DataError, match="vocabulary is corrupt"):
        TokenVocab.from_dict({**d, "tokens": ["cat", "<pad>", "<unk>"]})
    with pytest.raises(DataError, match="vocabulary is corrupt"):
        TokenVocab.from_dict({**d, "tokens": ["<pad>", "<unk>", "cat", "cat"]})


# --- bag of tokens --------------------------------------------------------------------------------------


def test_bag_of_tokens_counts_valid_steps_only():
    ids = np.array([[2, 3, 2, 0], [1, 4, 4, 4], [5, 0, 0, 0]])
    lengths = np.array([3, 2, 1])
    m = bag_of_tokens(ids, lengths, 6)
    assert m.shape == (3, 6) and m.dtype == np.float32 and m.format == "csr"
    want = np.array([[0, 0, 2, 1, 0, 0], [0, 1, 0, 0, 1, 0], [0, 0, 0, 0, 0, 1]], dtype=np.float32)
    np.testing.assert_array_equal(m.toarray(), want)
    d = bag_of_tokens(ids, lengths, 6, dense=True)
    assert isinstance(d, np.ndarray) and d.dtype == np.float32
    np.testing.assert_array_equal(d, want)
    v = TokenVocab.build(TRAIN, "word")
    bow = bag_of_tokens(*v.encode(TRAIN), len(v), dense=True)
    assert bow[:, PAD].sum() == 0 and bow.sum() == sum(len(t.split()) for t in TRAIN)


@pytest.mark.parametrize(
    ("ids", "lengths", "size", "match"),
    [
        (np.array([[2, 9]]), np.array([2]), 6, r"token ids run outside 0..5"),
        (np.array([2, 3]), np.array([2]), 6, r"must be \(N, T\) and \(N,\)"),
        (np.array([[2, 3]]), np.array([3]), 6, r"lengths must lie in 0..2"),
    ],
)
def test_bag_of_tokens_errors(ids, lengths, size, match):
    with pytest.raises(DataError, match=match) as e:
        bag_of_tokens(ids, lengths, size)
    _one_line(e)


def test_read_text_csv_unreadable_csv(tmp_path):
    with pytest.raises(
        DataError, match=r"is not a readable CSV \(line 2: .*\); check for an unclosed quote"
    ) as e:
        read_text_csv(_csv(tmp_path, 'text,label\n"' + "x" * 200_000 + "\n"))
    _one_line(e)
