"""Every data format loads into the same arrays; every broken file is a one-line DataError."""

from __future__ import annotations

import builtins
import gzip
import os
import subprocess

import numpy as np
import pytest

from mnist_files import (Evil, csv_text, decoded, idx_bytes, make_sample, nielsen_content, unit, write_csv_pair,
                         write_idx_dir, write_npz, write_pickle)
from nnback.data import DataError, load_mnist
from nnback.formats import load_dataset

SAMPLE = make_sample(n_train=8, n_test=5)
VAL = 3


def assert_matches_sample(data, sample=SAMPLE, val=VAL) -> None:
    cut = len(sample.train_labels) - val
    expected = {
        "train": (unit(sample.train_images[:cut]), sample.train_labels[:cut]),
        "val": (unit(sample.train_images[cut:]), sample.train_labels[cut:]),
        "test": (unit(sample.test_images), sample.test_labels),
    }
    for name, (images, labels) in expected.items():
        split = getattr(data, name)
        assert split.images.dtype == np.float32 and split.labels.dtype == np.int64
        np.testing.assert_array_equal(split.images, images)
        np.testing.assert_array_equal(decoded(data, split), labels.astype(np.int64))


def build(kind: str, tmp_path):
    """A valid file (or directory) of ``kind`` holding SAMPLE; returns the --data path."""
    if kind == "idx-gz":
        return write_idx_dir(tmp_path / "idx", SAMPLE, gz=True)
    if kind == "idx-raw":
        return write_idx_dir(tmp_path / "idx", SAMPLE, gz=False)
    if kind == "idx-one-file":
        return write_idx_dir(tmp_path / "idx", SAMPLE, gz=True) / "t10k-labels-idx1-ubyte.gz"
    if kind == "csv":
        return write_csv_pair(tmp_path, SAMPLE)
    if kind == "csv-header":
        return write_csv_pair(tmp_path, SAMPLE, header=True)
    if kind == "csv-dir":
        return write_csv_pair(tmp_path / "csv", SAMPLE, names=("train.csv", "test.csv")).parent
    if kind == "csv-gz":
        write_csv_pair(tmp_path, SAMPLE, names=("Train.data", "Test.data"))
        for name in ("Train", "Test"):
            source = tmp_path / f"{name}.data"
            (tmp_path / f"{name}.csv.gz").write_bytes(gzip.compress(source.read_bytes()))
        return tmp_path / "Train.csv.gz"
    if kind == "npz":
        return write_npz(tmp_path / "mnist.npz", SAMPLE)
    if kind == "npz-in-dir":
        (tmp_path / "keras").mkdir()
        return write_npz(tmp_path / "keras" / "mnist.npz", SAMPLE).parent
    if kind.startswith("pickle-"):
        protocol = {"pickle-py2": 2, "pickle-p0": 0, "pickle-p5": 5, "pickle-raw": 4}[kind]
        return write_pickle(tmp_path / "data.bin", nielsen_content(SAMPLE, VAL), protocol=protocol,
                            gz=kind != "pickle-raw", python2=kind == "pickle-py2")
    raise ValueError(kind)


KINDS = ["idx-gz", "idx-raw", "idx-one-file", "csv", "csv-header", "csv-dir", "csv-gz", "npz",
         "npz-in-dir", "pickle-py2", "pickle-p0", "pickle-p5", "pickle-raw"]


@pytest.mark.parametrize("kind", KINDS)
def test_every_format_loads_the_same_arrays(kind, tmp_path):
    assert_matches_sample(load_dataset(build(kind, tmp_path), val_size=VAL))


def test_idx_directory_matches_load_mnist_bit_for_bit(tmp_path):
    directory = write_idx_dir(tmp_path, SAMPLE)
    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    ours, theirs = load_dataset(directory, 2, rng_a), load_mnist(directory, 2, rng_b)
    for name in ("train", "val", "test"):
        np.testing.assert_array_equal(getattr(ours, name).images, getattr(theirs, name).images)
        np.testing.assert_array_equal(decoded(ours, getattr(ours, name)), getattr(theirs, name).labels)


def test_pickle_keeps_its_own_validation_split(tmp_path):
    path = write_pickle(tmp_path / "mnist.pkl.gz", nielsen_content(SAMPLE, VAL))
    assert_matches_sample(load_dataset(path, val_size=0))  # --val-size does not apply


def test_no_path_is_the_bundled_copy():
    assert len(load_dataset(None, val_size=10_000).train) == 50_000


def expect_error(path, *fragments, val_size=VAL, **options):
    with pytest.raises(DataError) as raised:
        load_dataset(path, val_size=val_size, **options)
    message = str(raised.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    return message


# --- IDX ---------------------------------------------------------------------------------------

def write_bad_idx(tmp_path, stem: str, raw: bytes):
    directory = write_idx_dir(tmp_path, SAMPLE, gz=False)
    (directory / stem).write_bytes(raw)
    return directory


def test_idx_bad_magic(tmp_path):
    raw = bytearray(idx_bytes(SAMPLE.train_images))
    raw[3] = 0x07
    expect_error(write_bad_idx(tmp_path, "train-images-idx3-ubyte", bytes(raw)), "train-images", "bad magic number")


def test_idx_count_mismatch(tmp_path):
    raw = idx_bytes(SAMPLE.train_labels[:-1])
    expect_error(write_bad_idx(tmp_path, "train-labels-idx1-ubyte", raw), "8 train images but 7 train labels")


def test_idx_truncated(tmp_path):
    raw = idx_bytes(SAMPLE.test_images)[:-100]
    expect_error(write_bad_idx(tmp_path, "t10k-images-idx3-ubyte", raw), "t10k-images", "truncated")


def test_idx_train_and_test_image_sizes_must_match(tmp_path):
    raw = idx_bytes(np.zeros((8, 14, 14), np.uint8))
    directory = write_bad_idx(tmp_path, "train-images-idx3-ubyte", raw)
    expect_error(directory, "train images are 14x14 but test images 28x28")
    with pytest.raises(DataError, match="14x14, expected 28x28"):  # load_mnist reads MNIST only
        load_mnist(directory)


def test_idx_missing_file(tmp_path):
    directory = write_idx_dir(tmp_path, SAMPLE)
    (directory / "t10k-labels-idx1-ubyte.gz").unlink()
    expect_error(directory, "has no test labels file")


def test_idx_damaged_gzip(tmp_path):
    directory = write_idx_dir(tmp_path, SAMPLE)
    path = directory / "train-images-idx3-ubyte.gz"
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    expect_error(directory, "train-images")


def test_idx_empty_dataset(tmp_path):
    empty = make_sample(n_train=0, n_test=5)
    expect_error(write_idx_dir(tmp_path, empty), "train-images", "no rows (empty dataset)")


def test_bundled_checksum_mismatch(tmp_path, monkeypatch):
    import hashlib

    import nnback.data

    directory = write_idx_dir(tmp_path, SAMPLE)
    sums = {stem: hashlib.sha256(idx_bytes(array)).hexdigest() for stem, array in zip(
        ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"],
        [SAMPLE.train_images, SAMPLE.train_labels, SAMPLE.test_images, SAMPLE.test_labels])}
    sums["t10k-labels-idx1-ubyte"] = "0" * 64
    (directory / "SHA256SUMS.raw.txt").write_text("".join(f"{d}  {n}\n" for n, d in sums.items()))
    monkeypatch.setattr(nnback.data, "bundled_dir", lambda: directory)
    with pytest.raises(DataError, match="t10k-labels.*checksum mismatch.*reinstall"):
        load_dataset(None, val_size=VAL)


# --- CSV ---------------------------------------------------------------------------------------

def write_train_csv(tmp_path, text: str):
    write_csv_pair(tmp_path, SAMPLE)
    (tmp_path / "mnist_train.csv").write_text(text)
    return tmp_path / "mnist_train.csv"


def good_lines(header=False):
    return csv_text(SAMPLE.train_images, SAMPLE.train_labels, header).splitlines()


def with_line(index: int, line: str, header=False) -> str:
    lines = good_lines(header)
    lines[index] = line
    return "\n".join(lines) + "\n"


def test_csv_wrong_column_count_names_the_line(tmp_path):
    short = ",".join(good_lines()[4].split(",")[:-3])
    expect_error(write_train_csv(tmp_path, with_line(4, short)), "mnist_train.csv", "line 5 has 782 columns",
                 "expected 785")


def test_csv_unlabelled_file_is_explained(tmp_path):
    lines = [",".join(line.split(",")[1:]) for line in good_lines()]
    expect_error(write_train_csv(tmp_path, "\n".join(lines)), "mnist_test.csv", "test rows have 784 features",
                 "training rows (mnist_train.csv) have 783")


def test_csv_non_numeric_cell(tmp_path):
    cells = good_lines()[2].split(",")
    cells[100] = "abc"
    expect_error(write_train_csv(tmp_path, with_line(2, ",".join(cells))), "line 3, column 101", "'abc' is not a number")


def test_csv_non_numeric_cell_after_header(tmp_path):
    cells = good_lines(header=True)[2].split(",")
    cells[7] = ""
    expect_error(write_train_csv(tmp_path, with_line(2, ",".join(cells), header=True)), "line 3, column 8", "not a number")


@pytest.mark.parametrize("label", ["10", "-1"])
def test_csv_any_whole_number_is_a_class(tmp_path, label):
    cells = good_lines()[0].split(",")
    cells[0] = label
    (tmp_path / "digits.csv").write_text(with_line(0, ",".join(cells)))
    data = load_dataset(tmp_path / "digits.csv", val_size=0)
    assert label in data.classes and list(data.classes) == sorted(data.classes, key=int)


def test_csv_fractional_label_is_refused(tmp_path):
    cells = good_lines()[6].split(",")
    cells[0] = "3.5"
    expect_error(write_train_csv(tmp_path, with_line(6, ",".join(cells))), "line 7, column 1",
                 "label 3.5 is not a whole number")


def test_csv_pixel_out_of_range(tmp_path):
    cells = good_lines()[1].split(",")
    cells[50] = "256"
    path = write_train_csv(tmp_path, with_line(1, ",".join(cells)))
    expect_error(path, "line 2, column 51", "outside 0-255", image_shape=(28, 28))
    data = load_dataset(path, val_size=VAL)  # "auto": not all 0-255, so these rows are tabular
    assert data.image_shape is None and data.train.features.max() == 256
    assert any(note.startswith("tabular: 784 features") for note in data.notes)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_csv_nan_or_infinite_pixel(tmp_path, value):
    cells = good_lines()[3].split(",")
    cells[9] = value
    expect_error(write_train_csv(tmp_path, with_line(3, ",".join(cells))), "line 4, column 10", "NaN or infinite")


def test_csv_already_scaled_pixels_are_refused(tmp_path):
    cells = good_lines()[0].split(",")
    cells[1:] = ["0.5"] * 784
    expect_error(write_train_csv(tmp_path, with_line(0, ",".join(cells))), "line 1, column 2", "not a whole number",
                 image_shape=(28, 28))


@pytest.mark.parametrize("text", ["", "\n\n  \n"])
def test_csv_empty_file(tmp_path, text):
    write_csv_pair(tmp_path, SAMPLE)
    (tmp_path / "mnist_test.csv").write_text(text)
    expect_error(tmp_path / "mnist_train.csv", "mnist_test.csv", "empty")


def test_csv_header_only_is_an_empty_dataset(tmp_path):
    expect_error(write_train_csv(tmp_path, good_lines(header=True)[0] + "\n"), "empty dataset")


def test_csv_train_without_test_sibling_is_one_file(tmp_path):
    path = write_csv_pair(tmp_path, SAMPLE)
    (tmp_path / "mnist_test.csv").unlink()
    data = load_dataset(path, val_size=0)
    assert len(data.train) + len(data.test) == len(SAMPLE.train_labels)
    assert "of mnist_train.csv as the test set, seed 0" in " ".join(data.notes)


def test_csv_blank_lines_are_skipped_and_lines_still_counted(tmp_path):
    lines = good_lines()
    cells = lines[5].split(",")
    cells[3] = "300"
    lines[5] = ",".join(cells)
    text = "\n\n".join(lines) + "\n"  # a blank line between every two rows
    expect_error(write_train_csv(tmp_path, text), "line 11, column 4", image_shape=(28, 28))


def test_val_size_too_large(tmp_path):
    expect_error(write_csv_pair(tmp_path, SAMPLE), "val_size 8 does not fit 8 training rows", val_size=8)


# --- npz ---------------------------------------------------------------------------------------

def test_npz_missing_keys(tmp_path):
    expect_error(write_npz(tmp_path / "m.npz", SAMPLE, y_test=None), "x_test without its partner")
    expect_error(write_npz(tmp_path / "m.npz", SAMPLE, x_train=None), "missing x_train", "it holds y_train, x_test, y_test")


def test_npz_wrong_image_shape(tmp_path):
    path = write_npz(tmp_path / "m.npz", SAMPLE, x_train=np.zeros((8, 27, 28), np.uint8))
    expect_error(path, "x_train samples have shape (27, 28) but x_test samples (28, 28)")


def test_npz_label_count_mismatch(tmp_path):
    expect_error(write_npz(tmp_path / "m.npz", SAMPLE, y_test=SAMPLE.test_labels[:2]), "5 samples but labels of shape (2,)")


def test_npz_whole_float_labels_load_and_fractions_are_refused(tmp_path):
    path = write_npz(tmp_path / "m.npz", SAMPLE, y_train=SAMPLE.train_labels.astype(np.float64))
    assert_matches_sample(load_dataset(path, val_size=VAL))
    labels = SAMPLE.train_labels.astype(np.float64)
    labels[2] = 2.5
    expect_error(write_npz(tmp_path / "m.npz", SAMPLE, y_train=labels), "row 2", "label 2.5 is not a whole number")


def test_npz_one_hot_labels_refused(tmp_path):
    path = write_npz(tmp_path / "m.npz", SAMPLE, y_train=np.eye(10, dtype=np.uint8)[SAMPLE.train_labels])
    expect_error(path, "y_train", "labels of shape (8, 10)")


def test_npz_string_pixels_refused(tmp_path):
    path = write_npz(tmp_path / "m.npz", SAMPLE, x_test=SAMPLE.test_images.astype(str))
    expect_error(path, "x_test", "values have dtype <U3; expected numbers")


def test_npz_float_pixels_above_one_refused(tmp_path):
    path = write_npz(tmp_path / "m.npz", SAMPLE, x_train=SAMPLE.train_images.astype(np.float32))
    expect_error(path, "x_train", "outside the range", "[0, 1]")


def test_npz_nan_pixels_refused(tmp_path):
    images = unit(SAMPLE.train_images).reshape(-1, 28, 28)
    images[4, 0, 10] = np.nan
    expect_error(write_npz(tmp_path / "m.npz", SAMPLE, x_train=images), "row 4, value 10", "NaN or infinite")


def test_npz_int_pixels_outside_0_255(tmp_path):
    images = SAMPLE.test_images.astype(np.int32)
    images[1, 2, 3] = 300
    expect_error(write_npz(tmp_path / "m.npz", SAMPLE, x_test=images), "row 1, value 59: value 300 is outside 0-255")


def test_npz_object_array_needs_no_pickle(tmp_path):
    path = tmp_path / "m.npz"
    arrays = {"x_train": SAMPLE.train_images, "y_train": np.array([object()] * 8),
              "x_test": SAMPLE.test_images, "y_test": SAMPLE.test_labels}
    np.savez(path, **arrays)
    expect_error(path, "y_train", "Python objects")


def test_npz_truncated(tmp_path):
    path = write_npz(tmp_path / "m.npz", SAMPLE)
    path.write_bytes(path.read_bytes()[:300])
    expect_error(path, "m.npz", "damaged npz")


# --- pickle ------------------------------------------------------------------------------------

@pytest.mark.parametrize("protocol", [0, 2, 5])
@pytest.mark.parametrize("call", [
    (os.system, "touch {marker}"),
    (builtins.eval, "open({marker!r}, 'w')"),
    (builtins.exec, "open({marker!r}, 'w')"),
    (subprocess.call, ["touch", "{marker}"]),
], ids=["os.system", "eval", "exec", "subprocess"])
def test_malicious_pickle_is_refused_before_it_runs(tmp_path, protocol, call):
    marker = tmp_path / "pwned"
    function, argument = call
    argument = [a.format(marker=str(marker)) for a in argument] if isinstance(argument, list) else \
        argument.format(marker=str(marker))
    good = nielsen_content(SAMPLE, VAL)
    content = (good[0], good[1], (good[2][0], Evil(function, argument)))  # hidden deep inside
    path = write_pickle(tmp_path / "mnist.pkl.gz", content, protocol=protocol)
    message = expect_error(path, "mnist.pkl.gz", "refused", function.__name__)
    assert not marker.exists(), message


def test_pickle_naming_a_numpy_function_beyond_arrays_is_refused(tmp_path):
    content = Evil(np.load, str(tmp_path / "x.npy"))
    expect_error(write_pickle(tmp_path / "m.pkl", content), "refused", "numpy")


def test_pickle_persistent_ids_are_refused(tmp_path):
    import pickle

    class Persisting(pickle.Pickler):
        def persistent_id(self, obj):
            return "anything" if isinstance(obj, np.ndarray) else None

    import io

    buffer = io.BytesIO()
    Persisting(buffer, protocol=2).dump(nielsen_content(SAMPLE, VAL))
    (tmp_path / "m.pkl").write_bytes(buffer.getvalue())
    expect_error(tmp_path / "m.pkl", "refused", "persistent")


@pytest.mark.parametrize("content, fragment", [
    ((1, 2, 3), "found a tuple of 3 (int, int, int)"),
    ([np.zeros(3)], "found a list of 1"),
    ("hello", "found a str"),
])
def test_pickle_wrong_structure(tmp_path, content, fragment):
    expect_error(write_pickle(tmp_path / "m.pkl.gz", content), "three (images, labels) pairs", fragment)


def test_pickle_wrong_shapes(tmp_path):
    good = nielsen_content(SAMPLE, VAL)
    content = (good[0], (good[1][0][:, :700], good[1][1]), good[2])
    expect_error(write_pickle(tmp_path / "m.pkl.gz", content), "(validation)", "(700,)")


def test_pickle_pixels_outside_unit_range(tmp_path):
    good = nielsen_content(SAMPLE, VAL)
    content = ((good[0][0] * 255, good[0][1]), good[1], good[2])
    expect_error(write_pickle(tmp_path / "m.pkl.gz", content), "(training)", "outside the range", "[0, 1]")


def test_pickle_truncated(tmp_path):
    raw = gzip.decompress(write_pickle(tmp_path / "m.pkl.gz", nielsen_content(SAMPLE, VAL)).read_bytes())
    (tmp_path / "m.pkl.gz").write_bytes(gzip.compress(raw[: len(raw) // 2]))
    expect_error(tmp_path / "m.pkl.gz", "damaged pickle")


# --- anything else -----------------------------------------------------------------------------

def test_unrecognised_binary_file(tmp_path):
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    expect_error(tmp_path / "image.png", "not a recognised data format", "CSV")


def test_missing_path(tmp_path):
    expect_error(tmp_path / "nowhere", "no such file or directory")


def test_directory_with_nothing_to_read(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    expect_error(tmp_path, "cannot tell which files to read")


def test_pickle_forged_memo_index_is_refused_quickly(tmp_path):
    """Found by fuzzing: one LONG_BINPUT with index 680,825,748 made CPython allocate and zero a
    5 GB memo table (24 s) before the pickle failed. It is refused before unpickling starts."""
    import pickle
    import time

    raw = pickle.dumps(nielsen_content(SAMPLE, VAL), protocol=5)
    at = raw.index(b"\x8c\x0b_frombuffer") + 2
    (tmp_path / "m.pkl").write_bytes(raw[:at] + b"\x00" + raw[at:])  # "\x94\x93\x94(" now reads as an index
    start = time.perf_counter()
    expect_error(tmp_path / "m.pkl", "damaged pickle", "memo index 680825748")
    assert time.perf_counter() - start < 10.0  # the bug took 24 s; a loaded CI machine is slow


def test_npz_empty_dataset(tmp_path):
    path = write_npz(tmp_path / "m.npz", SAMPLE, x_test=np.zeros((0, 28, 28), np.uint8), y_test=np.zeros(0, np.uint8))
    expect_error(path, "x_test", "no rows (empty dataset)")


def test_pickle_nan_pixels(tmp_path):
    good = nielsen_content(SAMPLE, VAL)
    images = good[2][0].copy()
    images[1, 0] = np.inf
    content = (good[0], good[1], (images, good[2][1]))
    expect_error(write_pickle(tmp_path / "m.pkl.gz", content), "(test)", "row 1, value 0", "NaN or infinite")


def test_directory_with_two_candidates_is_ambiguous(tmp_path):
    write_npz(tmp_path / "a.npz", SAMPLE)
    write_pickle(tmp_path / "b.pkl.gz", nielsen_content(SAMPLE, VAL))
    expect_error(tmp_path, "cannot tell which files to read", "a.npz (npz)", "b.pkl.gz (pickle)")


def test_directory_of_one_pickle(tmp_path):
    write_pickle(tmp_path / "mnist.pkl.gz", nielsen_content(SAMPLE, VAL))
    assert_matches_sample(load_dataset(tmp_path, val_size=0))


def test_csv_pandas_header_of_column_numbers_is_skipped(tmp_path):
    header = ",".join(str(i) for i in range(785))
    lines = [header] + good_lines()
    write_train_csv(tmp_path, "\n".join(lines) + "\n")
    assert_matches_sample(load_dataset(tmp_path / "mnist_train.csv", val_size=VAL))


def test_csv_whole_numbers_written_as_floats_load(tmp_path):
    lines = [",".join(f"{int(cell)}.0" for cell in line.split(",")) for line in good_lines()]
    write_train_csv(tmp_path, "\r\n".join(lines) + "\r\n")  # Windows line ends too
    assert_matches_sample(load_dataset(tmp_path / "mnist_train.csv", val_size=VAL))


def test_csv_tiny_fraction_is_not_rounded_away(tmp_path):
    cells = good_lines()[0].split(",")
    cells[5] = "1e-50"
    expect_error(write_train_csv(tmp_path, with_line(0, ",".join(cells))), "line 1, column 6", "not a whole number",
                 image_shape=(28, 28))


def test_whole_number_labels_beyond_float64s_precision_stay_distinct(tmp_path):
    """CSV labels went through float64, where 2**53 and 2**53 + 1 are one number: two classes merged."""
    path = tmp_path / "big.csv"
    path.write_text("".join(f"{k},{2 * k},{2**53 + k % 3}\n" for k in range(30)))
    data = load_dataset(path, val_size=0, label_column=-1)
    assert data.classes == tuple(str(2**53 + k) for k in range(3))


@pytest.mark.parametrize("labels, message", [
    (np.array([1, 2, 2**63 + 5, 1, 2, 1], dtype=np.uint64), "label 9223372036854775813 is beyond 2\\*\\*63 - 1"),
    (np.array([1.0, 2.0, 1e30, 1.0, 2.0, 1.0]), "label 1e\\+30 is too large to be told from its neighbours"),
])
def test_labels_too_large_to_be_classes_are_refused_saying_why(tmp_path, labels, message):
    """A uint64 label above int64 became a negative class, and 1e+30 was called "not a whole number"."""
    np.savez(tmp_path / "d.npz", x=np.zeros((6, 3)), y=labels)
    with pytest.raises(DataError, match=message):
        load_dataset(tmp_path / "d.npz", val_size=0)


def test_a_two_column_first_row_of_0_1_is_data_not_a_pandas_header(tmp_path):
    """A headerless file starting "0,1" lost that row, taken for pandas' column numbers."""
    path = tmp_path / "two.csv"
    path.write_text("0,1\n" + "".join(f"{k},{k % 2}\n" for k in range(1, 60)))
    data = load_dataset(path, val_size=0, label_column=1)
    assert len(data.train) + len(data.test) == 60
    numbered = tmp_path / "numbered.csv"  # three or more columns numbered 0..n-1 are still a header
    numbered.write_text("0,1,2\n" + "".join(f"{k},{2 * k},{k % 2}\n" for k in range(60)))
    assert len(load_dataset(numbered, val_size=0, label_column=2).train) == 48


def test_a_label_column_named_by_a_number_is_found_by_name(tmp_path):
    """A header column named "7" could not be chosen: --label-column 7 looked for column index 7."""
    path = tmp_path / "named.csv"
    path.write_text("a,b,7\n" + "".join(f"{k},{2 * k},{k % 2}\n" for k in range(60)))
    data = load_dataset(path, val_size=0, label_column="7")
    assert data.classes == ("0", "1") and "column 2 '7' (as asked)" in data.notes[0]


def test_a_header_naming_the_label_column_twice_is_refused(tmp_path):
    """label,a,Label took the first column silently; the two may hold different labels."""
    path = tmp_path / "twice.csv"
    path.write_text("label,a,Label\n" + "".join(f"{k % 2},{k},{(k + 1) % 2}\n" for k in range(30)))
    with pytest.raises(DataError, match=r"names 'label' 2 times \(columns 0, 2\)"):
        load_dataset(path, val_size=0)
    assert load_dataset(path, val_size=0, label_column=2).classes == ("0", "1")


def test_float16_labels_load_without_a_warning(tmp_path):
    np.savez(tmp_path / "h.npz", x=np.zeros((6, 3)), y=np.array([1, 2, 1, 2, 1, 2], dtype=np.float16))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # float16 overflowed comparing with 2**53: a RuntimeWarning leaked
        assert load_dataset(tmp_path / "h.npz", val_size=0).classes == ("1", "2")


def test_r_write_csv_output_reads_without_its_row_names(tmp_path):
    """R's write.csv quotes its row names ("1", "2", ...) under an empty header name and quotes the
    class names: it failed with '"1"' is not a number. The row names are left out (they would be a
    feature counting rows), quoted numbers read as numbers."""
    rows = [(k % 3 + 0.1 * k % 1, 2.0 * (k % 3) + 0.5, ["setosa", "versicolor", "virginica"][k % 3]) for k in range(30)]
    path = tmp_path / "r.csv"
    path.write_text('"","Sepal.Length","Sepal.Width","Species"\n'
                    + "".join(f'"{i + 1}",{a},"{b}","{name}"\n' for i, (a, b, name) in enumerate(rows)))
    data = load_dataset(path, val_size=0)
    assert data.n_features == 2 and data.classes == ("setosa", "versicolor", "virginica")
    assert data.feature_names == ("Sepal.Length", "Sepal.Width")
    assert "column 0 (no name) left out as the rows' names" in data.notes[0]
    assert sorted(data.train.features[:, 1].tolist() + data.test.features[:, 1].tolist()) == sorted(b for _, b, _ in rows)


@pytest.mark.parametrize("names", [[f'"{k}"' for k in range(5, 95, 3)], [f'"car{k}"' for k in range(30)],
                                   [str(k) for k in range(30)]])
def test_row_names_of_a_subset_or_a_pandas_index_are_left_out(tmp_path, names):
    """R keeps the row names of a subset ("5", "8", ...), or names rows ("car0"); pandas writes its
    index from 0: the first were trained on as a feature, the second failed."""
    path = tmp_path / "rows.csv"
    path.write_text(',"a","b","kind"\n' if names[0].startswith('"') else ",a,b,kind\n")
    with path.open("a") as handle:
        handle.writelines(f"{name},{k % 3},{2 * (k % 3)},k{k % 3}\n" for k, name in enumerate(names))
    data = load_dataset(path, val_size=0)
    assert data.n_features == 2 and data.feature_names == ("a", "b")


def test_whole_number_labels_written_both_ways_are_each_read_exactly(tmp_path):
    """'9007199254740993' beside '3.0' went through float64 and became 2**53."""
    path = tmp_path / "mixed.csv"
    path.write_text("".join(f"{k},{2 * k},{'3.0' if k % 2 else 2**53 + 1}\n" for k in range(30)))
    assert load_dataset(path, val_size=0, label_column=-1).classes == ("3", str(2**53 + 1))
    huge = tmp_path / "huge.csv"
    huge.write_text("".join(f"{k},{2 * k},{'99999999999999999999' if k == 3 else k % 2}\n" for k in range(30)))
    with pytest.raises(DataError, match="too large to be told from its neighbours"):
        load_dataset(huge, val_size=0, label_column=-1)


def test_errors_in_a_file_with_row_names_count_the_file_s_own_columns(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text('"","a","b","kind"\n' + "".join(f'"{k + 1}",{k},{"x" if k == 4 else k},"k{k % 2}"\n' for k in range(20)))
    with pytest.raises(DataError, match="line 6, column 3: 'x' is not a number"):
        load_dataset(path, val_size=0)
