"""Datasets on the host: the Split and Dataset types, the bundled MNIST, and the validation hold-out.

The bundled files are the original IDX files of Y. LeCun, C. Cortes and C. Burges (CC BY-SA 3.0),
gzip-compressed. Every file is checked as it is read (magic number, counts, image size, and for the
bundled copy the SHA-256 of the decompressed bytes), so a damaged file names itself instead of
training a silently wrong model. Other formats and other data sets are read by :mod:`nnback.formats`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049
N_PIXELS, N_CLASSES = 784, 10  # MNIST facts; other data sets carry their own in Dataset
MAX_VAL_SIZE = 10_000
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


class DataError(ValueError):
    """A data file is missing, damaged or not what it claims to be; the message names it."""


class ValidationSizeError(DataError):
    """``val_size`` does not fit the training rows (a setting that may come from a preset)."""


@dataclass(frozen=True)
class Split:
    """One part of a dataset on the host: features (n, d) float32 and labels (n,) int64 codes.

    Image features are in [0, 1]; tabular features are the file's values (standardising is the
    model's business, fitted on the training split only).
    """

    features: np.ndarray
    labels: np.ndarray

    images = property(lambda self: self.features)  # the name from MNIST-only days

    def __len__(self) -> int:
        return int(self.labels.shape[0])


@dataclass(frozen=True)
class Dataset:
    """Train, validation (possibly empty) and test splits, where they came from, and what they mean.

    Label code ``k`` means ``classes[k]``. ``image_shape`` is (h, w) or (h, w, c) when each row is an
    image, None for tabular rows. ``notes`` are one-line sentences saying what the loader decided.
    """

    train: Split
    val: Split
    test: Split
    source: str
    classes: tuple[str, ...] = tuple("0123456789")
    image_shape: tuple[int, ...] | None = (28, 28)
    notes: tuple[str, ...] = ()
    label_column: str | None = None  # a CSV header's name of the label column (None: not from one)
    label_position: int | None = None  # that column's 0-based place in the CSV (None: not a CSV)
    pixel_scale: int | None = 255  # what integer pixels were divided by (None: tabular features)
    feature_names: tuple[str, ...] | None = None  # the feature columns' names (a CSV header's), in order

    @property
    def n_features(self) -> int:
        return int(self.train.features.shape[1])

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def fingerprint(self) -> str:
        """Hex SHA-256 of the classes, image shape and every split's bytes: same data, same print."""
        digest = hashlib.sha256(json.dumps([list(self.classes), self.image_shape]).encode())
        for split in (self.train, self.val, self.test):
            for array, dtype in ((split.features, np.float32), (split.labels, np.int64)):
                array = np.ascontiguousarray(array, dtype=dtype)
                digest.update(repr(array.shape).encode())
                digest.update(array.data)  # the contiguous buffer, hashed without a copy
        return digest.hexdigest()


def bundled_dir() -> Path:
    """The directory of the MNIST files shipped inside the package."""
    return Path(str(resources.files("nnback") / "_data" / "mnist"))


def read_idx(path: Path, magic: int, expected_sha256: str | None = None) -> np.ndarray:
    """One MNIST IDX file (gzip or raw): images as (n, 784) uint8, labels as (n,) uint8."""
    from .formats.idx import read_idx_array  # formats imports this module; import when called

    path = Path(path)
    data = read_idx_array(path, expected_sha256)
    kind = "image" if magic == IMAGE_MAGIC else "label"
    n_dims = 3 if magic == IMAGE_MAGIC else 1
    if data.dtype != np.uint8 or data.ndim != n_dims:
        found = 0x800 + data.ndim if data.dtype == np.uint8 else f"{data.dtype} x {data.ndim}-D"
        raise DataError(f"{path}: bad magic number {found}, expected {magic} for an IDX {kind} file")
    if magic == IMAGE_MAGIC:
        if data.shape[1:] != (28, 28):
            raise DataError(f"{path}: images are {data.shape[1]}x{data.shape[2]}, expected 28x28")
        return data.reshape(data.shape[0], N_PIXELS)
    return data


def _find(directory: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem):
        if (directory / name).is_file():
            return directory / name
    raise DataError(f"{directory}: no {stem}[.gz] found; an MNIST directory holds the four IDX files")


def _checksums(directory: Path) -> dict[str, str]:
    sums = directory / "SHA256SUMS.raw.txt"
    if not sums.is_file():
        return {}
    pairs = (line.split() for line in sums.read_text().splitlines() if line.strip())
    return {name: digest for digest, name in pairs}


def read_idx_dir(directory: Path, verify: bool = False) -> dict[str, np.ndarray]:
    """The four MNIST arrays of an IDX directory, with counts checked between images and labels."""
    directory = Path(directory)
    sums = _checksums(directory) if verify else {}
    arrays = {}
    for key, stem in FILES.items():
        magic = IMAGE_MAGIC if key.endswith("images") else LABEL_MAGIC
        arrays[key] = read_idx(_find(directory, stem), magic, sums.get(stem))
    for part in ("train", "test"):
        n_images, n_labels = len(arrays[f"{part}_images"]), len(arrays[f"{part}_labels"])
        if n_images != n_labels:
            raise DataError(f"{directory}: {n_images} {part} images but {n_labels} {part} labels")
        if n_labels and arrays[f"{part}_labels"].max() >= N_CLASSES:
            raise DataError(f"{directory}: {part} labels outside 0-9")
    return arrays


def _as_split(images: np.ndarray, labels: np.ndarray) -> Split:
    pixels = images.astype(np.float32)
    pixels /= np.float32(255.0)
    return Split(pixels, labels.astype(np.int64))


def auto_val_size(n_train: int) -> int:
    """The default validation size: a sixth of the training rows, at most 10,000 (MNIST: 10,000)."""
    return min(MAX_VAL_SIZE, n_train // 6)


def hold_out_validation(train: Split, val_size: int | None, shuffle_rng=None, split_rng=None):
    """(train, val, note): the last ``val_size`` training rows validate, after an optional seeded
    shuffle of the whole training set (as the full-batch notebooks do). When those last rows miss a
    class of the training set (a file sorted by class), a stratified sample drawn with ``split_rng``
    (default seed 0) validates instead, so early stopping does not watch a single class."""
    n = len(train)
    if val_size is None:
        val_size = auto_val_size(n)
    if not 0 <= val_size < n:
        raise ValidationSizeError(f"val_size {val_size} does not fit {n:,} training rows; give 0 to {n - 1:,} "
                        "(at least one row must stay for training)")
    features, labels = train.features, train.labels
    if shuffle_rng is not None:
        order = shuffle_rng.permutation(n)
        features, labels = features[order], labels[order]
    cut = n - val_size
    if val_size == 0:
        return Split(features, labels), Split(features[cut:], labels[cut:]), "validation: none (val_size 0)"
    present = np.unique(labels)
    missing = np.setdiff1d(present, labels[cut:])  # classes the last rows lack
    emptied = np.setdiff1d(present, labels[:cut])  # classes the last rows would take entirely
    if (val_size < present.size or missing.size == 0) and emptied.size == 0:
        return (Split(features[:cut], labels[:cut]), Split(features[cut:], labels[cut:]),
                f"validation: the last {val_size:,} training rows")
    seeded = split_rng is None
    picked = stratified_sample(labels, val_size, np.random.default_rng(0) if seeded else split_rng)
    keep = np.ones(n, dtype=bool)
    keep[picked] = False
    why = (f"the last {val_size:,} rows hold every row of {emptied.size} "
           f"class{'es' if emptied.size > 1 else ''}" if emptied.size else
           f"the last {val_size:,} rows miss {missing.size} of the {present.size} classes; sorted by class?")
    note = f"validation: a stratified sample of {val_size:,} training rows{', seed 0' if seeded else ''} ({why})"
    return Split(features[keep], labels[keep]), Split(features[picked], labels[picked]), note


def stratified_sample(labels: np.ndarray, size: int, rng) -> np.ndarray:
    """Sorted indices of ``size`` rows drawn class by class in proportion to the class counts
    (largest remainders first), leaving every class at least one unpicked row where possible."""
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    room = counts - 1 if size <= labels.size - classes.size else counts
    quota = np.minimum(np.floor(size * counts / labels.size).astype(np.int64), room)
    remainder = size * counts / labels.size - quota
    order = np.argsort(-remainder, kind="stable")
    while quota.sum() < size:  # one more row each, largest remainder first, where a class has room
        for k in order[quota[order] < room[order]][: size - quota.sum()]:
            quota[k] += 1
    picked = [rng.choice(np.flatnonzero(inverse == k), size=int(q), replace=False) for k, q in enumerate(quota) if q]
    return np.sort(np.concatenate(picked)) if picked else np.zeros(0, dtype=np.int64)


def load_mnist(path=None, val_size: int | None = 10_000, shuffle_rng=None) -> Dataset:
    """MNIST as a :class:`Dataset`: the bundled copy (checksummed) or an IDX directory ``path``.

    Default split: the first 50,000 training images train, the last 10,000 validate, the 10,000
    test images test; pixels scaled to [0, 1].
    """
    directory = bundled_dir() if path is None else Path(path)
    if not directory.is_dir():
        raise DataError(f"{directory}: not a directory of MNIST IDX files")
    arrays = read_idx_dir(directory, verify=path is None)
    whole = _as_split(arrays["train_images"], arrays["train_labels"])
    train, val, note = hold_out_validation(whole, val_size, shuffle_rng)
    test = _as_split(arrays["test_images"], arrays["test_labels"])
    notes = ("images: 28x28 MNIST digits, pixels scaled to [0, 1]", "classes: the digits 0-9", note)
    return Dataset(train, val, test, source=str(directory), notes=notes)
