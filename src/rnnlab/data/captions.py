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
Batches (CaptionDataModule) hold images (B, 1, 28, W), the same as column sequences x (B, W, 28) with
lengths = widths, tgt_in = [BOS, words] and tgt_out = [words, EOS], both PAD-padded to (B, L).
Strips are a pure function of the seed (`make_strips` draws one row of uniforms per strip, so a longer run
extends a shorter one). `read_image` brings a user's PNG to the same form; `save_png` writes a strip.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from rnnlab.data.datamodule import SplitDataModule, epoch_loader
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


# --- batches ------------------------------------------------------------------------------------------------


class CaptionDataset(Dataset):
    """Index into a CaptionSet; `collate` builds the batch dict (padding beyond the batch's longest is cut)."""

    def __init__(self, s: CaptionSet) -> None:
        self.images = torch.from_numpy(s.images)
        self.widths = torch.from_numpy(s.widths)
        tgt_in, tgt_out = s.targets()
        self.tgt_in, self.tgt_out = torch.from_numpy(tgt_in), torch.from_numpy(tgt_out)
        self.tgt_lengths = torch.from_numpy(s.n_digits + 1)

    def __len__(self) -> int:
        return len(self.widths)

    def __getitem__(self, i: int) -> int:
        return i

    def collate(self, idx: list[int]) -> dict[str, torch.Tensor]:
        """images (B, 1, 28, W), x (B, W, 28) columns as steps, lengths = widths (B,), tgt_in/tgt_out (B, L),
        tgt_lengths (B,) = words + 1, index (B,); W and L are the batch's longest."""
        i = torch.as_tensor(idx)
        widths, tgt_lengths = self.widths[i], self.tgt_lengths[i]
        w, length = int(widths.max()), int(tgt_lengths.max())
        images = self.images[i, :, :w]
        return {
            "images": images.unsqueeze(1),
            "x": images.transpose(1, 2).contiguous(),
            "lengths": widths,
            "widths": widths,
            "tgt_in": self.tgt_in[i, :length],
            "tgt_out": self.tgt_out[i, :length],
            "tgt_lengths": tgt_lengths,
            "index": i,
        }


class CaptionDataModule(SplitDataModule):
    """Train/val/test CaptionSets -> seeded shuffled batches (see CaptionDataset.collate); sizes off the data."""

    def __init__(
        self,
        train: CaptionSet,
        val: CaptionSet,
        test: CaptionSet | None = None,
        batch_size: int = 64,
        seed: int = 0,
        name: str = "captions",
    ) -> None:
        super().__init__()
        if batch_size < 1:
            raise DataError(f"batch_size must be >= 1, got {batch_size}")
        self.name, self.batch_size, self.seed = name, int(batch_size), int(seed)
        self.sets = {k: v for k, v in {"train": train, "val": val, "test": test}.items() if v is not None}

    @classmethod
    def from_mnist(cls, batch_size: int = 64, seed: int = 0, **load: object) -> CaptionDataModule:
        """load_captions(seed=seed, **load) wrapped in a datamodule."""
        train, val, test = load_captions(seed=seed, **load)  # type: ignore[arg-type]
        return cls(train, val, test, batch_size=batch_size, seed=seed)

    vocab = VOCAB
    pad_id, bos_id, eos_id = PAD, BOS, EOS

    @property
    def vocab_size(self) -> int:
        return len(VOCAB)

    @property
    def n_features(self) -> int:
        """Pixels per column step: the strip height."""
        return SIDE

    @property
    def max_width(self) -> int:
        return max(s.max_width for s in self.sets.values())

    @property
    def max_caption_len(self) -> int:
        """Longest target sequence: the most digits plus the BOS/EOS step."""
        return max(s.tokens.shape[1] for s in self.sets.values()) + 1

    def loader(self, split: str, shuffle: bool = False) -> DataLoader:
        """A DataLoader over one split ('train', 'val', 'test')."""
        ds = CaptionDataset(self.sets[split])
        return epoch_loader(ds, self.batch_size, self.seed, shuffle, ds.collate)

    def describe(self) -> dict:
        """What the run directory records: vocabulary, special ids, shapes and split sizes."""
        return {
            "name": self.name,
            "vocab": list(VOCAB),
            "pad_id": PAD, "bos_id": BOS, "eos_id": EOS,
            "n_features": self.n_features,
            "max_width": self.max_width,
            "max_caption_len": self.max_caption_len,
            "sizes": {k: len(v) for k, v in self.sets.items()},
        }  # fmt: skip


# --- user images --------------------------------------------------------------------------------------------


def _pil() -> ModuleType:
    """The PIL.Image module, imported on first use."""
    try:
        from PIL import Image
    except ImportError as e:  # pillow ships with matplotlib, a dependency; say so if it is missing
        raise DataError("reading and writing PNGs needs pillow; pip install pillow") from e
    return Image


def _grey(img: object) -> np.ndarray:
    """A PIL image -> (H, W) float64 in [0, 1]; transparency is flattened onto the side opposite the ink."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        a = np.asarray(img, dtype=np.float64)
        return a / (65535.0 if img.mode.startswith("I;16") else max(1.0, float(a.max())))
    la = np.asarray(img.convert("RGBA").convert("LA"), dtype=np.float64) / 255  # ITU-R 601 luma, k / 255
    grey, alpha = la[..., 0], la[..., 1]
    if alpha.min() < 1:
        opaque = alpha > 0.5
        back = 1.0 if opaque.any() and grey[opaque].mean() < 0.5 else 0.0
        grey = alpha * grey + (1 - alpha) * back
    return grey


def read_image(path: str | Path, invert: bool | None = None, height: int = SIDE) -> np.ndarray:
    """A user's image file (PNG, grayscale or RGB(A), any size) -> a (height, W) float32 strip in [0, 1]
    in MNIST's form: white digits on black, resized to `height` rows keeping the aspect ratio (area averaging
    when shrinking). invert=None decides by the border: a light border means dark-on-light, which is inverted."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no image file at {path}; check the path")
    if path.stat().st_size == 0:
        raise DataError(f"image file {path} is empty (0 bytes); save the image again")
    image = _pil()
    try:
        with image.open(path) as img:
            img.load()
            grey = _grey(img)
    except (OSError, SyntaxError, ValueError, image.DecompressionBombError) as e:
        raise DataError(f"cannot read image {path} ({type(e).__name__}); save it as a PNG again") from e
    if grey.size == 0:
        raise DataError(f"image {path} has no pixels; save a non-empty image")
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    dark_on_light = bool(np.median(border) > 0.5) if invert is None else invert
    if dark_on_light:
        grey = 1.0 - grey
    h, w = grey.shape
    if h != height:
        new_w = max(1, round(w * height / h))
        resample = image.Resampling.BOX if h > height else image.Resampling.BILINEAR
        grey = np.asarray(image.fromarray(grey.astype(np.float32)).resize((new_w, height), resample))
    return np.clip(grey, 0.0, 1.0).astype(np.float32)


def save_png(strip: np.ndarray | torch.Tensor, path: str | Path, width: int | None = None) -> Path:
    """Write a strip ((H, W) or (1, H, W), values in [0, 1]) as an 8-bit grayscale PNG, cut to `width`
    columns when given (drop the padding); MNIST grey levels k / 255 survive the round trip exactly."""
    a = strip.detach().cpu().numpy() if isinstance(strip, torch.Tensor) else np.asarray(strip)
    a = a[0] if a.ndim == 3 and a.shape[0] == 1 else a
    if a.ndim != 2 or a.size == 0:
        raise DataError(f"a strip to save must be (H, W) or (1, H, W), got shape {np.shape(strip)}")
    if not np.isfinite(a).all():
        raise DataError("the strip has NaN/inf pixels; only finite values in [0, 1] can be saved")
    a = a[:, : int(width)] if width is not None else a
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.rint(np.clip(a, 0.0, 1.0) * 255).astype(np.uint8)
    _pil().fromarray(pixels).save(path, format="PNG")
    return path
