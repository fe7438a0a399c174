"""``nnback train --data``: every format trains; a broken file is one line and exit code 2."""

from __future__ import annotations

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
