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


# ------------------------------------------------------------------ every encoding, bombs, special files


@pytest.fixture(scope="module")
def ink() -> np.ndarray:
    """A real digit drawn dark on white, 56x56 uint8 (MNIST test image 0, doubled and inverted)."""
    from nnback.data import bundled_dir, read_idx_dir

    digit = read_idx_dir(bundled_dir())["test_images"][0].reshape(28, 28)
    return 255 - np.kron(digit, np.ones((2, 2), dtype=np.uint8))


def encodings(ink: np.ndarray) -> dict:
    """The same pixels in other modes: (Pillow image, format to save it in)."""
    gray = Image.fromarray(ink)
    alpha = np.full_like(ink, 255)
    return {
        "I;16 PNG": (Image.fromarray(ink.astype(np.uint16) * 257), "PNG"),
        "I TIFF": (Image.fromarray(ink.astype(np.int32) * 257, "I"), "TIFF"),
        "F in [0, 1]": (Image.fromarray(ink.astype(np.float32) / 255, "F"), "TIFF"),
        "F in [0, 255]": (Image.fromarray(ink.astype(np.float32), "F"), "TIFF"),
        "LA": (Image.fromarray(np.stack([ink, alpha], axis=-1), "LA"), "PNG"),
        "RGBA": (gray.convert("RGBA"), "PNG"),
        "RGB": (gray.convert("RGB"), "PNG"),
        "P": (gray.convert("P", palette=Image.Palette.ADAPTIVE, colors=256), "PNG"),
    }


def test_every_encoding_of_a_digit_reads_like_its_8_bit_copy(tmp_path, ink):
    Image.fromarray(ink).save(tmp_path / "8bit.png")
    reference = load_digit(tmp_path / "8bit.png")
    for name, (image, fmt) in encodings(ink).items():
        path = tmp_path / f"{name.replace(' ', '_')}.{fmt.lower()}"
        image.save(path, format=fmt)
        assert Image.open(path).mode == image.mode, name  # the file really holds that encoding
        np.testing.assert_allclose(load_digit(path), reference, atol=1 / 255, err_msg=name)


def test_a_16_bit_image_with_a_faint_digit_is_scaled_not_clipped(tmp_path):
    """Ink at 40000 on a 60000 background: convert("L") would clip both to white and see no digit."""
    pixels = np.full((40, 30), 60000, dtype=np.uint16)
    pixels[5:35, 12:18] = 40000
    Image.fromarray(pixels).save(tmp_path / "faint.png")
    digit = load_digit(tmp_path / "faint.png").reshape(28, 28)
    assert digit.max() == 1.0 and (digit > 0.5).sum() > 50


@pytest.mark.parametrize("size", [(150, 100), (300, 300)])  # over the limit (a warning), over twice it (an error)
def test_a_decompression_bomb_is_a_one_line_refusal(tmp_path, monkeypatch, size):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)
    Image.new("L", size, 255).save(tmp_path / "bomb.png")
    with pytest.raises(DataError, match="refused, the image is too large"):
        load_digit(tmp_path / "bomb.png")


def test_special_files_as_an_image_are_refused_without_reading(tmp_path, alarm):
    import socket

    os.mkfifo(tmp_path / "fifo.png")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "sock.png"))
    for path in (tmp_path / "fifo.png", tmp_path / "sock.png", "/dev/zero", "/dev/null", tmp_path):
        with pytest.raises(ValueError, match="not a regular file"):
            load_digit(path)
