"""``nnback train --data``: every format trains; a broken file is one line and exit code 2."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from mnist_files import make_sample, nielsen_content, write_csv_pair, write_npz, write_pickle
from nnback.cli import main

TINY = ["--hidden", "16", "--epochs", "1", "--batch-size", "4", "--val-size", "4", "--quiet"]


def train(path, *extra):
    return CliRunner().invoke(main, ["train", "--data", str(path), *TINY, *extra])


@pytest.mark.parametrize("kind", ["csv-dir", "npz", "pickle"])
def test_train_on_each_format(tmp_path, kind):
    sample = make_sample(n_train=20, n_test=6)
    if kind == "csv-dir":
        path = write_csv_pair(tmp_path / "csv", sample).parent
    elif kind == "npz":
        path = write_npz(tmp_path / "mnist.npz", sample)
    else:
        path = write_pickle(tmp_path / "mnist.pkl.gz", nielsen_content(sample, 4))
    result = train(path)
    assert result.exit_code == 0, result.output
    assert "test accuracy" in result.output


def test_broken_file_is_one_line_exit_2(tmp_path):
    path = write_csv_pair(tmp_path, make_sample())
    lines = path.read_text().splitlines()
    lines[3] = lines[3] + ",7"
    path.write_text("\n".join(lines) + "\n")
    result = train(path)
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    message = result.output.strip()
    assert len(message.splitlines()) == 1
    assert "mnist_train.csv" in message and "line 4 has 786 columns" in message


def test_malicious_pickle_exit_2_and_nothing_runs(tmp_path):
    import os

    from mnist_files import Evil

    marker = tmp_path / "pwned"
    path = write_pickle(tmp_path / "mnist.pkl.gz", Evil(os.system, f"touch {marker}"))
    result = train(path)
    assert result.exit_code == 2 and "refused" in result.output and "Traceback" not in result.output
    assert not marker.exists()


def test_predict_on_rows_without_labels_and_evaluate_refuses_them(tmp_path):
    """Kaggle's layout: train on train.csv (test.csv has no labels and is left out), then predict
    a row of test.csv; evaluate needs labels and says so."""
    rows = ["label,a,b,c"] + [f"{k % 2},{k % 2 * 5 + k % 3},{k % 7},{(k % 2) * 3}" for k in range(120)]
    (tmp_path / "train.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "test.csv").write_text("a,b,c\n" + "\n".join(",".join(row.split(",")[1:]) for row in rows[1:11]) + "\n")
    model = tmp_path / "m.npz"
    trained = CliRunner().invoke(main, ["train", "--data", str(tmp_path / "train.csv"), "--epochs", "2",
                                        "--hidden", "8", "--save", str(model)])
    assert trained.exit_code == 0, trained.output
    assert "test: test.csv is not used: its 3 columns have no label column" in trained.output
    predicted = CliRunner().invoke(main, ["predict", str(model), "--data", str(tmp_path / "test.csv"), "--index", "2"])
    assert predicted.exit_code == 0, predicted.output
    assert predicted.output.startswith("predicted ") and "true class" not in predicted.output
    evaluated = CliRunner().invoke(main, ["evaluate", str(model), "--data", str(tmp_path / "test.csv")])
    assert evaluated.exit_code == 2 and "has no labels to evaluate against" in evaluated.output


def test_new_data_is_read_with_the_label_column_the_model_was_trained_with(tmp_path):
    """Trained with --label-column species (numbers, not a label-like name), evaluate and predict
    find the labels in 'species' without being told again; a file that lacks one feature but has
    'species' is refused instead of using the labels as that feature; rows with the model's
    features and no 'species' are rows to predict, even with a feature named 'y'."""
    rows = [(k % 5 + 0.5 * (k % 3), k % 7 * 0.25, (k % 3) * 2.0 + 0.1 * (k % 4), k % 3) for k in range(90)]
    (tmp_path / "data.csv").write_text("a,y,c,species\n" + "".join(f"{a},{b},{c},{t}\n" for a, b, c, t in rows))
    (tmp_path / "short.csv").write_text("a,y,species\n" + "".join(f"{a},{b},{t}\n" for a, b, c, t in rows[:5]))
    (tmp_path / "rows.csv").write_text("a,y,c\n" + "".join(f"{a},{b},{c}\n" for a, b, c, t in rows[:5]))
    model = tmp_path / "m.npz"
    trained = CliRunner().invoke(main, ["train", "--data", str(tmp_path / "data.csv"), "--label-column", "species",
                                        "--epochs", "2", "--hidden", "8", "--save", str(model)])
    assert trained.exit_code == 0, trained.output
    evaluated = CliRunner().invoke(main, ["evaluate", str(model), "--data", str(tmp_path / "data.csv")])
    assert evaluated.exit_code == 0 and "on 90 samples of" in evaluated.output, evaluated.output
    short = CliRunner().invoke(main, ["predict", str(model), "--data", str(tmp_path / "short.csv"), "--index", "0"])
    assert short.exit_code == 2 and "has no column 'c', but the model was trained on the columns a, y, c" in short.output, \
        short.output
    predicted = CliRunner().invoke(main, ["predict", str(model), "--data", str(tmp_path / "rows.csv"), "--index", "1"])
    assert predicted.exit_code == 0 and predicted.output.startswith("predicted "), predicted.output


def test_feature_columns_are_matched_by_header_name(tmp_path):
    """A file with the model's columns in another order was read by position and scored lower
    without a word; it is now read by name, and a renamed column is refused."""
    rng = np.random.default_rng(0)
    kinds = np.arange(90) % 3
    x = rng.normal(kinds[:, None] * [1.0, -2.0, 0.5, 3.0], 0.4)
    write = lambda path, order, header: path.write_text(  # noqa: E731
        ",".join(header[j] for j in order) + ",label\n" + "".join(",".join(str(row[j]) for j in order) + f",{k}\n"
                                                                 for row, k in zip(x, kinds)))
    write(tmp_path / "data.csv", [0, 1, 2, 3], "abcd")
    write(tmp_path / "shuffled.csv", [3, 1, 0, 2], "abcd")
    write(tmp_path / "renamed.csv", [0, 1, 2, 3], "abce")
    model = tmp_path / "m.npz"
    trained = CliRunner().invoke(main, ["train", "--data", str(tmp_path / "data.csv"), "--epochs", "20", "--hidden", "8",
                                        "--save", str(model)])
    assert trained.exit_code == 0, trained.output
    same = CliRunner().invoke(main, ["evaluate", str(model), "--data", str(tmp_path / "data.csv")])
    shuffled = CliRunner().invoke(main, ["evaluate", str(model), "--data", str(tmp_path / "shuffled.csv")])
    assert same.exit_code == shuffled.exit_code == 0, same.output + shuffled.output
    assert same.output.splitlines()[0] == shuffled.output.splitlines()[0].replace("shuffled.csv", "data.csv")
    renamed = CliRunner().invoke(main, ["evaluate", str(model), "--data", str(tmp_path / "renamed.csv")])
    assert renamed.exit_code == 2 and "has no column 'd'" in renamed.output and "drop the header" in renamed.output
    headerless = tmp_path / "plain.csv"
    headerless.write_text("".join(",".join(map(str, row)) + f",{k}\n" for row, k in zip(x, kinds)))
    by_position = CliRunner().invoke(main, ["evaluate", str(model), "--data", str(headerless), "--label-column", "-1"])
    assert by_position.exit_code == 0, by_position.output


def test_a_test_sibling_with_its_columns_in_another_order_is_read_by_name(tmp_path):
    from nnback.formats import load_dataset

    (tmp_path / "d_train.csv").write_text("a,b,label\n" + "".join(f"{k},{10 + k},{k % 2}\n" for k in range(40)))
    (tmp_path / "d_test.csv").write_text("label,b,a\n" + "".join(f"{k % 2},{10 + k},{k}\n" for k in range(6)))
    data = load_dataset(tmp_path / "d_train.csv", val_size=0)
    np.testing.assert_array_equal(data.test.features[:, 0], np.arange(6, dtype=np.float32))
    assert data.feature_names == ("a", "b")


def test_a_new_file_is_matched_to_the_model_s_columns_forgivingly_but_never_wrongly(tmp_path):
    """Kaggle's test.csv with an id column was scored against its ids ("true class 0, WRONG");
    a header in other case was refused; a repeated name switched matching off; choosing one of
    the model's features as the label column said only "has no column 'c'"."""
    rng = np.random.default_rng(0)
    kinds = np.arange(60) % 3
    x = rng.normal(kinds[:, None], 0.3, (60, 3))
    rows = lambda header, cells: (header + "\n" + "".join(cells(r, k) + "\n" for r, k in zip(x, kinds)))  # noqa: E731
    (tmp_path / "data.csv").write_text(rows("a,b,c,label", lambda r, k: f"{r[0]},{r[1]},{r[2]},{k}"))
    (tmp_path / "ids.csv").write_text(rows("id,a,b,c", lambda r, k: f"{100 + k},{r[0]},{r[1]},{r[2]}"))
    (tmp_path / "upper.csv").write_text(rows("C,A,B,Label", lambda r, k: f"{r[2]},{r[0]},{r[1]},{k}"))
    (tmp_path / "twice.csv").write_text(rows("c,a,a,label", lambda r, k: f"{r[2]},{r[0]},{r[0]},{k}"))
    model = tmp_path / "m.npz"
    assert CliRunner().invoke(main, ["train", "--data", str(tmp_path / "data.csv"), *TINY, "--save", str(model)]).exit_code == 0
    run = lambda *args: CliRunner().invoke(main, [args[0], str(model), "--data", *map(str, args[1:])])  # noqa: E731
    same, upper = run("evaluate", tmp_path / "data.csv"), run("evaluate", tmp_path / "upper.csv")
    assert same.exit_code == upper.exit_code == 0
    assert same.output.splitlines()[1:-1] == upper.output.splitlines()[1:-1]  # the same table; the last line names the file
    by_id, on_data = run("predict", tmp_path / "ids.csv", "--index", "3"), run("predict", tmp_path / "data.csv", "--index", "3")
    assert by_id.exit_code == 0 and "true class" not in by_id.output
    assert by_id.output.splitlines()[0] == on_data.output.splitlines()[0].split("   (")[0]
    assert "has no labels" in run("evaluate", tmp_path / "ids.csv").output
    twice = run("evaluate", tmp_path / "twice.csv")
    assert twice.exit_code == 2 and "has no column 'b'" in twice.output
    chosen = run("evaluate", tmp_path / "data.csv", "--label-column", "c")
    assert chosen.exit_code == 2 and "label column 'c' is one of the model's feature columns (a, b, c)" in chosen.output


@pytest.mark.parametrize("training_header", ["a,b,c,label\n", ""])
def test_a_file_without_a_header_has_its_labels_where_the_model_s_were(tmp_path, training_header):
    """A model trained with its labels in the last column read a headerless file's first column as
    labels (a feature), unless --label-column was given again."""
    rng = np.random.default_rng(0)
    kinds = np.arange(60) % 3
    x = rng.normal(kinds[:, None], 0.3, (60, 3))
    body = "".join(f"{r[0]},{r[1]},{r[2]},{k}\n" for r, k in zip(x, kinds))
    (tmp_path / "data.csv").write_text(training_header + body)
    (tmp_path / "plain.csv").write_text(body)
    model = tmp_path / "m.npz"
    options = [] if training_header else ["--label-column", "-1"]
    trained = CliRunner().invoke(main, ["train", "--data", str(tmp_path / "data.csv"), *options, *TINY, "--save", str(model)])
    assert trained.exit_code == 0, trained.output
    plain = CliRunner().invoke(main, ["evaluate", str(model), "--data", str(tmp_path / "plain.csv")])
    told = CliRunner().invoke(main, ["evaluate", str(model), "--data", str(tmp_path / "plain.csv"), "--label-column", "3"])
    assert plain.exit_code == told.exit_code == 0, plain.output + told.output
    assert plain.output == told.output
