"""A user's image file as a strip in MNIST's form (white digits on black, 28 rows, values in [0, 1]), and a
strip written back as a PNG: what a captioner reads and what its run shows.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import torch

from rnnlab.data.mnist import SIDE
from rnnlab.errors import DataError


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
    return to_strip(grey, invert, height)


def to_strip(grey: np.ndarray, invert: bool | None = None, height: int = SIDE) -> np.ndarray:
    """A (H, W) grey image in [0, 1] -> the strip read_image makes (inverted if dark-on-light, `height` rows)."""
    image = _pil()
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
