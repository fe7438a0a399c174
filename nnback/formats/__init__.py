"""Classification data in the common file formats, recognised by content, read into one Dataset.

``load_dataset(path)`` accepts:

* IDX files of any image size and type (MNIST, Fashion-MNIST, EMNIST, QMNIST...): a directory
  holding one set of ``*train*images*``, ``*train*labels*``, ``*test*|*t10k*`` images and labels
  files (gzip or raw), or any one of those files (its partners are found by name);
* CSV files of numeric features and a label column (see :mod:`.csv_text`). A file named *train*
  whose *test* sibling exists is a pair; any other file is one part, and a test set is held out.
  A directory may hold one *train* CSV (and its sibling) or a single ``.csv`` file;
* npz files (x_train, y_train, x_test, y_test; or x, y), read without pickle;
* Nielsen's ``mnist.pkl.gz``, read by an unpickler that admits only NumPy arrays and tuples. Its
  own validation split is kept, so ``val_size`` does not apply to it;
* a directory holding exactly one npz or pickle file.

Whatever the format, the result is a :class:`~nnback.data.Dataset`: features float32 (n, d)
(images in [0, 1], tabular rows raw), labels int64 codes into ``classes``, and ``notes`` saying
what was decided. Every defect is a one-line DataError naming the file and, where it can, the line.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data import Dataset, DataError, Split, hold_out_validation, load_mnist
from ..data import stratified_sample
from .checks import (Part, Parts, channels_last, choose_shape, features_of, in_columns_of, label_keys, pixel_scale,
                     printable)
from .csv_text import LABEL_NAMES, read_table, table_part
from .idx import IdxSet, find_set, idx_sets, read_idx_array
from .keras_npz import read_npz
from .nielsen_pickle import read_pickle
from .sniff import CSV, IDX, NPZ, PICKLE, regular, sniff

__all__ = ["DataError", "Examples", "load_dataset", "read_examples"]

SHOWN_CLASSES = 12


@dataclass(frozen=True)
class Examples:
    """Rows to evaluate or predict: features as load_dataset scales them, labels as class names."""

    features: np.ndarray
    labels: np.ndarray | None
    image_shape: tuple | None
    source: str


@dataclass(frozen=True)
class Reading:
    """How a trained model's data was read, so that a new file is read the same way: its input
    count and image shape (None: tabular), a CSV's label column (by header name, else by place) and
    feature columns (matched by name), and what integer pixels were divided by (None: each file's
    own range)."""

    n_features: int
    image_shape: tuple | None = None
    label_name: str | None = None
    feature_names: tuple[str, ...] | None = None
    pixel_scale: int | None = None
    label_position: int | None = None  # the label column's place in a CSV, for files without a header


DEFAULT_TEST_FRACTION = 0.2


def load_dataset(path=None, val_size: int | None = None, shuffle_rng=None, *, label_column=None,
                 image_shape="auto", test_fraction: float | None = None, split_rng=None) -> Dataset:
    """The data at ``path`` (the bundled MNIST when None), split into train, validation and test.

    ``val_size`` None: a sixth of the training rows, at most 10,000. A single file with no test
    part gives a stratified ``test_fraction`` of its rows to the test set (``split_rng``, default
    seed 0; None: 0.2). ``image_shape``: "auto", a shape (h, w[, c]) to force images, or None for
    tabular. A setting the data cannot honour (a label column for non-CSV data, a test fraction for
    data that brings its own test set) is refused; a file's own validation split wins over
    ``val_size``, and the notes say so.
    """
    if path is None:
        for name, value in (("label_column", label_column), ("test_fraction", test_fraction)):
            if value is not None:
                raise DataError(f"the bundled MNIST has its own labels and test set; {name} applies to your own data")
        return load_mnist(None, val_size, shuffle_rng)
    if test_fraction is not None and not 0 < test_fraction < 1:
        raise DataError(f"test_fraction {test_fraction} must be between 0 and 1")
    path = Path(path)
    parts, notes = read_parts(path, label_column)
    requested = image_shape if image_shape != "auto" else parts.image_shape
    parts, moved = channels_last(parts, requested)
    shape = choose_shape(parts.train, requested)
    notes += [moved] if moved else []
    # One divisor for every split, from all of them: a test part of only dark images must not be
    # stretched to its own range.
    scale = None if shape is None else pixel_scale([part for part in (parts.train, parts.test, parts.val) if part])
    notes.append(_shape_note(parts.train, shape, scale))
    keys = _labels(parts.train)
    whole = _features(parts.train, shape, parts.train, scale)
    classes, codes = np.unique(keys, return_inverse=True)
    names = tuple(str(value) for value in classes)
    if len(names) < 2:
        raise DataError(f"{parts.train.where}: every row is of class {printable(repr(names[0]), 40)}; "
                        "a classifier needs two or more classes")
    notes.append(f"classes sorted {'numerically' if keys.dtype.kind == 'i' else 'as text'}: {_list(names)}")
    train = Split(whole, codes.astype(np.int64))
    if parts.test is None:
        fraction = DEFAULT_TEST_FRACTION if test_fraction is None else test_fraction
        train, test, note = _hold_out_test(train, fraction, split_rng, path.name, parts.train.where)
        notes.append(note)
    elif test_fraction is not None:
        raise DataError(f"{path}: brings its own test set; test_fraction applies to a single file without one")
    else:
        codes = _codes(parts.test, names, "test")
        test = Split(_features(parts.test, shape, parts.train, scale), codes)
    if parts.val is not None:
        features = _features(parts.val, shape, parts.train, scale)
        val = Split(features, _codes(parts.val, names, "validation"))
        notes.append(f"validation: the file's own split ({len(val):,} rows; val_size does not apply)")
    else:
        train, val, note = hold_out_validation(train, val_size, shuffle_rng, split_rng)
        notes.append(note)
        _refuse_emptied(train, val, names, f"{path}: val_size {len(val)}", "validation")
    _refuse_emptied(train, test, names, f"{path}: the test hold-out", "test")
    return Dataset(train, val, test, source=str(path), classes=names, image_shape=shape, notes=tuple(notes),
                   label_column=parts.label_column, label_position=parts.label_position, pixel_scale=scale,
                   feature_names=parts.train.names)


def read_examples(path=None, *, label_column=None, image_shape="auto", model: Reading | None = None) -> Examples:
    """Rows to evaluate or predict on: every row of a single file in file order, or the test part
    of a pair, a directory, an npz with a test part, or the bundled MNIST (path None).

    ``model``: how the model's own data was read (its image shape then replaces ``image_shape``).
    A CSV header that has the model's label column has the labels there (unless ``label_column``
    says otherwise); a CSV of the model's input count under a header that names no label (the
    model's, else any of label, class, target, y), or of the model's feature columns and others but
    not its label column (an id), is read as rows without labels (Kaggle's test.csv), the others
    left out. Feature columns are matched by name, integer pixels divided as the model's were."""
    if path is None:
        test = load_mnist(None, 0).test
        return Examples(test.features, np.array([str(k) for k in test.labels]), (28, 28), "bundled MNIST (test)")
    path = Path(path)
    if model is not None and model.feature_names and isinstance(label_column, str) and label_column in model.feature_names:
        raise DataError(f"{path}: label column {printable(repr(label_column), 40)} is one of the model's feature "
                        f"columns ({printable(', '.join(model.feature_names), 200)})")
    parts, _ = read_parts(path, label_column, model=model)
    if model is not None:
        image_shape = model.image_shape
    requested = image_shape if image_shape != "auto" else parts.image_shape
    if parts.test is not None:  # the part read is the test part: its layout decides
        parts = dataclasses.replace(parts, train=parts.test, test=None, val=None)
    parts, _ = channels_last(parts, requested)
    names = None if model is None else model.feature_names
    part = in_columns_of(parts.train, names, extra="drop" if parts.train.y is None else "refuse")
    shape = choose_shape(part, requested)
    features = _features(part, shape, part, None if model is None else model.pixel_scale)
    labels = None if part.y is None else np.array([str(key) for key in label_keys(part).tolist()])
    return Examples(features, labels, shape, str(path))


def read_parts(path: Path, label_column=None, *, model: Reading | None = None) -> tuple[Parts, list[str]]:
    """The parts a file or directory holds, checked, before any hold-out; and notes on reading them.
    ``model``: see :func:`read_examples`."""
    if path.is_dir():
        return _read_directory(path, label_column, model)
    if not path.exists():
        raise DataError(f"{path}: no such file or directory")
    kind = sniff(path)
    if kind != CSV and label_column is not None:
        raise DataError(f"{path}: label_column {label_column!r} applies to CSV files; {kind} data carries "
                        "its labels in its own arrays")
    if kind == IDX:
        return _read_idx(find_set(path.parent, chosen=path)), []
    if kind == NPZ:
        return read_npz(path), []
    if kind == PICKLE:
        return read_pickle(path), []
    return _read_csvs(path, label_column, model)


def _read_csvs(path: Path, label_column, model: Reading | None = None) -> tuple[Parts, list[str]]:
    sibling = _test_sibling(path)
    table = read_table(path, "training" if sibling else "all rows")
    model_label = None if model is None else model.label_name
    if label_column is None and model_label is not None and table.has_column(model_label):
        label_column = model_label  # where the model's labels were, by name
    elif (label_column is None and model is not None and model.label_position is not None and table.names is None
          and table.width == model.n_features + 1):
        label_column = model.label_position  # no header to name it: where the model's labels were, by place
    if model is not None and label_column is None and sibling is None and _rows_to_predict(table, model):
        part, how, _ = table_part(table, unlabelled=True)
        return Parts(train=part), [f"labels: {how}"]
    train, how, label = table_part(table, label_column)
    notes = [f"labels: {how}"]
    named = table.names[label] if table.names else None
    if sibling is None:
        return Parts(train=train, label_column=named, label_position=label), notes
    test_table = read_table(sibling, "test")
    if test_table.width == table.width - 1 and test_table.unlabelled(test_table.width, [named] if named else LABEL_NAMES):
        # Kaggle's layout: train.csv with its labels, test.csv without (the rows to submit).
        if model is not None:  # reading rows to predict on: these are they
            test, _, _ = table_part(test_table, unlabelled=True)
            return Parts(train=train, test=test, label_column=named, label_position=label), \
                notes + [f"test: {sibling.name}, rows without labels"]
        notes.append(f"test: {sibling.name} is not used: its {test_table.width} columns have no label column "
                     f"({path.name} has {table.width}); a test set is held out of {path.name} instead")
        return Parts(train=train, label_column=named, label_position=label), notes
    # The sibling's labels are in the training file's label column: by name under a header, else by place.
    if label_column is None:
        label_column = named if named is not None and test_table.names is not None else label
    test, _, _ = table_part(test_table, label_column)
    test = in_columns_of(test, train.names)
    if test.x.shape[1] != train.x.shape[1]:
        raise DataError(f"{sibling}: test rows have {test.x.shape[1]} features but training rows "
                        f"({path.name}) have {train.x.shape[1]}")
    notes.append(f"test: {sibling.name}, the test sibling of {path.name}")
    return Parts(train=train, test=test, label_column=named, label_position=label), notes


def _rows_to_predict(table, model: Reading) -> bool:
    """Whether a CSV holds rows without labels for ``model``: its input count of columns under a
    header that names no label column, or, under a header without the model's label column, the
    model's feature columns and others (an id) besides."""
    unnamed = [model.label_name] if model.label_name is not None else list(LABEL_NAMES)
    if table.unlabelled(model.n_features, unnamed):
        return True
    return (table.names is not None and model.feature_names is not None and model.label_name is not None
            and not table.has_column(model.label_name) and set(model.feature_names) < set(table.names))


def _test_sibling(train: Path) -> Path | None:
    """mnist_train.csv -> mnist_test.csv (the last "train" in the name, in any case), if it exists."""
    matches = list(re.finditer("train", train.name, flags=re.IGNORECASE))
    if not matches:
        return None
    found = matches[-1]
    test_word = {"train": "test", "Train": "Test", "TRAIN": "TEST"}.get(found.group(), "test")
    test = train.with_name(train.name[: found.start()] + test_word + train.name[found.end():])
    if not (test.exists() or test.is_symlink()):
        return None
    return regular(test, "test CSV file")  # stat only: a FIFO named like the sibling is refused, not opened


def _read_idx(files: IdxSet) -> Parts:
    arrays = {key: read_idx_array(getattr(files, key)) for key in
              ("train_images", "train_labels", "test_images", "test_labels")}
    parts = {}
    for part in ("train", "test"):
        images, labels = arrays[f"{part}_images"], arrays[f"{part}_labels"]
        where = getattr(files, f"{part}_images").parent
        if labels.ndim == 2 and labels.shape[1] >= 1:  # QMNIST's idx2 labels: the class comes first
            labels = labels[:, 0]
        if labels.ndim != 1:
            raise DataError(f"{getattr(files, f'{part}_labels')}: labels of shape {labels.shape}; "
                            "expected (n,) or QMNIST's (n, 8)")
        if images.ndim not in (2, 3, 4):
            raise DataError(f"{getattr(files, f'{part}_images')}: samples of shape {images.shape}; "
                            "expected (n, height, width[, channels])")
        if len(images) != len(labels):
            raise DataError(f"{where}: {len(images)} {part} images but {len(labels)} {part} labels")
        parts[part] = Part(images, labels, f"{getattr(files, f'{part}_images')} ({part} images)")
    if parts["train"].x.shape[1:] != parts["test"].x.shape[1:]:
        size = lambda p: "x".join(map(str, p.x.shape[1:]))  # noqa: E731
        raise DataError(f"{files.train_images.parent}: train images are {size(parts['train'])} but test images "
                        f"{size(parts['test'])}; they must match")
    return Parts(train=parts["train"], test=parts["test"])


def _read_directory(directory: Path, label_column, model: Reading | None = None) -> tuple[Parts, list[str]]:
    if idx_sets(directory):
        if label_column is not None:
            raise DataError(f"{directory}: label_column {label_column!r} applies to CSV files; IDX data carries "
                            "its labels in its own files")
        return _read_idx(find_set(directory)), []
    files = sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith("."))
    kinds = {p: _kind_or_none(p) for p in files}
    single = [p for p in files if kinds[p] in (NPZ, PICKLE)]
    csvs = [p for p in files if kinds[p] == CSV and re.search(r"\.csv(\.gz)?$", p.name, re.IGNORECASE)]
    trains = [p for p in files if kinds[p] == CSV and "train" in p.name.lower()]
    if len(single) == 1 and not trains and not csvs:
        return read_parts(single[0], label_column, model=model)
    if len(trains) == 1 and not single:
        return read_parts(trains[0], label_column, model=model)
    if len(csvs) == 1 and not single and not trains:
        return read_parts(csvs[0], label_column, model=model)
    found = ", ".join(f"{p.name} ({kinds[p]})" for p in files if kinds[p]) or "no data files"
    raise DataError(f"{directory}: cannot tell which files to read (found {found}); give a directory "
                    "of one IDX set, of one *train*.csv and its *test*.csv, of one .csv file, or of one "
                    "npz or pickle file, or give the file itself")


def _kind_or_none(path: Path) -> str | None:
    try:
        return sniff(path)
    except DataError:
        return None


def _features(part: Part, shape, train: Part, scale: int | None) -> np.ndarray:
    if part is not train and part.x.shape[1:] != train.x.shape[1:]:
        raise DataError(f"{part.where}: samples of shape {part.x.shape[1:]} but the training samples "
                        f"{train.x.shape[1:]}; they must match")
    return features_of(part, shape, scale)


def _labels(part: Part) -> np.ndarray:
    if part.y is None:
        raise DataError(f"{part.where}: has no labels; training needs a label per row")
    return label_keys(part)


def _codes(part: Part, names: tuple[str, ...], what: str) -> np.ndarray:
    """Label codes of a test or validation part, in the training classes."""
    found, inverse = np.unique(np.array([str(key) for key in _labels(part).tolist()]), return_inverse=True)
    index = {name: code for code, name in enumerate(names)}
    unknown = [name for name in found.tolist() if name not in index]
    if unknown:
        raise DataError(f"{part.where}: class {printable(repr(unknown[0]), 40)} appears only in the {what} set "
                        f"({len(unknown)} such classes); the training set has {_list(names)}")
    return np.array([index[name] for name in found.tolist()], dtype=np.int64)[inverse]


def _refuse_emptied(train: Split, held: Split, names, what: str, part: str) -> None:
    """A class whose every row was held out: the model could never learn it."""
    lost = np.setdiff1d(held.labels, train.labels)
    if lost.size:
        raise DataError(f"{what} leaves class {printable(repr(names[lost[0]]), 40)} with no training rows "
                        f"(it appears only in the {part} set); the data has too few rows of it")


def _hold_out_test(whole: Split, fraction: float, rng, name: str, where: str):
    n = len(whole)
    size = round(n * fraction)
    if not 1 <= size < n:
        raise DataError(f"{where}: {n:,} rows are too few to hold out a test fraction of {fraction:g} "
                        f"({n * fraction:.2g} rows); give a larger test fraction or a file with a test part")
    picked = stratified_sample(whole.labels, size, np.random.default_rng(0) if rng is None else rng)
    keep = np.ones(n, dtype=bool)
    keep[picked] = False
    train = Split(whole.features[keep], whole.labels[keep])
    test = Split(whole.features[picked], whole.labels[picked])
    seed = ", seed 0" if rng is None else ""
    return train, test, f"held out a stratified {fraction:.0%} ({size:,} rows) of {name} as the test set{seed}"


def _shape_note(part: Part, shape, scale: int | None) -> str:
    d = int(np.prod(part.x.shape[1:])) if part.x.ndim >= 2 else 0
    if shape is None:
        return f"tabular: {d:,} features per row"
    size = "x".join(map(str, shape))
    divided = "" if part.x.dtype.kind in "fb" and not part.text else f" / {scale}"
    if part.x.ndim == 2 and part.text:
        return f"images: each row's {d:,} whole numbers read as a {size} image (pixels{divided})"
    return f"images: {size}, {part.x.dtype} pixels scaled to [0, 1] (pixels{divided})"


def _list(names: tuple[str, ...]) -> str:
    shown = ", ".join(printable(name, 40) for name in names[:SHOWN_CLASSES])
    return shown + (f", ... ({len(names)} in all)" if len(names) > SHOWN_CLASSES else "")

