"""Small MNIST-shaped files in every format nnback reads, written by the tests themselves."""

from __future__ import annotations

import gzip
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnback.data import FILES


@dataclass
class Sample:
    """uint8 images (n, 28, 28) and labels 0-9, for a training and a test part."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray


def make_sample(n_train: int = 8, n_test: int = 5, seed: int = 0) -> Sample:
    rng = np.random.default_rng(seed)
    images = lambda n: rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)  # noqa: E731
    labels = lambda n: rng.integers(0, 10, size=n).astype(np.uint8)  # noqa: E731
    train_images, train_labels, test_images, test_labels = images(n_train), labels(n_train), images(n_test), labels(n_test)
    if n_train:  # the last 3 training rows (validation) and the test rows hold only classes of the
        known = np.unique(train_labels[: max(n_train - 3, 1)])  # first rows, as a classifier needs
        train_labels[-3:] = known[train_labels[-3:] % known.size]
        test_labels = known[test_labels % known.size]
    return Sample(train_images, train_labels, test_images, test_labels)


def decoded(data, split) -> np.ndarray:
    """A split's labels as the class names they stand for, as integers (for comparing with a Sample)."""
    return np.array([int(data.classes[code]) for code in split.labels], dtype=np.int64)


def unit(images: np.ndarray) -> np.ndarray:
    """uint8 images as nnback holds them: float32 (n, 784) in [0, 1]."""
    pixels = images.reshape(len(images), 784).astype(np.float32)
    pixels /= np.float32(255.0)
    return pixels


def idx_bytes(array: np.ndarray) -> bytes:
    magic = 2051 if array.ndim == 3 else 2049
    return struct.pack(f">i{array.ndim}i", magic, *array.shape) + array.astype(np.uint8).tobytes()


def write_idx_dir(directory: Path, sample: Sample, gz: bool = True) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {"train_images": sample.train_images, "train_labels": sample.train_labels,
              "test_images": sample.test_images, "test_labels": sample.test_labels}
    for key, stem in FILES.items():
        raw = idx_bytes(arrays[key])
        (directory / (stem + ".gz" if gz else stem)).write_bytes(gzip.compress(raw) if gz else raw)
    return directory


def csv_text(images: np.ndarray, labels: np.ndarray, header: bool = False) -> str:
    lines = [",".join(["label"] + [f"pixel{i}" for i in range(784)])] if header else []
    for image, label in zip(images.reshape(len(images), 784), labels):
        lines.append(",".join([str(int(label))] + [str(int(v)) for v in image]))
    return "\n".join(lines) + "\n"


def write_csv_pair(directory: Path, sample: Sample, header: bool = False,
                   names=("mnist_train.csv", "mnist_test.csv")) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / names[0]).write_text(csv_text(sample.train_images, sample.train_labels, header))
    (directory / names[1]).write_text(csv_text(sample.test_images, sample.test_labels, header))
    return directory / names[0]


def write_npz(path: Path, sample: Sample, **overrides) -> Path:
    arrays = {"x_train": sample.train_images, "y_train": sample.train_labels,
              "x_test": sample.test_images, "y_test": sample.test_labels}
    arrays.update(overrides)
    np.savez_compressed(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


def nielsen_content(sample: Sample, n_val: int):
    """Nielsen's structure: ((train images, labels), (val ...), (test ...)), float32 / int64."""
    cut = len(sample.train_labels) - n_val
    pair = lambda images, labels: (unit(images), labels.astype(np.int64))  # noqa: E731
    return (pair(sample.train_images[:cut], sample.train_labels[:cut]),
            pair(sample.train_images[cut:], sample.train_labels[cut:]),
            pair(sample.test_images, sample.test_labels))


def write_pickle(path: Path, content, protocol: int = 2, gz: bool = True, python2: bool = False) -> Path:
    raw = python2_pickle(content) if python2 else pickle.dumps(content, protocol=protocol)
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


def python2_pickle(content) -> bytes:
    """Protocol-2 bytes as Python 2's cPickle wrote Nielsen's file: ``numpy.core`` names and
    array data as 8-bit strings (which Python 3 reads back only with ``encoding="latin1"``)."""
    return b"\x80\x02" + _py2(content) + b"."


def _py2(obj) -> bytes:
    if isinstance(obj, tuple):
        return b"(" + b"".join(_py2(item) for item in obj) + b"t"
    if isinstance(obj, bool):
        return b"\x88" if obj else b"\x89"
    if isinstance(obj, int):
        return b"J" + struct.pack("<i", obj)
    if obj is None:
        return b"N"
    if isinstance(obj, bytes):
        return b"T" + struct.pack("<I", len(obj)) + obj
    if isinstance(obj, np.dtype):
        return (b"cnumpy\ndtype\n" + _py2((obj.str[1:].encode(), 0, 1)) + b"R"  # NumPy 1.x: ints
                + _py2((3, obj.str[0].encode(), None, None, None, -1, -1, 0)) + b"b")
    assert isinstance(obj, np.ndarray)
    reconstruct = b"cnumpy.core.multiarray\n_reconstruct\n" + _py2_args(b"cnumpy\nndarray\n") + b"R"
    state = _py2((1, obj.shape, obj.dtype, False, np.ascontiguousarray(obj).tobytes()))
    return reconstruct + state + b"b"


def _py2_args(ndarray_global: bytes) -> bytes:
    return b"(" + ndarray_global + _py2((0,)) + _py2(b"b") + b"t"


class Evil:
    """Pickles as a call of ``function(*args)``: what a malicious pickle would run."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args
