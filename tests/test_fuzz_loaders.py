"""Property-based fuzzing of every loader: random bytes and mutations of valid small files.

The only acceptable outcomes are a sane Dataset or a DataError: never another exception, a hang
(each example has a deadline) or data that differ from what the file actually says. Where an
independent reading of the mutated file is cheap (IDX, CSV, npz), a successful load must equal it.
"""

from __future__ import annotations

import gzip
import os
import struct
import tempfile
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from mnist_files import (csv_text, idx_bytes, make_sample, nielsen_content, python2_pickle, unit, write_csv_pair,
                         write_idx_dir, write_npz)
from nnback.data import FILES, DataError
from nnback.formats import load_dataset, read_examples

SAMPLE = make_sample(n_train=6, n_test=3, seed=7)
# 200 examples per loader by default (about 1 s each); NNBACK_FUZZ_EXAMPLES=5000 for a long hunt.
FUZZ = settings(max_examples=int(os.environ.get("NNBACK_FUZZ_EXAMPLES", "200")), deadline=timedelta(seconds=3), derandomize=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """A fresh directory per example (hypothesis runs many examples in one test call)."""
    root = tmp_path_factory.mktemp("fuzz")
    return lambda: Path(tempfile.mkdtemp(dir=root))


def load_or_refuse(path, val_size: int, own_val: bool = False):
    """The loaded Dataset, after checking it is sane, or None when the loader refused cleanly.
    ``own_val``: the format brings its own validation split (Nielsen's pickle)."""
    try:
        data = load_dataset(path, val_size=val_size)
    except DataError as error:
        assert str(error) and "\n" not in str(error)
        event("refused with a DataError")
        return None
    event("loaded")
    check_sane(data)
    assert own_val or val_size is None or len(data.val) == val_size
    return data


def check_sane(data) -> None:
    """What every loaded Dataset promises, whatever the file said."""
    assert data.n_classes >= 2 and len(set(data.classes)) == data.n_classes
    for name in ("train", "val", "test"):
        split = getattr(data, name)
        features, labels = split.features, split.labels
        assert features.dtype == np.float32 and labels.dtype == np.int64
        assert features.ndim == 2 and features.shape[1] == data.n_features and labels.shape == (features.shape[0],)
        assert np.isfinite(features).all()
        if data.image_shape is not None:
            assert int(np.prod(data.image_shape)) == data.n_features
            assert features.min(initial=0) >= 0 and features.max(initial=0) <= 1
        assert labels.min(initial=0) >= 0 and labels.max(initial=0) < data.n_classes
    assert len(data.train) >= 1 and len(data.test) >= 1
    assert set(np.unique(np.concatenate([data.val.labels, data.test.labels]))) <= set(np.unique(data.train.labels))
    assert len(data.fingerprint()) == 64


def rows(features, labels):
    """Rows with their labels, sorted: a multiset, equal whichever rows a stratified hold-out took."""
    table = np.column_stack([np.asarray(labels, np.float64), features.astype(np.float64)])
    return table[np.lexsort(table.T[::-1])]


def whole_train(data):
    """(features, label names as ints) of the training and validation rows, as a sorted multiset."""
    labels = np.array([int(data.classes[k]) for k in np.concatenate([data.train.labels, data.val.labels])])
    return rows(np.concatenate([data.train.features, data.val.features]), labels)


@st.composite
def mutations(draw, valid: bytes) -> bytes:
    """A few random edits: flipped or set bytes, cuts, insertions, deletions, duplicated runs."""
    data = bytearray(valid)
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        edit = draw(st.sampled_from(["flip", "set", "truncate", "insert", "delete", "repeat"]))
        if edit == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif edit == "set" and data:
            data[at] = draw(st.sampled_from([0, 1, 9, 10, 0x7F, 0x80, 0xFF, ord(","), ord("\n"), ord("-")]))
        elif edit == "truncate":
            del data[at:]
        elif edit == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif edit == "delete":
            del data[at:at + draw(st.integers(1, 16))]
        elif edit == "repeat":
            data[at:at] = data[at:at + draw(st.integers(1, 64))]
    return bytes(data)


VAL_SIZES = st.integers(0, 7)

# --- random bytes, routed into every reader by a format's first bytes ---------------------------

PREFIXES = [b"", b"\x1f\x8b\x08\x00", b"PK\x03\x04", b"PK\x05\x06", b"\x80\x02", b"\x80\x05", b"(", b"(lp0\n",
            b"\x00\x00\x08\x03", b"\x00\x00\x08\x01", b"\x00\x00\x0b\x03", b"\x00\x00\x0d\x04", b"\x00\x00\x0c\x02",
            b"label,", b"5,0,0,", b"a,b,species\n", b"1.5,2,x\n"]


@FUZZ
@given(prefix=st.sampled_from(PREFIXES), tail=st.binary(max_size=2048), val_size=VAL_SIZES)
def test_random_bytes(work, prefix, tail, val_size):
    path = work() / "random.bin"
    path.write_bytes(prefix + tail)
    load_or_refuse(path, val_size)


# --- IDX -----------------------------------------------------------------------------------------

IDX_ARRAYS = {"train_images": SAMPLE.train_images, "train_labels": SAMPLE.train_labels,
              "test_images": SAMPLE.test_images, "test_labels": SAMPLE.test_labels}


def reference_idx(raw: bytes, images: bool):
    """An independent reading of one (possibly mutated) IDX file, or None if it is not valid."""
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except Exception:
            return None
    dims = 3 if images else 1
    if len(raw) < 4 + 4 * dims or struct.unpack(">i", raw[:4])[0] != (2051 if images else 2049):
        return None  # (a mutated type code or rank could still be a valid IDX file: only sanity then)
    shape = struct.unpack(f">{dims}i", raw[4:4 + 4 * dims])
    body = np.frombuffer(raw[4 + 4 * dims:], np.uint8)
    if (images and shape[1:] != (28, 28)) or body.size != np.prod(shape):
        return None
    return body.reshape(shape[0], 784) if images else body


@FUZZ
@given(key=st.sampled_from(list(FILES)), gz=st.booleans(), data=st.data(), val_size=VAL_SIZES)
def test_mutated_idx(work, key, gz, data, val_size):
    directory = write_idx_dir(work(), SAMPLE, gz=gz)
    raw = idx_bytes(IDX_ARRAYS[key])
    valid = gzip.compress(raw, mtime=0) if gz else raw
    mutated = data.draw(mutations(valid))
    (directory / (FILES[key] + (".gz" if gz else ""))).write_bytes(mutated)
    loaded = load_or_refuse(directory, val_size)
    expected = reference_idx(mutated, images=key.endswith("images"))
    if loaded is None or expected is None:
        return
    if key == "train_images":
        np.testing.assert_array_equal(whole_train(loaded)[:, 1:], rows(unit(expected.reshape(-1, 28, 28)),
                                                                        SAMPLE.train_labels)[:, 1:])
    elif key == "train_labels":
        np.testing.assert_array_equal(whole_train(loaded)[:, 0], rows(unit(SAMPLE.train_images), expected)[:, 0])
    elif key == "test_images":
        np.testing.assert_array_equal(loaded.test.features, unit(expected.reshape(-1, 28, 28)))
    else:
        np.testing.assert_array_equal(np.array(loaded.classes)[loaded.test.labels].astype(int), expected)


# --- CSV -----------------------------------------------------------------------------------------

CELLS = ["", "x", "nan", "inf", "-1", "10", "255", "256", "1e3", "3.5", " 7 ", "+3", "1_0", "\u0663", "0x1",
         "\x00", "1,2", "\"5\"", "7\n", "\n\n", "label", "1e-50", "7.0", "255.0000001", "99999999999", "\r"]


@st.composite
def mutated_csv(draw) -> bytes:
    header = draw(st.booleans())
    text = csv_text(SAMPLE.train_images, SAMPLE.train_labels, header)
    if draw(st.booleans()):  # edit whole cells, the mistakes people make in spreadsheets
        cells = text.split(",")
        for _ in range(draw(st.integers(1, 4))):
            cells[draw(st.integers(0, len(cells) - 1))] = draw(st.sampled_from(CELLS))
        return ",".join(cells).encode()
    return draw(mutations(text.encode()))


def reference_csv(raw: bytes):
    """An independent reading of a valid MNIST CSV training file: (images uint8, labels) or None.
    A header is a first line of mostly non-numbers; every other line is 785 whole numbers, pixels
    0-255. (The loader reads more than this, such as tabular rows: those get only sanity checks.)"""
    try:
        lines = [line for line in raw.decode("utf-8-sig").split("\n") if line.strip()]
        table = [line.split(",") for line in lines]
        if table and sum(not _number(cell) for cell in table[0]) * 2 >= len(table[0]):
            table = table[1:]
        values = np.array([[float(cell) for cell in row] for row in table], dtype=np.float64)
    except (ValueError, UnicodeDecodeError):
        return None
    if values.ndim != 2 or values.shape[1] != 785 or not np.isfinite(values).all() or (values % 1).any():
        return None
    if values[:, 1:].min() < 0 or values[:, 1:].max() > 255:
        return None
    return values[:, 1:].astype(np.uint8), values[:, 0].astype(np.int64)


def _number(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


@FUZZ
@given(raw=mutated_csv(), val_size=VAL_SIZES)
def test_mutated_csv(work, raw, val_size):
    path = write_csv_pair(work(), SAMPLE)
    path.write_bytes(raw)
    loaded = load_or_refuse(path, val_size)
    expected = reference_csv(raw)
    if loaded is None or expected is None:
        return
    if loaded.image_shape is not None:
        np.testing.assert_array_equal(whole_train(loaded), rows(unit(expected[0]), expected[1]))


# --- npz -----------------------------------------------------------------------------------------

@FUZZ
@given(data=st.data(), val_size=VAL_SIZES)
def test_mutated_npz(work, data, val_size):
    directory = work()
    valid = write_npz(directory / "valid.npz", SAMPLE).read_bytes()
    path = directory / "mutated.npz"
    path.write_bytes(data.draw(mutations(valid)))
    loaded = load_or_refuse(path, val_size)
    if loaded is None:
        return
    with np.load(path, allow_pickle=False) as archive:  # zip CRCs make this an independent check
        np.testing.assert_array_equal(whole_train(loaded), rows(unit(archive["x_train"].reshape(-1, 28, 28)),
                                                                archive["y_train"]))
        np.testing.assert_array_equal(np.array(loaded.classes)[loaded.test.labels].astype(int), archive["y_test"])


# --- pickle --------------------------------------------------------------------------------------

PICKLES = {
    "python2": python2_pickle(nielsen_content(SAMPLE, 2)),
    **{f"protocol{p}": __import__("pickle").dumps(nielsen_content(SAMPLE, 2), protocol=p) for p in (0, 2, 5)},
}


@FUZZ
@given(which=st.sampled_from(sorted(PICKLES)), gz=st.booleans(), data=st.data(), val_size=VAL_SIZES)
def test_mutated_pickle(work, which, gz, data, val_size):
    raw = data.draw(mutations(PICKLES[which]))
    path = work() / "mutated.pkl"
    path.write_bytes(gzip.compress(raw, mtime=0) if gz else raw)
    loaded = load_or_refuse(path, val_size, own_val=True)
    if loaded is not None:  # whatever val_size says, a pickle keeps its own validation split
        assert len(loaded.val) >= 1


# --- any classification data: tabular CSV with names, single-part npz, IDX of other types ---------

TABULAR = "sepal,petal,species\n" + "".join(
    f"{1 + k * 0.37:.2f},{(k * 7) % 5 - 2.5},{['setosa', 'versicolor', 'virginica'][k % 3]}\n" for k in range(24))
TABULAR_CELLS = ["", "x", "nan", "-inf", "1e308", "1e39", "setosa", "SETOSA", " virginica ", "\"a\"", "3", "3.0",
                 "0x1", "\x00", "\n", ",", "label", "\u00e9t\u00e9"]


@st.composite
def mutated_tabular(draw) -> bytes:
    if draw(st.booleans()):
        cells = TABULAR.split(",")
        for _ in range(draw(st.integers(1, 4))):
            cells[draw(st.integers(0, len(cells) - 1))] = draw(st.sampled_from(TABULAR_CELLS))
        return ",".join(cells).encode()
    return draw(mutations(TABULAR.encode()))


@FUZZ
@given(raw=mutated_tabular(), label_column=st.sampled_from([None, "species", 2, "0", "nope", 5]),
       image_shape=st.sampled_from(["auto", None, (1, 2), (2, 2)]))
def test_mutated_tabular_csv(work, raw, label_column, image_shape):
    path = work() / "iris.csv"
    path.write_bytes(raw)
    try:
        data = load_dataset(path, label_column=label_column, image_shape=image_shape)
    except DataError as error:
        assert str(error) and "\n" not in str(error)
        return
    check_sane(data)
    examples = read_examples(path, label_column=label_column, image_shape=image_shape)
    assert len(examples.features) == len(data.train) + len(data.val) + len(data.test)
    assert set(examples.labels) == set(data.classes)  # every row's class, in file order, by name
    np.testing.assert_array_equal(rows(examples.features, np.unique(examples.labels, return_inverse=True)[1]),
                                  rows(np.concatenate([data.train.features, data.val.features, data.test.features]),
                                       np.concatenate([data.train.labels, data.val.labels, data.test.labels])))


@FUZZ
@given(data=st.data(), strings=st.booleans())
def test_mutated_single_part_npz(work, data, strings):
    directory = work()
    x = np.arange(60, dtype=np.float64).reshape(20, 3) / 7
    y = np.array(["cat", "dog"])[np.arange(20) % 2] if strings else np.arange(20) % 4
    np.savez_compressed(directory / "valid.npz", x=x, y=y)
    path = directory / "mutated.npz"
    path.write_bytes(data.draw(mutations((directory / "valid.npz").read_bytes())))
    loaded = load_or_refuse(path, None if data.draw(st.booleans()) else 2)
    if loaded is not None:
        with np.load(path, allow_pickle=False) as archive:
            assert len(loaded.train) + len(loaded.val) + len(loaded.test) == len(archive["x"])


@FUZZ
@given(key=st.sampled_from(list(FILES)), data=st.data())
def test_mutated_int16_idx(work, key, data):
    directory = work()
    arrays = {k: v.astype(">i2") for k, v in IDX_ARRAYS.items()}
    for name, array in arrays.items():
        raw = bytes([0, 0, 0x0B, array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape) + array.tobytes()
        if name == key:
            raw = data.draw(mutations(raw))
        (directory / FILES[name]).write_bytes(raw)
    load_or_refuse(directory, 0)
