"""Any classification data: IDX of every type and name, npz, CSV with names, hold-outs and notes."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
from sklearn.datasets import load_digits, load_iris, load_wine

from mnist_files import make_sample, write_idx_dir
from nnback.data import DataError, Split, hold_out_validation
from nnback.formats import Reading, load_dataset, read_examples

TYPE_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D, np.float64: 0x0E,
              np.uint16: 0x0B}


def idx_file(path, array, gz=False):
    """Write ``array`` as IDX (big-endian); uint16 has no IDX code of its own here, so it is short."""
    code = {np.dtype(k): v for k, v in TYPE_CODES.items()}[array.dtype]
    raw = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape) \
        + array.astype(array.dtype.newbyteorder(">")).tobytes()
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


def idx_set(directory, prefix, train_x, train_y, test_x, test_y, label_kind="idx1-ubyte", gz=True):
    directory.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    image_kind = "idx3-ubyte" if train_x.ndim == 3 else "idx4-ubyte"
    for part, x, y in (("train", train_x, train_y), ("test", test_x, test_y)):
        idx_file(directory / f"{prefix}{part}-images-{image_kind}{suffix}", x, gz)
        idx_file(directory / f"{prefix}{part}-labels-{label_kind}{suffix}", y, gz)
    return directory


def headed_csv(path, bunch, label_name="species"):
    names = [name.replace(" ", "_") for name in bunch.feature_names]
    lines = [",".join(names + [label_name])]
    for row, target in zip(bunch.data, bunch.target):
        lines.append(",".join([repr(float(v)) for v in row] + [str(bunch.target_names[target])]))
    path.write_text("\n".join(lines) + "\n")
    return path


# --- IDX ------------------------------------------------------------------------------------------

def test_emnist_style_names_and_20_classes(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (200, 28, 28), dtype=np.uint8)
    y = (np.arange(200) % 20).astype(np.uint8)
    directory = idx_set(tmp_path / "emnist", "emnist-balanced-", x[:160], y[:160], x[160:], y[160:])
    (directory / "emnist-balanced-mapping.txt").write_text("0 48\n")
    data = load_dataset(directory)
    assert data.classes == tuple(str(k) for k in range(20)) and data.n_classes == 20
    assert data.image_shape == (28, 28) and data.n_features == 784
    assert (len(data.train), len(data.val), len(data.test)) == (134, 26, 40)  # 160 // 6 validate
    np.testing.assert_array_equal(data.test.labels, y[160:])
    # any one file of the set finds its three partners by name
    one = load_dataset(directory / "emnist-balanced-test-labels-idx1-ubyte.gz")
    assert one.fingerprint() == data.fingerprint()


def test_qmnist_int_labels_of_8_columns_give_the_first_column(tmp_path):
    sample = make_sample(n_train=12, n_test=6)
    extra = lambda y: np.column_stack([y.astype(np.int32)] + [np.full(len(y), 7, np.int32)] * 7)  # noqa: E731
    directory = idx_set(tmp_path, "qmnist-", sample.train_images, extra(sample.train_labels),
                        sample.test_images, extra(sample.test_labels), label_kind="idx2-int", gz=False)
    data = load_dataset(directory, val_size=0)
    names = np.array(data.classes)[data.test.labels].astype(int)
    np.testing.assert_array_equal(names, sample.test_labels)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.float32, np.float64])
def test_every_idx_type_code(tmp_path, dtype):
    rng = np.random.default_rng(1)
    if np.dtype(dtype).kind == "f":
        x = rng.random((30, 6, 5)).astype(dtype)
        expected = x.astype(np.float32)
    else:
        x = rng.integers(0, 128, (30, 6, 5)).astype(dtype)
        expected = x.astype(np.float32) / np.float32(255)
    y = (np.arange(30) % 3).astype(dtype)
    data = load_dataset(idx_set(tmp_path, "", x[:24], y[:24], x[24:], y[24:], gz=False), val_size=0)
    assert data.image_shape == (6, 5)
    np.testing.assert_array_equal(data.test.features, expected[24:].reshape(6, 30))


def test_colour_images_4d(tmp_path):
    x = np.random.default_rng(2).integers(0, 256, (20, 4, 4, 3), dtype=np.uint8)
    y = (np.arange(20) % 2).astype(np.uint8)
    data = load_dataset(idx_set(tmp_path, "", x[:15], y[:15], x[15:], y[15:]), val_size=0)
    assert data.image_shape == (4, 4, 3) and data.n_features == 48


def test_idx_pixels_out_of_range_are_refused(tmp_path):
    x = np.full((10, 4, 4), 3, np.int16)
    x[2, 1, 1] = 300
    y = (np.arange(10) % 2).astype(np.uint8)
    with pytest.raises(DataError, match="row 2, value 5: value 300 is outside 0-255"):
        load_dataset(idx_set(tmp_path, "", x, y, x, y), val_size=0)


def test_directory_with_several_idx_sets_asks_for_one_file(tmp_path):
    sample = make_sample()
    write_idx_dir(tmp_path, sample)
    idx_set(tmp_path, "fashion-", sample.train_images, sample.train_labels, sample.test_images, sample.test_labels)
    with pytest.raises(DataError, match="holds 2 IDX data sets.*give one of their files"):
        load_dataset(tmp_path)
    assert len(load_dataset(tmp_path / "fashion-train-images-idx3-ubyte.gz", val_size=0).test) == 5


# --- npz ------------------------------------------------------------------------------------------

def test_digits_npz_single_part_holds_out_a_stratified_test_set(tmp_path):
    digits = load_digits()
    x = digits.images.astype(np.uint8)  # (1797, 8, 8) values 0-16
    np.savez(tmp_path / "digits.npz", x=x, y=digits.target)
    data = load_dataset(tmp_path / "digits.npz")
    assert data.image_shape == (8, 8) and data.n_classes == 10
    assert len(data.test) == round(1797 * 0.2) and len(data.val) == (1797 - 359) // 6
    counts = np.bincount(data.test.labels, minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37  # about 20% of each class (174-183 rows each)
    assert "held out a stratified 20% (359 rows) of digits.npz as the test set, seed 0" in data.notes
    again = load_dataset(tmp_path / "digits.npz")
    assert again.fingerprint() == data.fingerprint()
    other = load_dataset(tmp_path / "digits.npz", split_rng=np.random.default_rng(1))
    assert other.fingerprint() != data.fingerprint()


def test_npz_string_labels_and_tabular_rows(tmp_path):
    wine = load_wine()
    names = np.array(wine.target_names)[wine.target]
    np.savez(tmp_path / "wine.npz", x_train=wine.data[::2], y_train=names[::2], x_test=wine.data[1::2],
             y_test=names[1::2])
    data = load_dataset(tmp_path / "wine.npz", val_size=0)
    assert data.image_shape is None and data.classes == ("class_0", "class_1", "class_2")
    np.testing.assert_array_equal(data.test.features, wine.data[1::2].astype(np.float32))


# --- CSV ------------------------------------------------------------------------------------------

def test_iris_headed_csv_with_names_sorted_by_class(tmp_path):
    iris = load_iris()
    data = load_dataset(headed_csv(tmp_path / "iris.csv", iris))
    assert data.classes == ("setosa", "versicolor", "virginica") and data.image_shape is None
    assert (len(data.train), len(data.val), len(data.test)) == (100, 20, 30)
    assert data.notes[0] == "labels: column 4 'species' (the only column that is not numbers)"
    assert "tabular: 4 features per row" in data.notes
    assert "classes sorted as text: setosa, versicolor, virginica" in data.notes
    assert "held out a stratified 20% (30 rows) of iris.csv as the test set, seed 0" in data.notes
    # the file is sorted by class, so its last 20 training rows would all be virginica
    assert any(n.startswith("validation: a stratified sample of 20 training rows, seed 0") for n in data.notes)
    assert set(np.bincount(data.val.labels)) == {6, 7} and set(np.bincount(data.test.labels)) == {10}
    np.testing.assert_array_equal(np.sort(np.concatenate([data.train.features, data.val.features,
                                                          data.test.features]), axis=0),
                                  np.sort(iris.data.astype(np.float32), axis=0))


@pytest.mark.parametrize("label_column", ["species", "SPECIES", 4, "4", -1, "-1", -5 + 4])
def test_label_column_by_name_or_index(tmp_path, label_column):
    path = headed_csv(tmp_path / "iris.csv", load_iris())
    data = load_dataset(path, label_column=label_column)
    assert data.classes == ("setosa", "versicolor", "virginica")
    assert data.notes[0] == "labels: column 4 'species' (as asked)"


def test_a_negative_label_column_counts_from_the_end(tmp_path):
    """-5 of five columns is the first: the features are then the other four, petal width the last."""
    iris = load_iris()
    lines = [f"{target},{','.join(repr(float(v)) for v in row)}" for row, target in zip(iris.data, iris.target)]
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    data = load_dataset(tmp_path / "t.csv", label_column=-5, val_size=0, test_fraction=0.2)
    assert data.classes == ("0", "1", "2") and data.n_features == 4
    with pytest.raises(DataError, match=r"no label column -6; the rows have columns 0 to 4 \(-1 to -5 from the end\)"):
        load_dataset(tmp_path / "t.csv", label_column=-6)


@pytest.mark.parametrize("delimiter, name", [(";", "semicolons"), ("\t", "tabs")])
def test_semicolon_and_tab_separated_files_load_like_commas(tmp_path, delimiter, name):
    """Spreadsheets in many locales write semicolons; the same table with commas gives the same data."""
    comma = headed_csv(tmp_path / "comma.csv", load_iris())
    other = tmp_path / "other.csv"
    other.write_text(comma.read_text().replace(",", delimiter))
    expected, data = load_dataset(comma), load_dataset(other)
    assert data.notes[0] == f"labels: column 4 'species' (the only column that is not numbers); cells separated by {name}"
    assert data.classes == expected.classes
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(getattr(data, split).features, getattr(expected, split).features)
        np.testing.assert_array_equal(getattr(data, split).labels, getattr(expected, split).labels)


def test_decimal_commas_are_named_not_misread(tmp_path):
    """5,1;3,5;… is a semicolon file with decimal commas: the error says so instead of splitting at the commas."""
    comma = headed_csv(tmp_path / "comma.csv", load_iris())
    text = comma.read_text().replace(",", ";").replace(".", ",")
    (tmp_path / "t.csv").write_text(text)
    with pytest.raises(DataError, match=r"line 2, column 1: '5,1' is not a number \(a decimal comma\? write 5\.1\)"):
        load_dataset(tmp_path / "t.csv")


def test_a_stray_semicolon_in_one_line_keeps_commas(tmp_path):
    """Only a semicolon in every sampled line, the same number of times, makes it the separator."""
    iris = load_iris()
    lines = ["a,b,c,d,label"] + [",".join(repr(float(v)) for v in row) + f",{t}" for row, t in zip(iris.data, iris.target)]
    lines[3] = lines[3].replace(",0", ";0", 1) if ",0" in lines[3] else lines[3] + ";"
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match="line 4"):
        load_dataset(tmp_path / "t.csv")


def test_a_column_named_class_is_the_label_wherever_it_is(tmp_path):
    wine = load_wine()
    lines = ["class," + ",".join(f"f{i}" for i in range(13))]
    lines += [f"{t}," + ",".join(repr(float(v)) for v in row) for row, t in zip(wine.data, wine.target)]
    (tmp_path / "wine_train.csv").write_text("\n".join(lines) + "\n")
    data = load_dataset(tmp_path / "wine_train.csv", val_size=0)
    assert data.classes == ("0", "1", "2") and data.n_features == 13
    assert data.notes[0] == "labels: column 0 'class' (named like a label)"


@pytest.mark.parametrize("label_column, fragment", [
    ("kind", "no column named 'kind'; the header names sepal_length"),
    (9, "no label column 9; the rows have columns 0 to 4"),
])
def test_missing_label_column(tmp_path, label_column, fragment):
    with pytest.raises(DataError, match=fragment):
        load_dataset(headed_csv(tmp_path / "iris.csv", load_iris()), label_column=label_column)


def test_damaged_first_row_of_a_headerless_file_is_line_1_not_a_header(tmp_path):
    rows = ["5,0,0,x,0"] + [f"{k % 3},1,2,3,4" for k in range(20)]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError, match="line 1, column 4: 'x' is not a number"):
        load_dataset(tmp_path / "t.csv")


def test_ragged_row_and_nan_feature_name_the_line(tmp_path):
    rows = ["a,b,label"] + [f"{k}.5,1,{k % 2}" for k in range(10)]
    rows[4] = "1,2"
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError, match="line 5 has 2 columns; expected 3"):
        load_dataset(tmp_path / "t.csv")
    rows[4] = "nan,2,1"
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError, match="line 5, column 1: value nan is NaN or infinite"):
        load_dataset(tmp_path / "t.csv")


def test_whitespace_only_lines_are_blank(tmp_path):
    rows = ["a,b,label", "1.5,2,0", "   \t", "2.5,3,1", " ", "3.5,4,0", "4.5,5,1", "5.5,1,0"]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    assert len(read_examples(tmp_path / "t.csv").labels) == 5


def test_mnist_csv_stays_images_with_a_note(tmp_path):
    sample = make_sample(n_train=30)
    lines = [",".join([str(int(y))] + [str(int(v)) for v in x.ravel()]) for x, y in
             zip(sample.train_images, sample.train_labels)]
    (tmp_path / "digits.csv").write_text("\n".join(lines) + "\n")
    data = load_dataset(tmp_path / "digits.csv")
    assert data.image_shape == (28, 28) and data.train.features.max() <= 1
    assert "images: each row's 784 whole numbers read as a 28x28 image (pixels / 255)" in data.notes
    assert load_dataset(tmp_path / "digits.csv", image_shape=None).image_shape is None
    with pytest.raises(DataError, match="an image shape that does not fit the samples"):
        load_dataset(tmp_path / "digits.csv", image_shape=(27, 28))


@pytest.mark.parametrize("rows, fragment", [
    (["1.5,2,a"] * 5, "every row is of class 'a'"),
])
def test_a_single_class_is_refused(tmp_path, rows, fragment):
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError, match=fragment):
        load_dataset(tmp_path / "t.csv")


def test_a_class_only_in_the_test_file_is_named(tmp_path):
    (tmp_path / "x_train.csv").write_text("1,a\n2,b\n3,a\n4,b\n")
    (tmp_path / "x_test.csv").write_text("1,a\n2,c\n")
    with pytest.raises(DataError, match="x_test.csv.*class 'c' appears only in the test set"):
        load_dataset(tmp_path / "x_train.csv", val_size=0)


# --- hold-outs, examples, fingerprint ----------------------------------------------------------------

def test_val_size_automatic_and_explicit(tmp_path):
    rows = [f"{k % 3},{k % 7}.25" for k in range(6000)]
    (tmp_path / "big_train.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "big_test.csv").write_text("\n".join(rows[:30]) + "\n")
    data = load_dataset(tmp_path / "big_train.csv")
    assert len(data.val) == 1000 and "validation: the last 1,000 training rows" in data.notes
    with pytest.raises(DataError, match="val_size 10000 does not fit 6,000 training rows"):
        load_dataset(tmp_path / "big_train.csv", val_size=10_000)
    assert len(load_dataset(tmp_path / "big_train.csv", val_size=0).val) == 0


def test_shuffled_hold_out_is_unchanged_for_mnist_like_data():
    labels = np.arange(100) % 10
    train = Split(np.arange(100, dtype=np.float32)[:, None], labels)
    kept, val, note = hold_out_validation(train, 20, np.random.default_rng(3))
    order = np.random.default_rng(3).permutation(100)
    np.testing.assert_array_equal(val.labels, labels[order][80:])
    assert note == "validation: the last 20 training rows"


def test_read_examples_single_file_is_every_row_in_file_order(tmp_path):
    path = headed_csv(tmp_path / "iris.csv", load_iris())
    examples = read_examples(path)
    assert examples.features.shape == (150, 4) and examples.image_shape is None
    assert list(examples.labels[[0, 50, 149]]) == ["setosa", "versicolor", "virginica"]


def test_read_examples_of_a_pair_is_the_test_part(tmp_path):
    sample = make_sample(n_train=12, n_test=6)
    examples = read_examples(write_idx_dir(tmp_path, sample))
    assert examples.image_shape == (28, 28) and examples.features.shape == (6, 784)
    assert list(examples.labels) == [str(k) for k in sample.test_labels]
    bundled = read_examples()
    assert bundled.features.shape == (10_000, 784) and bundled.labels[0] == "7"


def test_npz_without_labels_reads_as_examples_but_does_not_train(tmp_path):
    np.savez(tmp_path / "xy.npz", x=np.zeros((4, 3)), y=np.array([0, 1, 0, 1]))
    assert read_examples(tmp_path / "xy.npz").labels.tolist() == ["0", "1", "0", "1"]
    np.savez(tmp_path / "x.npz", x=np.zeros((4, 3)))
    examples = read_examples(tmp_path / "x.npz")
    assert examples.labels is None and examples.features.shape == (4, 3)
    with pytest.raises(DataError, match=r"x.npz \(x\): has no labels"):
        load_dataset(tmp_path / "x.npz")


@pytest.mark.parametrize("dtype, scale", [(np.uint8, 255), (np.uint16, 65535)])
def test_npz_rows_of_pixels_are_images(tmp_path, dtype, scale):
    x = (np.arange(40 * 64) % 256).astype(dtype).reshape(40, 64)
    np.savez(tmp_path / "p.npz", x=x, y=np.arange(40) % 2)
    examples = read_examples(tmp_path / "p.npz")
    assert examples.image_shape == (8, 8)
    np.testing.assert_array_equal(examples.features, x.astype(np.float32) / np.float32(scale))


def test_fingerprint_tells_same_size_files_apart(tmp_path):
    sample = make_sample(n_train=12, n_test=6)
    first = load_dataset(write_idx_dir(tmp_path / "a", sample), val_size=2)
    same = load_dataset(write_idx_dir(tmp_path / "b", sample), val_size=2)
    sample.train_images[3, 4, 5] ^= 1
    changed = load_dataset(write_idx_dir(tmp_path / "c", sample), val_size=2)
    assert first.fingerprint() == same.fingerprint() != changed.fingerprint()
    assert len(first.fingerprint()) == 64


def test_bundled_mnist_is_unchanged():
    data = load_dataset()
    assert (len(data.train), len(data.val), len(data.test)) == (50_000, 10_000, 10_000)
    assert data.classes == tuple("0123456789") and data.image_shape == (28, 28)
    assert data.train.images is data.train.features
    assert "validation: the last 10,000 training rows" in data.notes


def test_validation_never_takes_every_row_of_a_class(tmp_path):
    """Found by fuzzing: the last rows held the only row of a class, leaving training without it."""
    rows = [f"{k % 2},{k}.5" for k in range(12)] + ["7,99.5"]
    (tmp_path / "t_train.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "t_test.csv").write_text("0,1.5\n1,2.5\n")
    data = load_dataset(tmp_path / "t_train.csv", val_size=2)
    assert "7" in np.array(data.classes)[data.train.labels]
    assert any("hold every row of 1 class" in note for note in data.notes)
    with pytest.raises(DataError, match="val_size 12 leaves class .* with no training rows"):
        load_dataset(tmp_path / "t_train.csv", val_size=12)


def test_tabular_value_beyond_float32_is_refused_with_its_place(tmp_path):
    (tmp_path / "t.csv").write_text("a,b,label\n1.5,2,x\n1e39,3,y\n2.5,4,x\n")
    with pytest.raises(DataError, match="line 3, column 1: value inf is NaN or infinite .or too large for float32"):
        load_dataset(tmp_path / "t.csv")


# --- rows without labels (Kaggle's layout) --------------------------------------------------------

def kaggle_pair(directory, rows=60, features=6):
    """train.csv with a 'label' column first, test.csv with the features alone, as Kaggle ships them."""
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 9, (rows, features)), np.arange(rows) % 3
    header = ",".join(f"f{i}" for i in range(features))
    (directory / "train.csv").write_text(f"label,{header}\n" + "".join(
        f"{t}," + ",".join(map(str, row)) + "\n" for row, t in zip(x, y)))
    (directory / "test.csv").write_text(f"{header}\n" + "".join(",".join(map(str, row)) + "\n" for row in x[:10]))
    return x, y


def test_an_unlabelled_test_sibling_is_left_out_and_a_test_set_held_out(tmp_path):
    x, y = kaggle_pair(tmp_path)
    data = load_dataset(tmp_path / "train.csv", val_size=0)
    assert "test: test.csv is not used: its 6 columns have no label column (train.csv has 7); " \
           "a test set is held out of train.csv instead" in data.notes
    assert len(data.train) + len(data.test) == 60 and len(data.test) == 12
    assert data.notes[1] in load_dataset(tmp_path, val_size=0).notes  # the directory reads the same


def test_rows_without_labels_are_read_for_a_model_of_that_many_features(tmp_path):
    x, _ = kaggle_pair(tmp_path)
    examples = read_examples(tmp_path / "test.csv", model=Reading(6))
    assert examples.labels is None
    np.testing.assert_array_equal(examples.features, x[:10].astype(np.float32))
    # The pair's rows to evaluate or predict are its test part, here rows without labels: never the
    # training rows of train.csv, which the model has learned.
    for given in (tmp_path / "train.csv", tmp_path):
        pair = read_examples(given, model=Reading(6))
        assert pair.labels is None
        np.testing.assert_array_equal(pair.features, x[:10].astype(np.float32))


def test_a_feature_named_like_a_label_does_not_hide_the_kaggle_layout(tmp_path):
    """train.csv names its label 'label' and also has a feature 'y': test.csv without 'label' is
    still rows without labels, 'y' and all."""
    rows = ["x,y,z,label"] + [f"{k % 5},{k % 7},{k % 3},{k % 2}" for k in range(40)]
    (tmp_path / "train.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "test.csv").write_text("x,y,z\n" + "\n".join(r.rsplit(",", 1)[0] for r in rows[1:6]) + "\n")
    data = load_dataset(tmp_path / "train.csv", val_size=0)
    assert any(note.startswith("test: test.csv is not used") for note in data.notes) and data.n_features == 3


def test_a_test_sibling_takes_its_labels_from_the_training_files_label_column(tmp_path):
    """Not from its own first column: a same-width test.csv without the 'label' column (an 'id'
    column instead) is refused rather than scored against its ids; with 'label' elsewhere, by name."""
    rows = [(k % 3, k % 5, k % 7, (k * 3) % 4) for k in range(60)]
    (tmp_path / "train.csv").write_text("label,a,b,c\n" + "".join(f"{t},{a},{b},{c}\n" for t, a, b, c in rows))
    (tmp_path / "test.csv").write_text("id,a,b,c\n" + "".join(f"{i},{a},{b},{c}\n" for i, (_, a, b, c) in
                                                             enumerate(rows[:12])))
    with pytest.raises(DataError, match="test.csv \\(test\\): no column named 'label'; the header names id, a, b, c"):
        load_dataset(tmp_path / "train.csv", val_size=0)
    (tmp_path / "test.csv").write_text("a,b,c,label\n" + "".join(f"{a},{b},{c},{t}\n" for t, a, b, c in rows[:12]))
    data = load_dataset(tmp_path / "train.csv", val_size=0)
    assert [data.classes[k] for k in data.test.labels] == [str(t) for t, *_ in rows[:12]]
    np.testing.assert_array_equal(data.test.features, np.array([r[1:] for r in rows[:12]], dtype=np.float32))


@pytest.mark.parametrize("header, n_features", [
    (None, 4),  # no header: nothing tells a label column from a feature
    ("a,b,c,label", 4),  # a column named like a label
    ("a,b,c,d", 3),  # not the model's feature count
])
def test_what_is_not_taken_for_rows_without_labels(tmp_path, header, n_features):
    lines = ([header] if header else []) + [f"{k},{k + 1},{k + 2},{k % 2}" for k in range(10)]
    (tmp_path / "rows.csv").write_text("\n".join(lines) + "\n")
    examples = read_examples(tmp_path / "rows.csv", model=Reading(n_features))
    assert examples.labels is not None and examples.features.shape == (10, 3)


def test_a_file_that_almost_uses_semicolons_says_which_line_does_not(tmp_path):
    rows = ["a;b;label"] + [f"{k};{k + 1};{k % 2}" for k in range(10)]
    rows[4] = rows[4].replace(";", ",", 1)
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError, match="line 1 has 2 semicolons but line 5 has 1: cells are split at semicolons "
                                        "only where every line has as many"):
        load_dataset(tmp_path / "t.csv")


def test_a_stray_tab_at_the_end_of_every_line_keeps_commas(tmp_path):
    comma = headed_csv(tmp_path / "comma.csv", load_iris())
    (tmp_path / "tabbed.csv").write_text("".join(line + "\t\n" for line in comma.read_text().splitlines()))
    expected, data = load_dataset(comma), load_dataset(tmp_path / "tabbed.csv")
    assert data.classes == expected.classes
    np.testing.assert_array_equal(data.train.features, expected.train.features)
