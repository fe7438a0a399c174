"""Checks every reader applies, so each format ends in the same arrays or a one-line DataError.

A reader hands over host arrays exactly as its file holds them; :func:`checked_split` refuses
anything that would train a silently wrong model (shapes, label range, NaN, pixel range) and
turns what is left into nnback's one in-memory form: images float32 in [0, 1] of shape (n, 784),
labels int64 of shape (n,).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data import N_CLASSES, N_PIXELS, DataError, Split


@dataclass(frozen=True)
class Parts:
    """What a file holds: training and test splits, and a validation split if it brings one."""

    train: Split
    test: Split
    val: Split | None = None


def checked_split(images, labels, where: str) -> Split:
    """A :class:`Split` from one file's images and labels; ``where`` names the file and part."""
    images, labels = np.asarray(images), np.asarray(labels)
    if images.ndim == 3 and images.shape[1:] == (28, 28):
        images = images.reshape(images.shape[0], N_PIXELS)
    if images.ndim != 2 or images.shape[1] != N_PIXELS:
        raise DataError(f"{where}: images have shape {images.shape}; expected (n, 784) or (n, 28, 28)")
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise DataError(f"{where}: {images.shape[0]} images but labels of shape {labels.shape}; "
                        "expected one label per image")
    if images.shape[0] == 0:
        raise DataError(f"{where}: holds no images (empty dataset)")
    return Split(unit_pixels(images, where), checked_labels(labels, where))


def checked_labels(labels: np.ndarray, where: str) -> np.ndarray:
    """Integer class labels 0-9 as int64; float or one-hot labels are refused, never guessed."""
    if labels.dtype.kind not in "iu":
        raise DataError(f"{where}: labels have dtype {printable(str(labels.dtype))}; expected integers 0-9")
    bad = np.flatnonzero((labels < 0) | (labels >= N_CLASSES))
    if bad.size:
        raise DataError(f"{where}: label {labels[bad[0]]} at index {bad[0]} is outside 0-9 "
                        f"({bad.size} such labels)")
    return labels.astype(np.int64)


def unit_pixels(images: np.ndarray, where: str) -> np.ndarray:
    """Pixels as float32 in [0, 1]: integers are intensities 0-255, floats must already be in [0, 1]."""
    kind = images.dtype.kind
    if kind in "iu" and images.dtype != np.uint8:
        _refuse_outside(images, 0, 255, where, "intensities 0-255")
        images = images.astype(np.uint8)
    if images.dtype == np.uint8:
        pixels = images.astype(np.float32)
        pixels /= np.float32(255.0)  # the same operation as the bundled IDX path: identical bits
        return pixels
    if kind != "f":
        raise DataError(f"{where}: pixels have dtype {printable(str(images.dtype))}; expected uint8 0-255 or floats in [0, 1]")
    finite = np.isfinite(images)
    if not finite.all():
        row = int(np.flatnonzero(~finite.all(axis=1))[0])
        raise DataError(f"{where}: image {row} holds NaN or infinite pixel values "
                        f"({int((~finite).sum())} in all); every pixel must be a number in [0, 1]")
    _refuse_outside(images, 0.0, 1.0, where, "floats in [0, 1] (uint8 for 0-255)")
    return images.astype(np.float32)


def _refuse_outside(images: np.ndarray, low, high, where: str, expected: str) -> None:
    outside = (images < low) | (images > high)
    if outside.any():
        row, column = (int(i[0]) for i in np.nonzero(outside))
        raise DataError(f"{where}: pixel {images[row, column]} of image {row} is outside the range; "
                        f"expected {expected}")


def printable(text: str, limit: int = 100) -> str:
    """Text from a file, safe for a one-line message: control characters escaped, length capped."""
    text = "".join(char if char.isprintable() else ascii(char)[1:-1] for char in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe(error: Exception) -> str:
    """An exception raised by a parser, as ``Type: first line of its message``."""
    text = printable(str(error).strip())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
