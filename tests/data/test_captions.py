"""Digit-strip captions: strips from a small fake pool of digit images (each image unique, so every placed
digit can be traced back), load_captions over a fake `load_digits`, PNG round trips in tmp_path; the real
MNIST archive only in a slow test."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from rnnlab.data import captions as cap
from rnnlab.data import sources
from rnnlab.data.caption_batches import CaptionDataModule
from rnnlab.data.images import read_image, save_png
from rnnlab.data.sequences import SequenceSet
from rnnlab.errors import DataError


def _pool(n: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n distinct 'digit' images laid out like MNIST's (k / 255 ink in the middle 20 x 20, black border) and
    labels cycling 0..9."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 28, 28), dtype=np.float32)
    images[:, 4:24, 4:24] = rng.integers(1, 256, size=(n, 20, 20)) / np.float32(255)
    return images, np.arange(n) % 10


def _one_line(e: pytest.ExceptionInfo) -> None:
    assert "\n" not in str(e.value)


# --- vocabulary ---------------------------------------------------------------------------------------------


def test_vocabulary_ids_and_round_trip():
    assert cap.VOCAB[:3] == ["<pad>", "<bos>", "<eos>"] and (cap.PAD, cap.BOS, cap.EOS) == (0, 1, 2)
    assert cap.VOCAB[3:] == cap.CAPTION_WORDS == "zero one two three four five six seven eight nine".split()
    assert [cap.WORD_IDS[w] for w in cap.CAPTION_WORDS] == list(range(3, 13))
    ids = cap.encode("three zero seven")
    assert ids.dtype == np.int64 and ids.tolist() == [6, 3, 10]
    assert cap.encode(["three", "zero", "seven"], bos=True, eos=True).tolist() == [1, 6, 3, 10, 2]
    assert cap.decode(ids) == ["three", "zero", "seven"]
    # model output: BOS and PAD skipped, everything after the first EOS ignored; tensors accepted
    assert cap.decode(torch.tensor([1, 12, 0, 4, 2, 5, 5])) == ["nine", "one"]
    assert cap.decode([]) == [] and cap.encode("").tolist() == []


def test_unknown_word_or_id_is_one_line_error():
    with pytest.raises(DataError, match="unknown caption word 'ten'; captions use only zero, one") as e:
        cap.encode("three ten")
    _one_line(e)
    with pytest.raises(DataError, match="unknown caption word '<bos>'"):
        cap.encode(["<bos>", "one"])  # specials are ids, not words
    with pytest.raises(DataError, match=r"unknown caption token id 13; ids run 0..12"):
        cap.decode([3, 13])


# --- strips -------------------------------------------------------------------------------------------------


def test_strips_are_deterministic_given_the_seed():
    images, labels = _pool()
    a = cap.make_strips(images, labels, 50, seed=3)
    b = cap.make_strips(images, labels, 50, seed=3)
    for name in ("images", "widths", "tokens", "n_digits", "digit_ids", "positions"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.digit_ids, cap.make_strips(images, labels, 50, seed=4).digit_ids)
    # one row of uniforms per strip: a longer run extends a shorter one
    short = cap.make_strips(images, labels, 20, seed=3)
    np.testing.assert_array_equal(short.images, a.images[:20])
    assert short.captions == a.captions[:20]


def test_strips_place_real_pool_digits_with_their_labels():
    images, labels = _pool()
    ids = [f"d{y}-{i}" for i, y in enumerate(labels)]
    s = cap.make_strips(images, labels, 200, seed=1, source_ids=ids)
    assert s.images.shape == (200, 28, 124) and s.images.dtype == np.float32 and s.max_width == 124
    assert s.tokens.shape == (200, 4) and s.source_ids == ids
    gaps = []
    for i in range(len(s)):
        k = int(s.n_digits[i])
        pos, rows = s.positions[i, :k], s.digit_ids[i, :k]
        assert (s.positions[i, k:] == -1).all() and (s.digit_ids[i, k:] == -1).all()
        assert (s.tokens[i, k:] == cap.PAD).all() and (s.labels[i, k:] == -1).all()
        assert pos[0] == 0 and s.widths[i] == pos[-1] + 28
        ink = np.zeros(s.max_width, dtype=bool)
        for p, r in zip(pos, rows, strict=True):
            np.testing.assert_array_equal(s.images[i, :, p : p + 28], images[r])  # the pool image, untouched
            ink[p : p + 28] = True
        assert (s.images[i][:, ~ink] == 0).all()  # gaps and right padding are zeros
        assert s.labels[i, :k].tolist() == labels[rows].tolist()  # caption = the placed digits' labels
        assert s.captions[i] == " ".join(cap.CAPTION_WORDS[d] for d in labels[rows])
        gaps += (np.diff(pos) - 28).tolist()
    assert set(gaps) == {0, 1, 2, 3, 4}  # jitter: positions are not a fixed grid


def test_digit_counts_uniform_and_bounded():
    images, labels = _pool()
    s = cap.make_strips(images, labels, 4000, seed=0)
    counts = np.bincount(s.n_digits, minlength=5)
    assert counts[0] == 0 and (np.abs(counts[1:] - 1000) < 120).all()
    two = cap.make_strips(images, labels, 30, min_digits=2, max_digits=2, seed=0, gap=(3, 3))
    assert (two.n_digits == 2).all() and (two.positions[:, 1] == 31).all() and (two.widths == 59).all()
    assert two.max_width == 59 and two.tokens.shape == (30, 2)


def test_widths_and_padding_width():
    images, labels = _pool()
    assert cap.strip_width() == 124 and cap.strip_width(4, (0, 0)) == 112
    s = cap.make_strips(images, labels, 50, seed=0, gap=(0, 0))
    assert s.max_width == 112 and set(s.widths.tolist()) == {28, 56, 84, 112}
    np.testing.assert_array_equal(s.widths, 28 * s.n_digits)
    wide = cap.make_strips(images, labels, 5, seed=0, max_width=150)
    assert wide.images.shape == (5, 28, 150) and (wide.images[:, :, 124:] == 0).all()
    with pytest.raises(
        DataError, match=r"max_width 112 cannot hold 4 digits with gaps up to 4 px \(needs 124\)"
    ):
        cap.make_strips(images, labels, 5, max_width=112)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"images": np.zeros((3, 28, 27))}, r"digit images must be \(M, 28, 28\)"),
        ({"labels": np.array([0, 1, 10])}, "digits 0..9"),
        ({"labels": np.array([0, 1])}, r"labels must be \(3,\)"),
        ({"images": np.full((3, 28, 28), 255.0)}, r"in \[0, 1\]; divide uint8 pixels by 255"),
        ({"min_digits": 3, "max_digits": 2}, "need 1 <= min_digits <= max_digits"),
        ({"gap": (2, 1)}, "gap must be"),
        ({"n": 0}, "n must be >= 1"),
    ],
)
def test_bad_strip_arguments(kwargs, match):
    args = {"images": np.zeros((3, 28, 28)), "labels": np.array([0, 1, 2]), "n": 4, **kwargs}
    with pytest.raises(DataError, match=match) as e:
        cap.make_strips(**args)
    _one_line(e)


def test_targets_frame_the_caption():
    images, labels = _pool()
    s = cap.make_strips(images, labels, 30, seed=2)
    tgt_in, tgt_out = s.targets()
    assert tgt_in.shape == tgt_out.shape == (30, 5)
    for i in range(30):
        k, words = int(s.n_digits[i]), s.tokens[i, : s.n_digits[i]].tolist()
        assert tgt_in[i].tolist() == [cap.BOS, *words] + [cap.PAD] * (4 - k)
        assert tgt_out[i].tolist() == [*words, cap.EOS] + [cap.PAD] * (4 - k)
        assert cap.decode(tgt_out[i]) == s.captions[i].split()
    sub = s.subset(np.arange(30) % 3 == 0)
    assert len(sub) == 10 and sub.captions == s.captions[::3]


# --- splits -------------------------------------------------------------------------------------------------


def _fake_digits(name: str) -> tuple[SequenceSet, SequenceSet]:
    """A stand-in for load_digits: 30 train and 10 test images per digit, ids like the npm set's."""
    out = []
    for split, per_class, seed in (("train", 30, 1), ("test", 10, 2)):
        images, labels = _pool(10 * per_class, seed)
        out.append(
            SequenceSet(
                x=images,
                lengths=np.full(len(images), 28),
                y=labels,
                classes=[str(d) for d in range(10)],
                features=[f"col{j}" for j in range(28)],
                ids=[f"d{y}-{split}{i}" for i, y in enumerate(labels)],
                meta={"source": "mnist", "dataset": name, "license": "MIT", "split": split},
            )
        )
    return out[0], out[1]


def test_load_captions_splits_use_disjoint_real_images(monkeypatch):
    monkeypatch.setattr(cap, "load_digits", _fake_digits)
    train, val, test = cap.load_captions(n_train=300, n_val=60, n_test=50, seed=0)
    assert (len(train), len(val), len(test)) == (300, 60, 50)
    used = {}
    for name, s in (("train", train), ("val", val), ("test", test)):
        assert s.meta["split"] == name and s.meta["dataset"] == "mnist-10k" and s.meta["source"] == "mnist"
        assert s.images.shape[2] == 124
        used[name] = {s.source_ids[r] for r in s.digit_ids[s.digit_ids >= 0]}
        for i in range(len(s)):  # captions are the labels of the traced source images
            rows = s.digit_ids[i, : s.n_digits[i]]
            assert s.captions[i].split() == [cap.CAPTION_WORDS[int(s.source_ids[r][1])] for r in rows]
    assert all("-test" in i for i in used["test"]) and not any(
        "-test" in i for i in used["train"] | used["val"]
    )
    assert (
        not used["train"] & used["val"]
        and not used["train"] & used["test"]
        and not used["val"] & used["test"]
    )
    # validation pool: 10% of each digit's train images (3 of 30), fixed by the ids' hash
    assert len(val.source_ids) == 30 and len(train.source_ids) == 270
    assert sorted(int(i[1]) for i in val.source_ids) == [d for d in range(10) for _ in range(3)]
    again = cap.load_captions(n_train=300, n_val=60, n_test=50, seed=0)
    np.testing.assert_array_equal(again[0].images, train.images)
    assert again[1].source_ids == val.source_ids
    other = cap.load_captions(n_train=300, n_val=60, n_test=50, seed=1)
    assert other[0].captions != train.captions and other[1].source_ids == val.source_ids


def test_val_holdout_is_keyed_by_id():
    labels = np.arange(200) % 10
    ids = [f"img{i}" for i in range(200)]
    mask = cap.val_holdout(ids, labels, 0.1)
    assert mask.sum() == 20 and np.bincount(labels[mask]).tolist() == [2] * 10
    perm = np.random.default_rng(0).permutation(200)
    moved = cap.val_holdout([ids[i] for i in perm], labels[perm], 0.1)
    assert {ids[i] for i in perm[moved]} == {ids[i] for i in np.flatnonzero(mask)}
    with pytest.raises(DataError, match="digit 1 has 1 train image"):
        cap.val_holdout(["a", "b", "c"], np.array([0, 0, 1]))
    with pytest.raises(DataError, match="strictly between 0 and 1"):
        cap.val_holdout(ids, labels, 1.0)


def test_load_captions_rejects_non_digit_sources():
    with pytest.raises(
        DataError, match="unknown digit source 'fashion' for captions; choose one of mnist-10k, mnist-5k"
    ):
        cap.load_captions(source="fashion")


# --- batches ------------------------------------------------------------------------------------------------


def test_datamodule_batches():
    images, labels = _pool()
    train = cap.make_strips(images, labels, 50, seed=0)
    val = cap.make_strips(images, labels, 10, seed=1, min_digits=1, max_digits=2)
    dm = CaptionDataModule(train, val, batch_size=8, seed=5)
    assert (dm.vocab_size, dm.pad_id, dm.bos_id, dm.eos_id) == (13, 0, 1, 2)
    assert dm.n_features == 28 and dm.max_width == 124 and dm.max_caption_len == 5
    assert dm.describe()["sizes"] == {"train": 50, "val": 10}
    batch = next(iter(dm.train_dataloader()))
    idx, w, length = batch["index"], int(batch["widths"].max()), int(batch["tgt_lengths"].max())
    assert batch["images"].shape == (8, 1, 28, w) and batch["x"].shape == (8, w, 28)
    assert batch["tgt_in"].shape == batch["tgt_out"].shape == (8, length)
    assert batch["images"].dtype == torch.float32 and batch["tgt_in"].dtype == torch.int64
    torch.testing.assert_close(batch["x"], batch["images"][:, 0].transpose(1, 2))
    torch.testing.assert_close(batch["images"][:, 0], torch.from_numpy(train.images[idx.numpy(), :, :w]))
    assert torch.equal(batch["lengths"], batch["widths"]) and torch.equal(
        batch["widths"], torch.from_numpy(train.widths[idx.numpy()])
    )
    assert (batch["tgt_in"][:, 0] == cap.BOS).all()
    rows = torch.arange(8)
    assert (batch["tgt_out"][rows, batch["tgt_lengths"] - 1] == cap.EOS).all()
    assert torch.equal(batch["tgt_in"][:, 1:] != cap.PAD, batch["tgt_out"][:, :-1] > cap.EOS)
    assert torch.equal(next(iter(dm.train_dataloader()))["index"], idx)  # the seed fixes the shuffle
    val_batch = next(iter(dm.val_dataloader()))
    assert val_batch["index"].tolist() == list(range(8)) and val_batch["tgt_in"].shape[1] <= 3
    assert next(iter(dm.test_dataloader()))["index"].tolist() == list(range(8))  # no test set: val
    with pytest.raises(DataError, match="batch_size must be >= 1"):
        CaptionDataModule(train, val, batch_size=0)


# --- PNGs ---------------------------------------------------------------------------------------------------


def test_save_png_read_image_round_trip(tmp_path):
    images, labels = _pool()
    s = cap.make_strips(images, labels, 3, seed=0)
    path = save_png(s.images[0], tmp_path / "out" / "strip.png", width=s.widths[0])
    back = read_image(path)
    assert back.dtype == np.float32 and back.shape == (28, s.widths[0])
    np.testing.assert_array_equal(back, s.images[0, :, : s.widths[0]])  # k / 255 survives exactly
    save_png(torch.from_numpy(s.images[1][None]), tmp_path / "t.png")  # (1, H, W) tensors too
    np.testing.assert_array_equal(read_image(tmp_path / "t.png"), s.images[1])
    with pytest.raises(DataError, match=r"must be \(H, W\) or \(1, H, W\)"):
        save_png(np.zeros((2, 28, 28)), tmp_path / "bad.png")
    with pytest.raises(DataError, match="NaN/inf"):
        save_png(np.full((28, 28), np.nan), tmp_path / "bad.png")


def test_read_image_inverts_dark_on_light_and_resizes(tmp_path):
    ink = np.zeros((56, 112), dtype=np.uint8)
    ink[8:48, 20:28] = 255  # a white-on-black "one" ...
    ink[8:48, 60:90] = 255
    rgb = np.repeat((255 - ink)[..., None], 3, axis=2)  # ... drawn as black ink on white paper, in RGB
    Image.fromarray(rgb).save(tmp_path / "paper.png")
    strip = read_image(tmp_path / "paper.png")
    assert strip.shape == (28, 56) and strip.dtype == np.float32  # height 28, aspect kept
    expected = ink.reshape(28, 2, 56, 2).mean(axis=(1, 3)) / 255  # 2x2 area average of the inverted image
    np.testing.assert_allclose(strip, expected, atol=1e-6)
    assert strip[0].max() == 0 and strip[14, 12] == 1  # black background, white ink
    kept = read_image(tmp_path / "paper.png", invert=False)
    np.testing.assert_allclose(kept, 1 - expected, atol=1e-6)
    # dark ink on a transparent background is flattened onto white, then inverted like paper
    rgba = np.zeros((28, 28, 4), dtype=np.uint8)
    rgba[4:24, 10:18, 3] = 255
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "clear.png")
    clear = read_image(tmp_path / "clear.png")
    assert clear[4:24, 10:18].min() == 1 and clear.sum() == 20 * 8


def test_read_image_errors(tmp_path):
    with pytest.raises(DataError, match="no image file at .*missing.png; check the path") as e:
        read_image(tmp_path / "missing.png")
    _one_line(e)
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(DataError, match=r"is empty \(0 bytes\)"):
        read_image(tmp_path / "empty.png")
    good = tmp_path / "good.png"
    save_png(np.eye(28), good)
    data = good.read_bytes()
    (tmp_path / "corrupt.png").write_bytes(data[:40] + bytes(len(data) - 40))  # header kept, body zeroed
    with pytest.raises(
        DataError, match=r"cannot read image .*corrupt.png \(\w+\); save it as a PNG again"
    ) as e:
        read_image(tmp_path / "corrupt.png")
    _one_line(e)
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(DataError, match="cannot read image"):
        read_image(tmp_path / "text.png")


# --- the real archive -----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_real_captions():
    if not sources.is_cached("mnist"):
        pytest.skip("mnist archive not cached; run `rnnlab data fetch mnist`")
    train, val, test = cap.load_captions()
    assert (len(train), len(val), len(test)) == (20_000, 2_000, 2_000)
    assert (len(train.source_ids), len(val.source_ids), len(test.source_ids)) == (7_201, 799, 2_000)
    used = [{s.source_ids[r] for r in s.digit_ids[s.digit_ids >= 0]} for s in (train, val, test)]
    assert not used[0] & used[1] and not used[0] & used[2] and not used[1] & used[2]
    assert np.abs(np.bincount(train.n_digits)[1:] - 5_000).max() < 300
    for s in (train, val, test):  # real ink: every placed digit slot has some, gaps have none
        for i in range(0, len(s), 97):
            for p in s.positions[i, : s.n_digits[i]]:
                assert s.images[i, :, p : p + 28].max() > 0.5
            assert (s.images[i, :, s.widths[i] :] == 0).all()
