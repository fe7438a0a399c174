"""Read, verify and split MNIST on the host. No device code lives here.

The bundled files are the original IDX files of Y. LeCun, C. Cortes and C. Burges (CC BY-SA 3.0),
gzip-compressed. Every file is checked as it is read (magic number, counts, image size, and for the
bundled copy the SHA-256 of the decompressed bytes), so a damaged file names itself instead of
training a silently wrong model.
"""

from __future__ import annotations

import gzip
import hashlib
import struct
import zlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049
N_PIXELS, N_CLASSES = 784, 10
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


class DataError(ValueError):
    """A data file is missing, damaged or not what it claims to be; the message names it."""


@dataclass(frozen=True)
class Split:
    """One part of a dataset on the host: images (n, 784) float in [0, 1], labels (n,) int64."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def features(self) -> np.ndarray:  # TEMPORARY: the data branch renames images to features
        return self.images


@dataclass(frozen=True)
class Dataset:
    """Train, validation (possibly empty) and test splits, plus where they came from."""

    train: Split
    val: Split
    test: Split
    source: str
    classes: tuple = tuple("0123456789")  # TEMPORARY until the data branch lands
    image_shape: tuple | None = (28, 28)
    notes: tuple = ()

    @property
    def n_features(self) -> int:
        return int(self.train.images.shape[1])

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for part in (self.train, self.val, self.test):
            digest.update(np.ascontiguousarray(part.images).tobytes())
            digest.update(np.ascontiguousarray(part.labels).tobytes())
        return digest.hexdigest()


def bundled_dir() -> Path:
    """The directory of the MNIST files shipped inside the package."""
    return Path(str(resources.files("nnback") / "_data" / "mnist"))


def read_idx(path: Path, magic: int, expected_sha256: str | None = None) -> np.ndarray:
    """Read one IDX file (gzip or raw): images as (n, rows * cols) uint8, labels as (n,) uint8."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DataError(f"{path}: cannot read ({error.strerror or error})") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as error:
            raise DataError(f"{path}: damaged gzip data ({error})") from None
    if expected_sha256 is not None and hashlib.sha256(raw).hexdigest() != expected_sha256:
        raise DataError(f"{path}: SHA-256 checksum mismatch; the bundled file is damaged, reinstall nnback")
    n_dims = 3 if magic == IMAGE_MAGIC else 1
    header = 4 + 4 * n_dims
    if len(raw) < header:
        raise DataError(f"{path}: too short to be an IDX file ({len(raw)} bytes)")
    found = struct.unpack(">i", raw[:4])[0]
    if found != magic:
        kind = "image" if magic == IMAGE_MAGIC else "label"
        raise DataError(f"{path}: bad magic number {found}, expected {magic} for an IDX {kind} file")
    dims = struct.unpack(f">{n_dims}i", raw[4:header])
    if magic == IMAGE_MAGIC and dims[1:] != (28, 28):
        raise DataError(f"{path}: images are {dims[1]}x{dims[2]}, expected 28x28")
    expected = int(np.prod(dims))
    if len(raw) - header != expected:
        raise DataError(f"{path}: holds {len(raw) - header} data bytes, the header promises {expected} (truncated?)")
    data = np.frombuffer(raw, dtype=np.uint8, offset=header)
    return data.reshape(dims[0], dims[1] * dims[2]) if magic == IMAGE_MAGIC else data


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


def split_train(train: Split, val_size: int, shuffle_rng=None) -> tuple[Split, Split]:
    """Hold out the last ``val_size`` training images for validation (after an optional seeded
    shuffle of the whole training set, as the full-batch notebooks do). Every format splits here."""
    n = len(train)
    if not 0 <= val_size < n:
        raise DataError(f"--val-size {val_size} must be between 0 and {n - 1} (the training data holds {n} images)")
    images, labels = train.images, train.labels
    if shuffle_rng is not None:
        order = shuffle_rng.permutation(n)
        images, labels = images[order], labels[order]
    cut = n - val_size
    return Split(images[:cut], labels[:cut]), Split(images[cut:], labels[cut:])


def load_mnist(path=None, val_size: int = 10_000, shuffle_rng=None) -> Dataset:
    """MNIST as a :class:`Dataset`: the bundled copy (checksummed) or an IDX directory ``path``.

    Default split: the first 50,000 training images train, the last 10,000 validate, the 10,000
    test images test; pixels scaled to [0, 1].
    """
    directory = bundled_dir() if path is None else Path(path)
    if not directory.is_dir():
        raise DataError(f"{directory}: not a directory of MNIST IDX files")
    arrays = read_idx_dir(directory, verify=path is None)
    train, val = split_train(_as_split(arrays["train_images"], arrays["train_labels"]), val_size, shuffle_rng)
    test = _as_split(arrays["test_images"], arrays["test_labels"])
    return Dataset(train, val, test, source=str(directory))
