"""Per-report logs: the CSV a spreadsheet reads and the scalars TensorBoard draws."""

from __future__ import annotations

import csv
import struct

import pytest
from click.testing import CliRunner

from conftest import idx_subset
from nnback.cli import main
from nnback.logs import COLUMNS, CsvLog, LogUnavailable, TensorBoardLog, tag

REPORTS = [
    {"epoch": 1, "train_loss": 0.5, "val_loss": 0.4, "val_accuracy": 0.9, "test_loss": 0.41, "test_accuracy": 0.89,
     "seconds": 1.25, "lr": 0.1},
    {"epoch": 2, "train_loss": 0.25, "val_loss": None, "val_accuracy": None, "test_loss": 0.3, "test_accuracy": 0.93,
     "seconds": 1.5, "lr": 0.05},
]


def _rows(path) -> list[dict]:
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def test_csv_has_fixed_columns_and_one_row_per_report(tmp_path):
    path = tmp_path / "log.csv"
    log = CsvLog(path)
    for stats in REPORTS:
        log(stats)
    log.close()
    assert path.read_text().splitlines()[0] == ",".join(COLUMNS)
    rows = _rows(path)
    assert [row["epoch"] for row in rows] == ["1", "2"]
    assert float(rows[0]["val_accuracy"]) == 0.9 and rows[1]["val_accuracy"] == ""  # None: an empty cell


def test_csv_rows_are_on_disk_before_close(tmp_path):
    """A crash after a report keeps that report: each row is flushed when written."""
    path = tmp_path / "log.csv"
    log = CsvLog(path)
    log(REPORTS[0])
    assert [row["train_loss"] for row in _rows(path)] == ["0.5"]
    log(REPORTS[1])
    assert len(_rows(path)) == 2
    log.close()


def test_csv_columns_come_from_the_first_report(tmp_path):
    path = tmp_path / "log.csv"
    log = CsvLog(path)
    log({"epoch": 1, "train_loss": 1.0, "seconds": 2.0, "lr": 0.1, "extra": 7})
    log({"epoch": 2, "train_loss": 0.5, "seconds": 2.0, "lr": 0.1, "test_accuracy": 0.9})  # new key: ignored
    log.close()
    assert path.read_text().splitlines()[0] == "epoch,train_loss,lr,seconds,extra"
    assert _rows(path)[1] == {"epoch": "2", "train_loss": "0.5", "lr": "0.1", "seconds": "2.0", "extra": ""}


def test_tensorboard_tags_group_splits():
    assert [tag(k) for k in ("train_loss", "val_accuracy", "test_loss", "lr", "seconds")] == \
        ["loss/train", "accuracy/val", "loss/test", "lr", "seconds"]


def _scalars(directory) -> dict[str, list[tuple[int, float]]]:
    """Read every scalar from the TFRecord event files (length, crc, event proto, crc)."""
    from tensorboardX.proto.event_pb2 import Event

    found: dict[str, list[tuple[int, float]]] = {}
    for path in sorted(directory.glob("events.out.tfevents.*")):
        data, offset = path.read_bytes(), 0
        while offset < len(data):
            (length,) = struct.unpack("<Q", data[offset:offset + 8])
            event = Event.FromString(data[offset + 12:offset + 12 + length])
            offset += 16 + length
            for value in event.summary.value:
                found.setdefault(value.tag, []).append((event.step, value.simple_value))
    return found


def test_tensorboard_writes_one_scalar_per_quantity_and_epoch(tmp_path):
    pytest.importorskip("tensorboardX")
    log = TensorBoardLog(tmp_path / "tb")
    for stats in REPORTS:
        log(stats)
    log.close()
    scalars = _scalars(tmp_path / "tb")
    assert scalars["loss/train"] == [(1, 0.5), (2, 0.25)]
    assert scalars["accuracy/val"] == [(1, pytest.approx(0.9))]  # None is left out, not drawn as 0
    assert [step for step, _ in scalars["lr"]] == [1, 2]


def test_tensorboard_without_tensorboardx_says_how_to_install(monkeypatch, tmp_path):
    import sys

    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    with pytest.raises(LogUnavailable, match=r"pip install 'nnback\[tensorboard\]'"):
        TensorBoardLog(tmp_path / "tb")


@pytest.fixture(scope="module")
def tiny_mnist_dir(tmp_path_factory):
    return idx_subset(tmp_path_factory.mktemp("mnist-600"), 600, 200)


def _train(tiny_mnist_dir, *args):
    return CliRunner().invoke(main, ["train", "--data", str(tiny_mnist_dir), "--layers", "784,16,10", "--val-size",
                                     "100", "--batch-size", "50", "--quiet", *args])


def test_train_writes_csv_and_tensorboard_logs(tiny_mnist_dir, tmp_path):
    pytest.importorskip("tensorboardX")
    csv_path, save = tmp_path / "log.csv", tmp_path / "run.npz"
    result = _train(tiny_mnist_dir, "--epochs", "2", "--log-csv", str(csv_path), "--tensorboard", str(tmp_path / "tb"),
                    "--save", str(save))
    assert result.exit_code == 0, result.output
    assert [row["epoch"] for row in _rows(csv_path)] == ["1", "2"]
    assert float(_rows(csv_path)[1]["test_accuracy"]) > 0
    assert [step for step, _ in _scalars(tmp_path / "tb")["loss/train"]] == [1, 2]
    # A resumed run's CSV holds the earlier epochs too.
    resumed = _train(tiny_mnist_dir, "--resume", str(save), "--epochs", "3", "--log-csv", str(csv_path))
    assert resumed.exit_code == 0, resumed.output
    assert [row["epoch"] for row in _rows(csv_path)] == ["1", "2", "3"]


def test_train_refuses_unwritable_log_paths_before_training(tiny_mnist_dir, tmp_path):
    result = _train(tiny_mnist_dir, "--epochs", "1", "--log-csv", str(tmp_path / "missing" / "log.csv"))
    assert result.exit_code == 2 and "--log-csv" in result.output and "does not exist" in result.output
    (tmp_path / "file").write_text("")
    result = _train(tiny_mnist_dir, "--epochs", "1", "--tensorboard", str(tmp_path / "file"))
    assert result.exit_code == 2 and "is a file; give a directory" in result.output
