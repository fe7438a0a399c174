"""Every MNIST format the classic notebooks used, recognised by content, read into one Dataset.

``--data PATH`` accepts:

* a directory of the four IDX files (gzip or raw), or any one IDX file in such a directory;
* CSV files of a label then 784 pixels 0-255 per line, with or without a header row. PATH is the
  training file (``mnist_train.csv``); the test file is its sibling with ``train`` in the name
  replaced by ``test`` (``mnist_test.csv``). PATH may also be a directory holding exactly one CSV
  file with ``train`` and one with ``test`` in its name;
* Keras' ``mnist.npz`` (x_train, y_train, x_test, y_test), read without pickle;
* Nielsen's ``mnist.pkl.gz``, read by an unpickler that admits only NumPy arrays and tuples.
  Its own 50,000 / 10,000 validation split is kept, so ``--val-size`` does not apply to it;
* a directory holding exactly one npz or pickle file.

The format is told from the bytes (gzip is looked through), never from the file name; names only
pair a training CSV with its test CSV. Whatever the format, the result is the same: images float32
in [0, 1] of shape (n, 784), labels int64 0-9, and every defect is a one-line DataError naming the
file, what is wrong and what was expected.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..data import FILES, Dataset, DataError, load_mnist, read_idx_dir, split_train
from .checks import Parts, checked_split
from .csv_text import read_csv
from .keras_npz import read_npz
from .nielsen_pickle import read_pickle
from .sniff import CSV, IDX, NPZ, PICKLE, sniff

__all__ = ["DataError", "Examples", "load_dataset", "read_examples", "read_parts"]


from dataclasses import dataclass as _dataclass


@_dataclass(frozen=True)
class Examples:  # TEMPORARY until the data branch lands
    features: object
    labels: object
    image_shape: object
    source: str


def read_examples(path=None, *, label_column=None, image_shape="auto"):  # TEMPORARY
    data = load_dataset(path, 0)
    return Examples(data.test.images, data.test.labels.astype(str), (28, 28), data.source)


def load_dataset(path=None, val_size: int | None = 10_000, shuffle_rng=None, **_ignored) -> Dataset:  # TEMPORARY kwargs
    """MNIST from ``path`` in any supported format (the bundled copy when ``path`` is None).

    The last ``val_size`` training images (after an optional seeded shuffle) validate, unless the
    file brings its own validation split (Nielsen's pickle), which is kept as it is.
    """
    val_size = 10_000 if val_size is None else val_size
    if path is None:
        return load_mnist(None, val_size, shuffle_rng)
    parts = read_parts(Path(path))
    if parts.val is not None:
        train, val = parts.train, parts.val
    else:
        train, val = split_train(parts.train, val_size, shuffle_rng)
    return Dataset(train, val, parts.test, source=str(path))


def read_parts(path: Path) -> Parts:
    """The splits a file or directory holds, checked, before any validation hold-out."""
    if path.is_dir():
        return _read_directory(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or directory")
    kind = sniff(path)
    if kind == IDX:
        return _read_idx(path.parent)
    if kind == NPZ:
        return read_npz(path)
    if kind == PICKLE:
        return read_pickle(path)
    return Parts(train=read_csv(path, "training"), test=read_csv(_test_sibling(path), "test"))


def _read_idx(directory: Path) -> Parts:
    arrays = read_idx_dir(directory)
    return Parts(
        train=checked_split(arrays["train_images"], arrays["train_labels"], f"{directory} (training IDX files)"),
        test=checked_split(arrays["test_images"], arrays["test_labels"], f"{directory} (test IDX files)"),
    )


def _test_sibling(train: Path) -> Path:
    """mnist_train.csv -> mnist_test.csv (the last "train" in the name, in any case)."""
    matches = list(re.finditer("train", train.name, flags=re.IGNORECASE))
    if not matches:
        raise DataError(f"{train}: cannot tell where the test CSV is; name the training file "
                        "*train*.csv and put its *test* sibling beside it (mnist_train.csv, mnist_test.csv)")
    found = matches[-1]
    test_word = {"train": "test", "Train": "Test", "TRAIN": "TEST"}.get(found.group(), "test")
    test = train.with_name(train.name[: found.start()] + test_word + train.name[found.end():])
    if not test.is_file():
        raise DataError(f"{train}: the test CSV {test.name} is missing beside it; put it there "
                        "(a label then 784 pixels per line, like the training file)")
    return test


def _read_directory(directory: Path) -> Parts:
    if any((directory / stem).is_file() or (directory / f"{stem}.gz").is_file() for stem in FILES.values()):
        return _read_idx(directory)
    files = sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith("."))
    kinds = {p: _kind_or_none(p) for p in files}
    single = [p for p in files if kinds[p] in (NPZ, PICKLE)]
    trains = [p for p in files if kinds[p] == CSV and "train" in p.name.lower()]
    if len(single) == 1 and not trains:
        return read_parts(single[0])
    if len(trains) == 1 and not single:
        return read_parts(trains[0])
    found = ", ".join(f"{p.name} ({kinds[p]})" for p in files if kinds[p]) or "no data files"
    raise DataError(f"{directory}: cannot tell which files to read (found {found}); give a directory "
                    "of the four IDX files, of one *train*.csv and one *test*.csv, or of one npz or "
                    "pickle file, or give the file itself")


def _kind_or_none(path: Path) -> str | None:
    try:
        return sniff(path)
    except DataError:
        return None
