"""Image files for ``nnback predict --image``: every readable picture becomes MNIST-like pixels and
everything else (random or damaged bytes) is refused with a DataError naming the file."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest

from conftest import draw_mutation
from nnback.data import DataError
from nnback.images import load_digit

Image = pytest.importorskip("PIL.Image")
hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies
EXAMPLES = int(os.environ.get("NNBACK_FUZZ_EXAMPLES", "150"))


def png_bytes(pixels: np.ndarray, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt)
    return buffer.getvalue()


STROKE = np.zeros((40, 30), dtype=np.uint8)
STROKE[5:35, 12:18] = 255


def check(path) -> str:
    try:
        pixels = load_digit(path)
    except DataError as error:
        assert str(path) in str(error) and "\n" not in str(error)
        return "refused"
    assert pixels.shape == (784,) and pixels.dtype == np.float64
    assert np.isfinite(pixels).all() and pixels.min() >= 0.0 and pixels.max() <= 1.0
    return "loaded"


@hypothesis.settings(max_examples=EXAMPLES, deadline=None,
                     suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture])
@hypothesis.given(data=st.data())
def test_random_and_mutated_image_files_load_or_are_refused(tmp_path, data):
    fmt = data.draw(st.sampled_from(["PNG", "BMP", "GIF"]))
    kind, raw = draw_mutation(data, png_bytes(STROKE, fmt), max_flips=6, max_random=500)
    path = tmp_path / "input.png"
    path.write_bytes(raw)
    hypothesis.event(f"{fmt} {kind}: {check(path)}")


@hypothesis.settings(max_examples=EXAMPLES // 3, deadline=None,
                     suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture])
@hypothesis.given(height=st.integers(1, 120), width=st.integers(1, 120), seed=st.integers(0, 2**32 - 1),
                  mode=st.sampled_from(["L", "RGB", "RGBA", "LA", "1", "P"]))
def test_any_picture_of_any_size_and_mode_becomes_pixels_or_a_blank_error(tmp_path, height, width, seed, mode):
    rng = np.random.default_rng(seed)
    image = Image.fromarray(rng.integers(0, 256, (height, width, 4), dtype=np.uint8), "RGBA").convert(mode)
    image.save(tmp_path / "picture.png")
    hypothesis.event(f"{mode}: {check(tmp_path / 'picture.png')}")


def test_a_stroke_is_centred_white_on_black(tmp_path):
    (tmp_path / "ink.png").write_bytes(png_bytes(255 - STROKE))  # black stroke on white paper
    pixels = load_digit(tmp_path / "ink.png").reshape(28, 28)
    rows, cols = np.nonzero(pixels > 0.5)
    assert rows.max() - rows.min() + 1 == 20  # the longer side fills MNIST's 20-pixel box
    assert abs(np.average(np.arange(28), weights=pixels.sum(axis=1)) - 14) < 1  # centre of mass in the middle
    assert pixels[0, 0] == 0.0
