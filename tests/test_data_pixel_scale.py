"""Integer pixels are divided by one number, fixed by the training images and stored with the model,
so every split and every later file means the same thing by the same pixel value."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

import nnback
from nnback.cli import main
from nnback.data import DataError
from nnback.formats import Reading, load_dataset, read_examples

TINY = ["--hidden", "8", "--epochs", "1", "--batch-size", "8", "--val-size", "6", "--quiet"]


def images(n: int, top: int, seed: int = 0):
    """n 6x6 uint8 images with pixels 0..top, labels 0/1/2 in turn."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, top + 1, (n, 6, 6)).astype(np.uint8)
    x[:, 0, 0] = top  # every image reaches the top of its range
    return x, np.arange(n) % 3


@pytest.mark.parametrize("train_top, test_top", [(255, 16), (16, 255)])
def test_every_split_of_a_file_is_divided_by_its_widest_range(tmp_path, train_top, test_top):
    """A test part whose pixels stop at 16 was divided by 16 while training's 0-255 were divided
    by 255: the same pixel value meant two things and accuracy fell to 0% without a word. The
    other way round the file holds 8-bit pixels too: every split is divided by 255."""
    x, y = images(60, train_top)
    other, labels = images(12, test_top, seed=1)
    path = tmp_path / "pair.npz"
    np.savez(path, x_train=x, y_train=y, x_test=other, y_test=labels)
    data = load_dataset(path, val_size=6)
    assert data.pixel_scale == 255
    np.testing.assert_array_equal(data.test.features, other.reshape(12, -1).astype(np.float32) / np.float32(255))
    assert data.train.features.max() == np.float32(train_top) / np.float32(255)


def test_a_file_beyond_the_models_range_is_refused(tmp_path):
    """A model trained on pixels 0-16 given 8-bit images: refused, not divided by 255 in silence."""
    wide, labels = images(12, 255, seed=1)
    path = tmp_path / "wide.npz"
    np.savez(path, x=wide, y=labels)
    with pytest.raises(DataError, match="beyond the pixel range 0-16 of the model's training images"):
        read_examples(path, model=Reading(36, (6, 6), pixel_scale=16))
    assert read_examples(path, image_shape=(6, 6)).features.max() == 1.0  # a model that did not record it


def test_the_scale_is_stored_and_used_by_evaluate_and_predict(tmp_path):
    """After training on 0-255 images, a file holding only dark images (pixels up to 16) must be
    read with the model's 255, not its own 16: predict gave another class for the same image."""
    x, y = images(90, 255)
    x[y == 0] = np.minimum(x[y == 0], 16)
    whole, dark = tmp_path / "whole.npz", tmp_path / "dark.npz"
    np.savez(whole, x=x, y=y)
    np.savez(dark, x=x[y == 0], y=y[y == 0])
    model_path = tmp_path / "m.npz"
    result = CliRunner().invoke(main, ["train", "--data", str(whole), *TINY, "--save", str(model_path)])
    assert result.exit_code == 0, result.output
    _, info, _ = nnback.load_model(model_path)
    assert info.pixel_scale == 255
    read = read_examples(dark, model=info.reading)
    np.testing.assert_array_equal(read.features, x[y == 0].reshape(-1, 36).astype(np.float32) / np.float32(255))
    first = CliRunner().invoke(main, ["predict", str(model_path), "--data", str(whole), "--index", "0"])
    alone = CliRunner().invoke(main, ["predict", str(model_path), "--data", str(dark), "--index", "0"])
    assert first.exit_code == alone.exit_code == 0, first.output + alone.output
    assert first.output.splitlines()[-3:] == alone.output.splitlines()[-3:]  # image 0 is the dark file's row 0


def test_a_description_without_a_scale_still_loads(tmp_path):
    """Checkpoints written before the scale was stored read each file by its own range, as then."""
    info = nnback.DataInfo(36, ("a", "b"), (6, 6), pixel_scale=16)
    stored = info.as_dict()
    assert nnback.DataInfo.from_dict(stored, [36, 4, 2]).pixel_scale == 16
    del stored["pixel_scale"]
    assert nnback.DataInfo.from_dict(stored, [36, 4, 2]).pixel_scale is None
    with pytest.raises(ValueError, match="pixel_scale"):
        nnback.DataInfo.from_dict({**stored, "pixel_scale": 0}, [36, 4, 2])


def test_resuming_an_estimator_checkpoint_is_refused(tmp_path):
    """The estimator's save records no training data, so `train --resume` could not keep to it (it
    re-read the data its own way and trained on with other settings)."""
    pytest.importorskip("sklearn")
    from nnback.sklearn import MLPClassifier

    x, y = images(60, 255)
    flat = x.reshape(60, -1).astype(np.float32) / 255
    model_path = tmp_path / "sk.npz"
    MLPClassifier(hidden_layer_sizes=(8,), max_iter=2).fit(flat, y).save(model_path, image_shape=(6, 6))
    data = tmp_path / "d.npz"
    np.savez(data, x=x, y=y)
    result = CliRunner().invoke(main, ["train", "--resume", str(model_path), "--data", str(data), "--epochs", "3"])
    assert result.exit_code == 2, result.output
    assert "estimator" in result.output and "Traceback" not in result.output


def test_channels_first_images_are_read_channels_last(tmp_path):
    """(n, 3, 32, 32) arrays, PyTorch's layout, were taken for 3x32 images of 32 channels: the
    automatic augmentation went off without a word, and a forced one shifted the wrong axes."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (40, 3, 8, 8)).astype(np.uint8)
    y = np.arange(40) % 2
    np.savez(tmp_path / "chw.npz", x=x, y=y)
    data = load_dataset(tmp_path / "chw.npz", val_size=0)
    assert data.image_shape == (8, 8, 3)
    assert any("3 channels first in the file (3x8x8), read as 8x8x3" in note for note in data.notes)
    whole = read_examples(tmp_path / "chw.npz", image_shape=(8, 8, 3))
    np.testing.assert_array_equal(whole.features[5].reshape(8, 8, 3), np.moveaxis(x[5], 0, -1) / np.float32(255))
    as_before = read_examples(tmp_path / "chw.npz", image_shape=(3, 8, 8))  # a model trained on the old reading
    np.testing.assert_array_equal(as_before.features[5], x[5].reshape(-1) / np.float32(255))


def test_the_divisor_comes_from_values_not_a_mixed_dtype_and_the_note_shows_it(tmp_path):
    """uint8 training images beside a uint16 test part holding the same 0-255 values were divided
    by 65535 (the note said 255); bools beside uint8 were divided by 255 (the note said 1)."""
    x, y = images(60, 255)
    np.savez(tmp_path / "mixed.npz", x_train=x, y_train=y, x_test=x[:12].astype(np.uint16), y_test=y[:12])
    data = load_dataset(tmp_path / "mixed.npz", val_size=6)
    assert data.pixel_scale == 255 and data.train.features.max() == 1.0
    assert any("(pixels / 255)" in note for note in data.notes)
    np.savez(tmp_path / "bools.npz", x_train=x > 100, y_train=y, x_test=x[:12], y_test=y[:12])
    data = load_dataset(tmp_path / "bools.npz", val_size=6)
    assert data.train.features.max() == 1.0  # True is full intensity, whatever the divisor
    sixteen = tmp_path / "wide.npz"
    np.savez(sixteen, x=np.full((4, 6, 6), 65535, np.uint16), y=np.arange(4) % 2)
    assert read_examples(sixteen, image_shape=(6, 6)).features.max() == 1.0  # 16-bit alone: / 65535


def test_bool_images_for_an_8_bit_model_are_full_intensity(tmp_path):
    """A bool test file for a 0-255 model was divided by 255: True became 0.004."""
    x, y = images(12, 255)
    np.savez(tmp_path / "b.npz", x=x > 100, y=y)
    read = read_examples(tmp_path / "b.npz", model=Reading(36, (6, 6), pixel_scale=255))
    np.testing.assert_array_equal(read.features, (x > 100).reshape(12, -1).astype(np.float32))


def test_all_black_training_images_take_the_8_bit_divisor(tmp_path):
    """All-zero uint8 training images stored the divisor 1, and every later real image was refused."""
    np.savez(tmp_path / "black.npz", x=np.zeros((40, 6, 6), np.uint8), y=np.arange(40) % 2)
    assert load_dataset(tmp_path / "black.npz", val_size=0).pixel_scale == 255
