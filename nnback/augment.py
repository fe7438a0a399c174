"""Data augmentation of 28×28 image batches on the device, with standard operations only.

Each transform maps a batch x (batch, 784) to a new batch by *gathering* source pixels
(``take`` on flattened indices), with randomness from the counter-based generator in ``rng.py``,
so the GPU augments without a host round trip and every backend draws the same distortions.
"""

from __future__ import annotations

import math

from array_api_compat import array_namespace
from array_api_compat import device as device_of

from .rng import random_bits, stream_key, uniform

SIDE = 28


def _grid(xp, dtype, device):
    """Row and column coordinates of every pixel, each (1, 784)."""
    pixel = xp.arange(SIDE * SIDE, dtype=xp.int64, device=device)
    return xp.astype(xp.reshape(pixel // SIDE, (1, -1)), dtype), xp.astype(xp.reshape(pixel % SIDE, (1, -1)), dtype)


def _gather(x, rows, cols):
    """x[b, rows, cols] for integer-valued (batch, 784) coordinates; 0 outside the image."""
    xp = array_namespace(x)
    inside = (rows >= 0) & (rows <= SIDE - 1) & (cols >= 0) & (cols <= SIDE - 1)
    # minimum/maximum rather than clip: array-api-compat's clip writes through a boolean mask,
    # which makes CuPy synchronise with the host (caught by tests/test_gpu.py).
    rows = xp.minimum(xp.maximum(rows, 0.0), float(SIDE - 1))
    cols = xp.minimum(xp.maximum(cols, 0.0), float(SIDE - 1))
    batch = xp.reshape(xp.arange(x.shape[0], dtype=xp.int64, device=device_of(x)), (-1, 1))
    index = batch * (SIDE * SIDE) + xp.astype(rows, xp.int64) * SIDE + xp.astype(cols, xp.int64)
    values = xp.take(xp.reshape(x, (-1,)), xp.reshape(index, (-1,)))
    return xp.reshape(values, x.shape) * xp.astype(inside, x.dtype)


def translate(x, key: int, max_shift: int = 2):
    """Shift each image by a random whole number of pixels in [−max_shift, max_shift] along each
    axis; pixels shifted in from outside are background (0)."""
    xp = array_namespace(x)
    bits = random_bits(xp, (2, x.shape[0]), key, device_of(x))
    shifts = xp.astype(bits % (2 * max_shift + 1), x.dtype) - float(max_shift)
    rows, cols = _grid(xp, x.dtype, device_of(x))
    return _gather(x, rows - xp.reshape(shifts[0, :], (-1, 1)), cols - xp.reshape(shifts[1, :], (-1, 1)))


def _gaussian_matrix(xp, sigma: float, dtype, device):
    """(28, 28) matrix whose product smooths along one axis with a Gaussian of width ``sigma``
    (zero beyond the border, as scipy's gaussian_filter with mode='constant')."""
    i = xp.arange(SIDE, dtype=dtype, device=device)
    distance = xp.reshape(i, (-1, 1)) - xp.reshape(i, (1, -1))
    return xp.exp(distance * distance * (-0.5 / sigma**2)) * (1.0 / (sigma * math.sqrt(2.0 * math.pi)))


def elastic(x, key: int, alpha: float = 34.0, sigma: float = 4.0):
    """Simard et al. (2003) elastic distortion: a random displacement field, uniform in [−1, 1]
    per pixel, smoothed by a Gaussian of width ``sigma``, scaled by ``alpha`` and applied with
    bilinear interpolation."""
    xp, device, n = array_namespace(x), device_of(x), x.shape[0]
    field = uniform(xp, (2, n, SIDE, SIDE), key, x.dtype, device) * 2.0 - 1.0
    smooth = _gaussian_matrix(xp, sigma, x.dtype, device)
    field = xp.reshape((smooth @ field @ smooth) * alpha, (2, n, SIDE * SIDE))
    rows, cols = _grid(xp, x.dtype, device)
    source_rows, source_cols = rows + field[0, ...], cols + field[1, ...]
    top, left = xp.floor(source_rows), xp.floor(source_cols)
    down, right = source_rows - top, source_cols - left
    return (
        _gather(x, top, left) * ((1.0 - down) * (1.0 - right))
        + _gather(x, top, left + 1.0) * ((1.0 - down) * right)
        + _gather(x, top + 1.0, left) * (down * (1.0 - right))
        + _gather(x, top + 1.0, left + 1.0) * (down * right)
    )


AUGMENTATIONS = {"none": None, "translate": translate, "elastic": elastic}


def get_augmentation(name: str):
    """The augmentation called ``name`` as ``f(x, key)``, or None for "none"."""
    try:
        return AUGMENTATIONS[name]
    except KeyError:
        raise ValueError(f"unknown augmentation {name!r}; choose one of {', '.join(AUGMENTATIONS)}") from None


def check_images(n_in: int, name: str) -> None:
    """Augmentations move pixels of 28×28 images; refuse them for other input sizes."""
    if name != "none" and n_in != SIDE * SIDE:
        raise ValueError(f"--augment {name} works on 28x28 images (784 inputs), not {n_in} inputs")


def preview_keys(seed: int, count: int) -> list[int]:
    """Keys for showing ``count`` augmented versions of the same digits (``nnback augment``)."""
    return [stream_key(seed, 0xA06, i) for i in range(count)]
