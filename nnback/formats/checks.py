"""Checks every reader applies, so each format ends in the same arrays or a one-line DataError.

A reader hands over a :class:`Part` per split exactly as its file holds it; :func:`features_of`
decides image or tabular and scales, :func:`label_keys` refuses labels that would train a silently
wrong model. Images become float32 in [0, 1]; tabular rows stay their raw values as float32.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..data import DataError

MIN_SQUARE = 16  # fewer features than a 4x4 image are never guessed to be one


@dataclass(frozen=True)
class Part:
    """One split as a file holds it: samples x (n, ...), labels y (n,) or None, and how to name
    a value's place in errors (``locate(row, column)``: "line 3, column 5" or "row 3, value 5")."""

    x: np.ndarray
    y: np.ndarray | None
    where: str
    locate: Callable[[int, int], str] | None = None
    text: bool = False  # numbers written as text: image pixels must be whole numbers 0-255
    names: tuple[str, ...] | None = None  # the feature columns' names (a CSV header), in order

    def at(self, row: int, column: int) -> str:
        if self.locate:
            return self.locate(row, column)
        return f"row {row}" if column < 0 else f"row {row}, value {column}"


@dataclass(frozen=True)
class Parts:
    """What a file holds: training and test parts (test None: one file, hold a test set out) and a
    validation part if it brings one; ``image_shape``: the reader's view (a shape, None, or "auto")."""

    train: Part
    test: Part | None = None
    val: Part | None = None
    image_shape: tuple | None | str = "auto"
    label_column: str | None = None  # a CSV header's name of the training labels' column
    label_position: int | None = None  # that column's 0-based place among a CSV's columns


def in_columns_of(part: Part, names, extra: str = "refuse") -> Part:
    """``part`` with its feature columns in the order of ``names``, matched by header name (in any
    case where the exact names differ), so a file whose columns come in another order is read by
    name, not by place; a file that lacks one of them or names one twice is refused, and one with
    columns besides them too (``extra="drop"``: left out, for rows read without labels). Unchanged
    where either side has no names (a file without a header, a model from before names were kept)
    or the model's names repeat."""
    if names is None or part.names is None or tuple(part.names) == tuple(names) or len(set(names)) != len(names):
        return part
    have = list(part.names)
    if not set(names) <= set(have):  # names that differ only in case match, as label columns do
        by_fold = {name.casefold(): name for name in names}
        if len(by_fold) == len(names):
            have = [by_fold.get(name.casefold(), name) for name in have]
    missing = [name for name in names if name not in have]
    twice = [name for name in names if have.count(name) > 1]
    others = [name for name in have if name not in names]
    if missing or twice or (others and extra != "drop"):
        what = (f"has no column {printable(repr(missing[0]), 40)}" if missing else
                f"names the column {printable(repr(twice[0]), 40)} {have.count(twice[0])} times" if twice else
                f"has a column {printable(repr(others[0]), 40)}")
        raise DataError(f"{part.where}: {what}, but the model was trained on the columns "
                        f"{printable(', '.join(names), 200)}; name the columns as those (or drop the header "
                        "to match them by position)")
    order = [have.index(name) for name in names]
    return dataclasses.replace(part, x=part.x[:, order], names=tuple(names),
                               locate=lambda row, column: part.at(row, order[column] if column >= 0 else column))


CHANNELS = (1, 3, 4)  # gray, RGB, RGBA


def channels_last(parts: Parts, requested) -> tuple[Parts, str | None]:
    """Parts of (n, c, h, w) images (PyTorch's layout: 1, 3 or 4 channels before sides above 4)
    as (n, h, w, c), the layout image shapes and augmentation read, and a note saying so. Left as
    they are when ``requested`` is another shape (a model trained on them that way) or None."""
    x = parts.train.x
    if not (x.ndim == 4 and x.shape[1] in CHANNELS and x.shape[3] not in CHANNELS and min(x.shape[2:]) > 4):
        return parts, None
    moved = (x.shape[2], x.shape[3], x.shape[1])
    if requested != "auto" and (requested is None or tuple(requested) != moved):
        return parts, None

    def move(part):
        if part is None or part.x.shape[1:] != x.shape[1:]:
            return part
        return dataclasses.replace(part, x=np.moveaxis(part.x, 1, -1))

    note = (f"images: {x.shape[1]} channel{'s' if x.shape[1] > 1 else ''} first in the file "
            f"({'x'.join(map(str, x.shape[1:]))}), "
            f"read as {'x'.join(map(str, moved))}")
    return dataclasses.replace(parts, train=move(parts.train), test=move(parts.test), val=move(parts.val)), note


def choose_shape(part: Part, requested) -> tuple | None:
    """The image shape for ``part``: ``requested`` when it is a shape or None, else images when the
    samples are 2-D+ arrays or rows of whole numbers 0-255 with a perfect-square count."""
    if requested != "auto":
        return None if requested is None else tuple(int(size) for size in requested)
    x = part.x
    if x.ndim in (3, 4):
        return tuple(x.shape[1:])
    if x.ndim != 2 or x.shape[1] < MIN_SQUARE or math.isqrt(x.shape[1]) ** 2 != x.shape[1]:
        return None
    if x.dtype.kind not in "iuf" or x.size == 0:
        return None
    if x.dtype.kind == "f" and not (part.text and np.isfinite(x).all() and (x == np.round(x)).all()):
        return None
    if x.min() < 0 or x.max() > 255:
        return None
    side = math.isqrt(x.shape[1])
    return (side, side)


def features_of(part: Part, shape: tuple | None, scale: int | None = None) -> np.ndarray:
    """(n, d) float32: images scaled to [0, 1], tabular values as they are (finite numbers).
    ``scale``: what integer pixels are divided by, fixed once for a dataset's splits
    (:func:`pixel_scale`) and stored with the model, so that every split and every later file is
    scaled alike; None: this part's own."""
    x = part.x
    if x.ndim < 2:
        raise DataError(f"{part.where}: samples of shape {x.shape}; "
                        "expected (n, features) or (n, height, width[, channels])")
    n = x.shape[0]
    if n == 0:
        raise DataError(f"{part.where}: holds no rows (empty dataset)")
    d = int(np.prod(x.shape[1:]))
    flat = x.reshape(n, d)
    if x.dtype.kind not in "iuf" and x.dtype != np.bool_:
        raise DataError(f"{part.where}: values have dtype {printable(str(x.dtype))}; expected numbers")
    if shape is None:
        with np.errstate(over="ignore"):  # a value beyond float32 becomes inf, refused just below
            return _finite(flat.astype(np.float32), part)
    if int(np.prod(shape)) != d:
        raise DataError(f"{part.where}: an image shape that does not fit the samples: "
                        f"{'x'.join(map(str, shape))} = {int(np.prod(shape))} values, but each sample holds {d}")
    return unit_pixels(flat, part, scale)


PIXEL_RANGES = (1, 16, 255)  # binary, scikit-learn's 8x8 digits' intensities 0-16, 8-bit


def pixel_scale(parts) -> int:
    """What the integer pixels of a dataset's ``parts`` are divided by, one number for them all:
    65535 when they are all 16-bit, else the smallest of 1, 16 and 255 that holds every value
    (MNIST's 0-255 divide by 255, 0/1 images stay 0/1, scikit-learn digits' 0-16 divide by 16; 255
    when every pixel is 0, which says nothing of the range). Float and bool pixels are
    already in [0, 1] and do not count (1 when nothing else is there)."""
    counted = [part for part in parts if part.x.dtype.kind in "iu" or (part.x.dtype.kind == "f" and part.text)]
    if not counted:
        return 1
    if all(part.x.dtype == np.uint16 for part in counted):
        return 65535
    top = max(float(part.x.max()) if part.x.size else 0.0 for part in counted)
    return 255 if top == 0 else next((limit for limit in PIXEL_RANGES if top <= limit), 255)


def unit_pixels(flat: np.ndarray, part: Part, scale: int | None = None) -> np.ndarray:
    """Pixels as float32 in [0, 1]: integers over ``scale`` (None: their own :func:`pixel_scale`;
    255 for 8-bit data, as the bundled IDX path, for identical bits), bools as 0/1, floats already
    in [0, 1]; text numbers must be whole 0-255. Integers beyond a given ``scale`` are refused: the
    model's images never went there, and dividing them by their own range would change what a pixel
    value means."""
    kind = flat.dtype.kind
    if kind == "b":  # True is full intensity, whatever the other files' range
        return flat.astype(np.float32)
    scale = pixel_scale([dataclasses.replace(part, x=flat)]) if scale is None else scale
    if flat.dtype == np.uint16 and scale == 65535:
        pixels = flat.astype(np.float32)
        pixels /= np.float32(65535.0)
        return pixels
    if part.text and kind == "f":
        _refuse(~np.isfinite(flat), flat, part, "is NaN or infinite; every value must be a number")
        _refuse(flat != np.round(flat), flat, part, "is not a whole number; pixels are intensities 0-255")
        kind = "i"
    if kind in "iu":
        if flat.dtype != np.uint8:
            _refuse((flat < 0) | (flat > 255), flat, part, "is outside 0-255; expected intensities 0-255")
            flat = flat.astype(np.uint8)
        _refuse(flat > scale, flat, part, f"is beyond the pixel range 0-{scale} of the model's "
                "training images; give images of the same kind")
        pixels = flat.astype(np.float32)
        pixels /= np.float32(scale)
        return pixels
    _refuse(~np.isfinite(flat), flat, part, "is NaN or infinite; every pixel must be a number in [0, 1]")
    _refuse((flat < 0) | (flat > 1), flat, part, "is outside the range; expected floats in [0, 1] (or integers 0-255)")
    return flat.astype(np.float32)


def _finite(features: np.ndarray, part: Part) -> np.ndarray:
    _refuse(~np.isfinite(features), features, part, "is NaN or infinite (or too large for float32)")
    return features


def _refuse(mask: np.ndarray, values: np.ndarray, part: Part, what: str) -> None:
    if mask.any():
        row, column = (int(i[0]) for i in np.nonzero(mask))
        raise DataError(f"{part.where}: {part.at(row, column)}: value {values[row, column]:g} {what}")


def label_keys(part: Part) -> np.ndarray:
    """The labels as int64 (integers, whole floats) or str (names), one per sample."""
    y, where = part.y, part.where
    if y is None:
        raise DataError(f"{where}: holds no labels; training needs a label for every sample")
    n = part.x.shape[0] if part.x.ndim else 0
    if y.ndim != 1 or y.shape[0] != n:
        raise DataError(f"{where}: {n} samples but labels of shape {y.shape}; expected one label per sample")
    if y.dtype.kind in "US":
        names = np.char.strip(y.astype(str))
        empty = np.flatnonzero(names == "")
        if empty.size:
            raise DataError(f"{where}: {part.at(int(empty[0]), -1)}: the label is empty")
        return names
    if y.dtype.kind == "u" and y.size and int(y.max()) > np.iinfo(np.int64).max:
        row = int(np.argmax(y))
        raise DataError(f"{where}: {part.at(row, -1)}: label {int(y[row])} is beyond 2**63 - 1; "
                        "class labels are whole numbers below that, or names")
    if y.dtype.kind in "iub":
        return y.astype(np.int64)
    if y.dtype.kind == "f":
        y = y.astype(np.float64)  # float16 cannot hold 2**53 to compare with
        bad = np.flatnonzero(~np.isfinite(y) | (y != np.round(y)))
        if bad.size:
            raise DataError(f"{where}: {part.at(int(bad[0]), -1)}: label {y[bad[0]]:g} is not a whole number; "
                            "class labels are whole numbers or names")
        big = np.flatnonzero(np.abs(y) >= 2**53)
        if big.size:
            raise DataError(f"{where}: {part.at(int(big[0]), -1)}: label {y[big[0]]:g} is too large to be told from its "
                            "neighbours (2**53 and beyond, as a floating-point number); give the classes smaller "
                            "numbers or names")
        return y.astype(np.int64)
    raise DataError(f"{where}: labels have dtype {printable(str(y.dtype))}; expected integers or class names")


def printable(text: str, limit: int = 100) -> str:
    """Text from a file, safe for a one-line message: control characters escaped, length capped."""
    text = "".join(char if char.isprintable() else ascii(char)[1:-1] for char in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe(error: Exception) -> str:
    """An exception raised by a parser, as ``Type: first line of its message``."""
    text = printable(str(error).strip())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
