"""Per-report training logs for outside tools: a CSV file, or TensorBoard event files.

Both are callables taking one report dict (what ``fit`` passes to ``on_report``: ``epoch``,
``train_loss``, ``val_loss``, ``val_accuracy``, ``test_loss``, ``test_accuracy``, ``lr``,
``seconds``) and have ``close()``.

The CSV is *appended and flushed row by row* rather than rewritten atomically: a log is read
while it grows (``tail -f``, a spreadsheet), rewriting it would cost O(rows) per report, and a
crash then loses at most the row being written, never the rows before it. Each row is also
fsynced, so they survive a power cut too; that is one fsync per report, not per step.
"""

from __future__ import annotations

import csv
import os
from typing import IO, Any

COLUMNS = ("epoch", "train_loss", "val_loss", "val_accuracy", "test_loss", "test_accuracy", "lr", "seconds")


class LogUnavailable(RuntimeError):
    """The package a log needs is not installed."""


class CsvLog:
    """One CSV row per report. The columns are fixed by the first report: those of ``COLUMNS`` it
    has, in that order, then any others it has, sorted; a later missing value is an empty cell."""

    def __init__(self, path):
        self.path = path
        self.columns: list[str] | None = None
        self._file: IO[str] | None = None
        self._writer: Any = None

    def __call__(self, stats: dict) -> None:
        if self._writer is None:
            self.columns = [c for c in COLUMNS if c in stats] + sorted(set(stats) - set(COLUMNS))
            self._file = open(self.path, "w", newline="", encoding="utf-8")
            self._writer = csv.DictWriter(self._file, self.columns, extrasaction="ignore")
            self._writer.writeheader()
        assert self._file is not None
        self._writer.writerow({key: "" if value is None else value for key, value in stats.items()})
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = self._writer = None


class TensorBoardLog:
    """TensorBoard scalars per report, at step = epoch: ``loss/train``, ``loss/val``,
    ``accuracy/test``, ... (one chart per quantity, one line per split), ``lr`` and ``seconds``.
    Needs ``tensorboardX`` (``pip install 'nnback[tensorboard]'``)."""

    def __init__(self, directory):
        try:
            from tensorboardX import SummaryWriter
        except ImportError:
            raise LogUnavailable("TensorBoard logs need tensorboardX; "
                                 "install with `pip install 'nnback[tensorboard]'`") from None
        self.writer = SummaryWriter(logdir=str(directory))

    def __call__(self, stats: dict) -> None:
        step = int(stats["epoch"])
        for key, value in stats.items():
            if key != "epoch" and isinstance(value, (int, float)) and not isinstance(value, bool):
                self.writer.add_scalar(tag(key), float(value), global_step=step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def tag(key: str) -> str:
    """'val_accuracy' → 'accuracy/val', so TensorBoard draws the splits of one quantity together."""
    split, _, quantity = key.partition("_")
    return f"{quantity}/{split}" if quantity and split in ("train", "val", "test") else key
