"""Data augmentation of image batches on the device, with standard operations only.

A batch x is (batch, h·w·c): images of ``shape`` (h, w) or (h, w, c) flattened row-major. Each
transform maps it to a new batch by *gathering* source pixels (``take`` on flattened indices), with
randomness from the counter-based generator in ``rng.py``, so the GPU augments without a host round
trip and every backend draws the same distortions. Channels move together.
"""

from __future__ import annotations

import math
from functools import partial

from array_api_compat import device as device_of

from .arrays import array_namespace
from .products import matmul
from .rng import random_integers, stream_key, uniform

MNIST_SHAPE = (28, 28)
MIN_SIDE_TO_SHIFT = 16  # the automatic choice: smaller images (8×8 digits) lose too much to a shift


def _dims(shape) -> tuple[int, int, int]:
    height, width = int(shape[0]), int(shape[1])
    return height, width, int(shape[2]) if len(shape) > 2 else 1


def _grid(xp, shape, dtype, device):
    """Row and column coordinates of every pixel, each (1, h·w)."""
    height, width, _ = _dims(shape)
    pixel = xp.arange(height * width, dtype=xp.int64, device=device)
    return (xp.astype(xp.reshape(pixel // width, (1, -1)), dtype),
            xp.astype(xp.reshape(pixel % width, (1, -1)), dtype))


def _gather(x, rows, cols, shape):
    """x[b, rows, cols, :] for integer-valued (batch, h·w) coordinates; 0 outside the image."""
    xp = array_namespace(x)
    height, width, channels = _dims(shape)
    inside = (rows >= 0) & (rows <= height - 1) & (cols >= 0) & (cols <= width - 1)
    # minimum/maximum rather than clip: array-api-compat's clip writes through a boolean mask,
    # which makes CuPy synchronise with the host (caught by tests/test_gpu.py).
    rows = xp.minimum(xp.maximum(rows, 0.0), float(height - 1))
    cols = xp.minimum(xp.maximum(cols, 0.0), float(width - 1))
    batch = xp.reshape(xp.arange(x.shape[0], dtype=xp.int64, device=device_of(x)), (-1, 1))
    pixel = batch * (height * width) + xp.astype(rows, xp.int64) * width + xp.astype(cols, xp.int64)
    mask = xp.astype(inside, x.dtype)
    if channels > 1:
        channel = xp.reshape(xp.arange(channels, dtype=xp.int64, device=device_of(x)), (1, 1, -1))
        pixel = xp.reshape(pixel, (pixel.shape[0], -1, 1)) * channels + channel
        mask = xp.reshape(mask, (mask.shape[0], -1, 1))
    values = xp.take(xp.reshape(x, (-1,)), xp.reshape(pixel, (-1,)))
    return xp.reshape(xp.reshape(values, pixel.shape) * mask, x.shape)


def translate(x, key, max_shift: int = 2, shape=MNIST_SHAPE):
    """Shift each image by a random whole number of pixels in [−max_shift, max_shift] along each
    axis; pixels shifted in from outside are background (0)."""
    xp = array_namespace(x)
    draws = random_integers(xp, (2, x.shape[0]), key, 2 * max_shift + 1, device_of(x), batch_axis=1)
    shifts = xp.astype(draws, x.dtype) - float(max_shift)
    rows, cols = _grid(xp, shape, x.dtype, device_of(x))
    return _gather(x, rows - xp.reshape(shifts[0, :], (-1, 1)), cols - xp.reshape(shifts[1, :], (-1, 1)), shape)


def _gaussian_matrix(xp, side: int, sigma: float, dtype, device):
    """(side, side) matrix whose product smooths along one axis with a Gaussian of width ``sigma``
    (zero beyond the border, as scipy's gaussian_filter with mode='constant')."""
    i = xp.arange(side, dtype=dtype, device=device)
    distance = xp.reshape(i, (-1, 1)) - xp.reshape(i, (1, -1))
    return xp.exp(distance * distance * (-0.5 / sigma**2)) * (1.0 / (sigma * math.sqrt(2.0 * math.pi)))


def elastic(x, key, alpha: float = 34.0, sigma: float = 4.0, shape=MNIST_SHAPE):
    """Simard et al. (2003) elastic distortion: a random displacement field, uniform in [−1, 1]
    per pixel, smoothed by a Gaussian of width ``sigma``, scaled by ``alpha`` and applied with
    bilinear interpolation (alpha and sigma are in pixels of a 28-pixel image and scale with it)."""
    xp, device, n = array_namespace(x), device_of(x), x.shape[0]
    height, width, _ = _dims(shape)
    scale = min(height, width) / 28.0
    alpha, sigma = alpha * scale, max(sigma * scale, 0.5)
    field = uniform(xp, (2, n, height, width), key, x.dtype, device, batch_axis=1) * 2.0 - 1.0
    smooth_rows, smooth_cols = (_gaussian_matrix(xp, side, sigma, x.dtype, device) for side in (height, width))
    field = matmul(matmul(smooth_rows, field), smooth_cols)  # products.py: capturable on CuPy
    field = xp.reshape(field * alpha, (2, n, height * width))
    rows, cols = _grid(xp, shape, x.dtype, device)
    source_rows, source_cols = rows + field[0, ...], cols + field[1, ...]
    top, left = xp.floor(source_rows), xp.floor(source_cols)
    down, right = source_rows - top, source_cols - left
    if len(shape) > 2:  # the same weights for every channel of a pixel
        down, right = (xp.reshape(w, (n, -1, 1)) for w in (down, right))
        down = xp.reshape(xp.broadcast_to(down, (n, height * width, shape[2])), (n, -1))
        right = xp.reshape(xp.broadcast_to(right, (n, height * width, shape[2])), (n, -1))
    return (
        _gather(x, top, left, shape) * ((1.0 - down) * (1.0 - right))
        + _gather(x, top, left + 1.0, shape) * ((1.0 - down) * right)
        + _gather(x, top + 1.0, left, shape) * (down * (1.0 - right))
        + _gather(x, top + 1.0, left + 1.0, shape) * (down * right)
    )


AUGMENTATIONS = {"none": None, "translate": translate, "elastic": elastic}


def automatic(image_shape) -> str:
    """The augmentation ``augment="auto"`` picks: shifts for images of at least
    ``MIN_SIDE_TO_SHIFT`` pixels a side, nothing for smaller images or tabular data."""
    if image_shape is None or min(int(s) for s in image_shape[:2]) < MIN_SIDE_TO_SHIFT:
        return "none"
    return "translate"


def get_augmentation(name: str, image_shape=MNIST_SHAPE):
    """The augmentation called ``name`` as ``f(x, key)`` for images of ``image_shape``, or None
    for "none". Shifts scale with the image: ±2 pixels on 28×28 (side / 14)."""
    if name not in AUGMENTATIONS:
        raise ValueError(f"unknown augmentation {name!r}; choose one of {', '.join(AUGMENTATIONS)}")
    if AUGMENTATIONS[name] is None:
        return None
    check_images(image_shape, name)
    shape = tuple(int(s) for s in image_shape)
    if name == "translate":
        return partial(translate, max_shift=max(1, round(min(shape[:2]) / 14)), shape=shape)
    return partial(elastic, shape=shape)


def check_images(image_shape, name: str) -> None:
    """Augmentations move pixels of images; refuse them for tabular data. The message reads as the
    ``augment`` setting's (``ConfigError("augment", ...)`` prefixes the field's name)."""
    if name == "none":
        return
    if image_shape is None or isinstance(image_shape, int):
        raise ValueError(f"{name} moves pixels of images; this data is tabular (use none)")


def preview_keys(seed: int, count: int) -> list[int]:
    """Keys for showing ``count`` augmented versions of the same digits (``nnback augment``)."""
    return [stream_key(seed, 0xA06, i) for i in range(count)]
