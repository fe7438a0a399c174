"""Turn an image file of a handwritten digit into what the network saw in training.

MNIST digits are white on black, scaled so that the digit fits a 20x20 box, and centred by their
centre of mass in a 28x28 frame. :func:`load_digit` does the same to a PNG (or any image Pillow
reads) of any size: transparent pixels become the background, a light background is inverted,
the digit is cropped, scaled and centred. Pillow is an optional extra (``nnback[image]``).
"""

from __future__ import annotations

import os
import warnings

import numpy as np

from .data import DataError
from .files import require_regular_file

SIDE, BOX, MAX_SIDE = 28, 20, 1024


class ImageUnavailable(RuntimeError):
    """Pillow is not installed."""


def require_pillow():
    """The ``PIL.Image`` module, or an :class:`ImageUnavailable` saying how to install it."""
    try:
        from PIL import Image
    except ImportError:
        raise ImageUnavailable('reading image files needs Pillow, which is not installed; '
                               'install it with: pip install "nnback[image]"') from None
    return Image


def load_digit(path) -> np.ndarray:
    """An image file → (784,) float64 pixels in [0, 1], white digit on black, MNIST-centred."""
    pixels = _grayscale(path)
    if _border(pixels).mean() > 0.5:  # a light background: dark ink on paper, the opposite of MNIST
        pixels = 1.0 - pixels
    pixels = np.clip(pixels - np.median(_border(pixels)), 0.0, 1.0)  # a grey background becomes black
    if pixels.max() <= 0.0:
        raise DataError(f"{path}: the image is blank; no digit to read")
    return _centre(_fit_box(pixels / pixels.max())).reshape(-1)


def _border(pixels: np.ndarray) -> np.ndarray:
    return np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])


def _grayscale(path) -> np.ndarray:
    """The image as (height, width) float64 in [0, 1], at most MAX_SIDE pixels a side."""
    Image = require_pillow()
    if not os.path.exists(path):
        raise DataError(f"{path}: not an image Pillow can read (no such file)")
    require_regular_file(path, "image file")  # before open: a FIFO would block, /dev/zero never ends
    try:
        with warnings.catch_warnings():
            # Pillow only warns between its pixel limit and twice it; a bomb is a bomb either way.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.load()
                gray = _to_unit(Image, image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise DataError(f"{path}: refused, the image is too large ({_first_line(error)})") from None
    except Exception as error:  # an untrusted file: Pillow's decoders raise OSError, ValueError, SyntaxError...
        raise DataError(f"{path}: not an image Pillow can read ({_first_line(error)})") from None
    if gray.ndim != 2 or min(gray.shape) < 1:
        raise DataError(f"{path}: the image has no pixels")
    return gray


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__


HIGH_DEPTH = ("I", "F")  # 16-bit PNGs open as I;16 (or I), 32-bit TIFFs as I or F


def _to_unit(Image, image) -> np.ndarray:
    """Any mode → gray in [0, 1]. 16-bit and float images are scaled by their own range (not
    clipped at 255 as Pillow's convert("L") does), so a 16-bit copy reads like its 8-bit original."""
    if image.mode.split(";")[0] in HIGH_DEPTH:
        values = np.asarray(image, dtype=np.float64)
        if values.ndim != 2 or not np.isfinite(values).all():
            raise ValueError(f"mode {image.mode} with non-finite or odd-shaped pixels")
        unit = Image.fromarray(_unit_range(values, image.mode).astype(np.float32), "F")
        unit.thumbnail((MAX_SIDE, MAX_SIDE))  # a photo's 4000 pixels add nothing to a 20-pixel digit
        return np.clip(np.asarray(unit, dtype=np.float64), 0.0, 1.0)
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        # Transparent pixels have no colour of their own; put them on white paper.
        rgba = image.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(paper, rgba)
    return np.asarray(image.convert("L"), dtype=np.float64) / 255.0


def _unit_range(values: np.ndarray, mode: str) -> np.ndarray:
    """Divide by the full scale the values were stored on: 65535 for 16-bit, 1.0 or 255 for floats
    that fit them; anything else (negative, larger) by its own minimum and maximum."""
    low, high = float(values.min()), float(values.max())
    scales = (65535.0,) if mode.startswith("I;16") else (1.0, 255.0, 65535.0)
    for scale in scales:
        if low >= 0.0 and high <= scale:
            return values / scale
    return (values - low) / (high - low) if high > low else np.zeros_like(values)


def _fit_box(pixels: np.ndarray) -> np.ndarray:
    """Crop to the ink and scale the longer side to 20 pixels (keeping the aspect ratio)."""
    Image = require_pillow()
    rows, cols = np.nonzero(pixels > 0.1 * pixels.max())
    crop = pixels[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    scale = BOX / max(crop.shape)
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    image = Image.fromarray(np.round(crop * 255).astype(np.uint8)).resize(size, Image.LANCZOS)
    return np.asarray(image, dtype=np.float64) / 255.0


def _centre(digit: np.ndarray) -> np.ndarray:
    """Place the digit in a 28x28 frame with its centre of mass in the middle."""
    frame = np.zeros((SIDE, SIDE))
    height, width = digit.shape
    total = digit.sum() or 1.0
    centre_row = (digit.sum(axis=1) @ np.arange(height)) / total
    centre_col = (digit.sum(axis=0) @ np.arange(width)) / total
    top = int(np.clip(round(SIDE / 2 - centre_row), 0, SIDE - height))
    left = int(np.clip(round(SIDE / 2 - centre_col), 0, SIDE - width))
    frame[top:top + height, left:left + width] = digit
    return np.clip(frame, 0.0, 1.0)


def load_image(path, shape) -> np.ndarray:
    """An image file → (h·w,) gray levels in [0, 1] resized to a model's (h, w) images, for models
    trained on images other than MNIST-style digits (those go through :func:`load_digit`). The
    file's gray levels are kept as they are: no inversion, cropping or centring."""
    height, width = int(shape[0]), int(shape[1])
    if len(shape) > 2 and int(shape[2]) != 1:
        raise DataError(f"{path}: the model takes {shape[2]}-channel images; reading image files is for "
                        "grayscale models (give the pixels as --data rows instead)")
    Image = require_pillow()
    gray = Image.fromarray(_grayscale(path).astype(np.float32), "F").resize((width, height), Image.BILINEAR)
    return np.clip(np.asarray(gray, dtype=np.float64), 0.0, 1.0).reshape(-1)
