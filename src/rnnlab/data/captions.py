"""Digit-strip captioning data: real MNIST digits composed side by side, captioned with their real labels.

Every strip is made of 1..4 real MNIST digit images (28 x 28 each, from `load_digits("mnist-10k")`, or
"mnist-5k") pasted left to right with a random 0..4 px gap between neighbours, so positions are not a fixed
grid. Its caption is the digits' true labels read left to right as words: a 3, a 0 and a 7 give
"three zero seven". Nothing is synthesised but the layout: the pixels are the archive's, the words its labels.

Splits never share a source image: test strips draw only from the MNIST held-out test split (never seen in
training); validation strips draw from a fixed 10% of the MNIST train images (per digit, ranked by
sha256(f"val{VAL_SPLIT_SEED}:{image id}")), and training strips from the other 90%. Each CaptionSet keeps, per
placed digit, the pool row (`digit_ids`), its MNIST id (`source_ids`) and its start column (`positions`).

Shapes: a strip of k digits with gaps g_1..g_{k-1} is 28 x (28 k + sum g) wide (`widths`), zero-padded on the
right to `max_width`, by default the widest strip the settings allow (4 * 28 + 3 * 4 = 124 for 1..4 digits with
0..4 px gaps; 112 with gap=(0, 0)). Vocabulary: <pad>=0, <bos>=1, <eos>=2, then "zero".."nine" = 3..12.
Strips are a pure function of the seed (`make_strips` draws one row of uniforms per strip, so a longer run
extends a shorter one). Batches: caption_batches.py; a user's PNG to and from a strip: images.py.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from rnnlab.data.mnist import DATASETS, SIDE, load_digits
from rnnlab.errors import DataError

CAPTION_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
SPECIALS = ("<pad>", "<bos>", "<eos>")
PAD, BOS, EOS = 0, 1, 2
VOCAB = [*SPECIALS, *CAPTION_WORDS]  # id -> token; digit d is id d + len(SPECIALS)
WORD_IDS = {w: i for i, w in enumerate(VOCAB)}
MIN_DIGITS, MAX_DIGITS = 1, 4
GAP = (0, 4)
VAL_FRACTION = 0.1
VAL_SPLIT_SEED = 0
DIGIT_SOURCES = [name for name, spec in DATASETS.items() if spec[0] != "fashion_mnist"]


# --- vocabulary ---------------------------------------------------------------------------------------------


def encode(words: str | Sequence[str], bos: bool = False, eos: bool = False) -> np.ndarray:
    """Caption words ("three zero seven" or ["three", "zero", "seven"]) -> (L,) int64 ids, optionally
    framed by BOS/EOS. Raises a DataError naming the first word outside the vocabulary."""
    tokens = words.split() if isinstance(words, str) else list(words)
    for w in tokens:
        if w not in WORD_IDS or WORD_IDS[w] < len(SPECIALS):
            raise DataError(f"unknown caption word {w!r}; captions use only {', '.join(CAPTION_WORDS)}")
    ids = [WORD_IDS[w] for w in tokens]
    return np.array([BOS] * bos + ids + [EOS] * eos, dtype=np.int64)


def decode(ids: Sequence[int] | np.ndarray | torch.Tensor) -> list[str]:
    """Ids -> caption words: BOS and PAD are skipped and decoding stops at the first EOS (model output)."""
    if isinstance(ids, torch.Tensor):
        ids = ids.detach().cpu().numpy()
    words = []
    for i in np.asarray(ids, dtype=np.int64).reshape(-1).tolist():
        if not 0 <= i < len(VOCAB):
            raise DataError(f"unknown caption token id {i}; ids run 0..{len(VOCAB) - 1}")
        if i == EOS:
            break
        if i >= len(SPECIALS):
            words.append(VOCAB[i])
    return words


# --- strips -------------------------------------------------------------------------------------------------


@dataclass
class CaptionSet:
    """Digit strips and their captions.

    images: (N, 28, W) float32 in [0, 1], zero right of each width; widths: (N,) int64 true widths;
    tokens: (N, D) int64 caption word ids, PAD after n_digits; n_digits: (N,) int64 in 1..D;
    digit_ids: (N, D) int64 row of the source pool placed at each slot (-1 = none); positions: (N, D) int64
    start column of each placed digit (-1 = none); source_ids: the pool's MNIST ids (row -> "d3-17").
    """

    images: np.ndarray
    widths: np.ndarray
    tokens: np.ndarray
    n_digits: np.ndarray
    digit_ids: np.ndarray
    positions: np.ndarray
    source_ids: list[str] | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.images = np.ascontiguousarray(self.images, dtype=np.float32)
        for name in ("widths", "tokens", "n_digits", "digit_ids", "positions"):
            setattr(self, name, np.asarray(getattr(self, name), dtype=np.int64))
        if self.images.ndim != 3 or self.images.shape[1] != SIDE or len(self.images) == 0:
            raise DataError(f"strip images must be (N, {SIDE}, W) with N >= 1, got {self.images.shape}")
        n, _, w = self.images.shape
        d = self.tokens.shape[1] if self.tokens.ndim == 2 else -1
        shapes = {
            "widths": (n,),
            "n_digits": (n,),
            "tokens": (n, d),
            "digit_ids": (n, d),
            "positions": (n, d),
        }
        for name, want in shapes.items():
            if getattr(self, name).shape != want or d < 1:
                raise DataError(f"{name} must be {want} for {n} strips, got {getattr(self, name).shape}")
        if ((self.widths < 1) | (self.widths > w)).any():
            raise DataError(f"strip widths must lie in 1..{w} (the padded width)")
        if ((self.n_digits < 1) | (self.n_digits > d)).any():
            raise DataError(f"n_digits must lie in 1..{d}")
        placed = np.arange(d)[None, :] < self.n_digits[:, None]
        if (
            np.where(placed, self.tokens < len(SPECIALS), self.tokens != PAD) | (self.tokens >= len(VOCAB))
        ).any():
            raise DataError("tokens must be digit-word ids for the placed digits and PAD after them")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def max_width(self) -> int:
        return int(self.images.shape[2])

    @property
    def labels(self) -> np.ndarray:
        """(N, D) digit values left to right, -1 after the last digit."""
        return np.where(self.tokens == PAD, -1, self.tokens - len(SPECIALS))

    @property
    def captions(self) -> list[str]:
        """Each strip's caption as one string, e.g. "three zero seven"."""
        return [" ".join(decode(t)) for t in self.tokens]

    def targets(self) -> tuple[np.ndarray, np.ndarray]:
        """Teacher-forcing pairs (N, D + 1): tgt_in = [BOS, w_1..w_k, PAD..], tgt_out = [w_1..w_k, EOS, PAD..]."""
        n, d = self.tokens.shape
        tgt_in = np.full((n, d + 1), PAD, dtype=np.int64)
        tgt_in[:, 0], tgt_in[:, 1:] = BOS, self.tokens
        tgt_out = np.concatenate([self.tokens, np.full((n, 1), PAD, dtype=np.int64)], axis=1)
        tgt_out[np.arange(n), self.n_digits] = EOS
        return tgt_in, tgt_out

    def subset(self, index: np.ndarray) -> CaptionSet:
        """The strips at `index` (bool mask or int indices); the source pool and metadata are kept."""
        i = np.asarray(index)
        i = np.flatnonzero(i) if i.dtype == bool else i
        return CaptionSet(
            self.images[i], self.widths[i], self.tokens[i], self.n_digits[i], self.digit_ids[i],
            self.positions[i], self.source_ids, dict(self.meta),
        )  # fmt: skip


def strip_width(max_digits: int = MAX_DIGITS, gap: tuple[int, int] = GAP) -> int:
    """The widest strip `max_digits` digits with gaps up to gap[1] px can make: the default padded width."""
    return SIDE * max_digits + (max_digits - 1) * gap[1]


def make_strips(
    images: np.ndarray,
    labels: np.ndarray,
    n: int,
    min_digits: int = MIN_DIGITS,
    max_digits: int = MAX_DIGITS,
    seed: int = 0,
    max_width: int | None = None,
    gap: tuple[int, int] = GAP,
    source_ids: list[str] | None = None,
) -> CaptionSet:
    """`n` strips of real digits from the pool `images` (M, 28, 28) in [0, 1] with digit `labels` (M,).

    Per strip: k uniform in min_digits..max_digits, k pool rows uniform (with replacement), gaps uniform in
    gap[0]..gap[1] px. All from one row of uniforms per strip drawn from default_rng(seed), so the result is
    fixed by the seed and the first strips do not depend on `n`. max_width=None: strip_width(max_digits, gap).
    """
    images, labels = np.asarray(images), np.asarray(labels)
    if images.ndim != 3 or images.shape[1:] != (SIDE, SIDE) or len(images) == 0:
        raise DataError(f"digit images must be (M, {SIDE}, {SIDE}) with M >= 1, got {images.shape}")
    if labels.shape != (len(images),) or not np.isin(labels, np.arange(10)).all():
        raise DataError(
            f"labels must be ({len(images)},) digits 0..9, one per image; got shape {labels.shape}"
        )
    if not np.isfinite(images).all() or images.min() < 0 or images.max() > 1:
        raise DataError("digit images must be finite grey levels in [0, 1]; divide uint8 pixels by 255")
    if not 1 <= min_digits <= max_digits:
        raise DataError(
            f"need 1 <= min_digits <= max_digits, got min_digits={min_digits}, max_digits={max_digits}"
        )
    if not 0 <= gap[0] <= gap[1]:
        raise DataError(f"gap must be (low, high) px with 0 <= low <= high, got {tuple(gap)}")
    if n < 1:
        raise DataError(f"n must be >= 1 strips, got {n}")
    need = strip_width(max_digits, gap)
    width = need if max_width is None else int(max_width)
    if width < need:
        raise DataError(
            f"max_width {width} cannot hold {max_digits} digits with gaps up to {gap[1]} px (needs {need}); "
            "raise max_width or lower max_digits/gap"
        )
    u = np.random.default_rng(seed).random((n, 2 * max_digits))  # [count, picks x D, gaps x (D - 1)]
    k = min_digits + (u[:, 0] * (max_digits - min_digits + 1)).astype(np.int64)
    placed = np.arange(max_digits)[None, :] < k[:, None]
    picks = np.where(placed, (u[:, 1 : max_digits + 1] * len(images)).astype(np.int64), -1)
    gaps = gap[0] + (u[:, max_digits + 1 :] * (gap[1] - gap[0] + 1)).astype(np.int64)
    starts = np.concatenate([np.zeros((n, 1), np.int64), np.cumsum(SIDE + gaps, axis=1)], axis=1)
    positions = np.where(placed, starts, -1)
    out = np.zeros((n, SIDE, width), dtype=np.float32)
    cols = np.arange(SIDE)
    for j in range(max_digits):
        rows = np.flatnonzero(placed[:, j])
        out[rows[:, None, None], cols[None, :, None], (starts[rows, j][:, None] + cols)[:, None, :]] = images[
            picks[rows, j]
        ]
    tokens = np.where(placed, labels[np.maximum(picks, 0)] + len(SPECIALS), PAD)
    meta = {
        "min_digits": min_digits,
        "max_digits": max_digits,
        "gap": list(gap),
        "seed": seed,
        "n_pool": len(images),
    }
    return CaptionSet(out, starts[np.arange(n), k - 1] + SIDE, tokens, k, picks, positions, source_ids, meta)


def val_holdout(ids: Sequence[str], labels: np.ndarray, fraction: float = VAL_FRACTION) -> np.ndarray:
    """(M,) bool: per digit, the round(fraction * count) images (at least 1) first in sha256(f"val{VAL_SPLIT_SEED}:
    {id}") order. Keyed by image id, not row, so the choice survives any reordering of the pool."""
    if not 0 < fraction < 1:
        raise DataError(f"val_fraction must lie strictly between 0 and 1, got {fraction}")
    labels = np.asarray(labels)
    keys = [hashlib.sha256(f"val{VAL_SPLIT_SEED}:{i}".encode()).digest() for i in ids]
    order = np.array(sorted(range(len(keys)), key=keys.__getitem__), dtype=np.int64)
    mask = np.zeros(len(keys), dtype=bool)
    for c in np.unique(labels):
        rows = order[labels[order] == c]
        if len(rows) < 2:
            raise DataError(
                f"digit {c} has {len(rows)} train image(s); need 2 or more to hold some out for validation"
            )
        mask[rows[: min(len(rows) - 1, max(1, round(fraction * len(rows))))]] = True
    return mask


def _split_seed(seed: int, split: str) -> int:
    """An independent, platform-fixed seed per split derived from the one recipe seed."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{split}".encode()).digest()[:8], "big")


def load_captions(
    n_train: int = 20_000,
    n_val: int = 2_000,
    n_test: int = 2_000,
    seed: int = 0,
    source: str = "mnist-10k",
    min_digits: int = MIN_DIGITS,
    max_digits: int = MAX_DIGITS,
    gap: tuple[int, int] = GAP,
    val_fraction: float = VAL_FRACTION,
) -> tuple[CaptionSet, CaptionSet, CaptionSet]:
    """(train, val, test) strips of real digits: train from 90% of the MNIST train split, val from the fixed
    other 10%, test from the MNIST held-out test split; all padded to one width, strip_width(max_digits, gap)."""
    if source not in DIGIT_SOURCES:
        raise DataError(
            f"unknown digit source {source!r} for captions; choose one of {', '.join(DIGIT_SOURCES)}"
        )
    digits_train, digits_test = load_digits(source)
    is_val = val_holdout(digits_train.ids, digits_train.y, val_fraction)
    pools = {"train": digits_train.subset(~is_val), "val": digits_train.subset(is_val), "test": digits_test}
    out = []
    for split, n in (("train", n_train), ("val", n_val), ("test", n_test)):
        pool = pools[split]
        s = make_strips(
            pool.x, pool.y, n, min_digits, max_digits, _split_seed(seed, split), None, gap, pool.ids
        )
        s.meta.update(
            {k: v for k, v in digits_train.meta.items() if k in ("source", "dataset", "license", "citation")}
        )
        s.meta.update(split=split, recipe_seed=seed, val_fraction=val_fraction, val_split_seed=VAL_SPLIT_SEED)
        out.append(s)
    return out[0], out[1], out[2]
