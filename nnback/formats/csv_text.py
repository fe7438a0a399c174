"""CSV files as the Kaggle-era notebooks use them: a label, then 784 pixel intensities 0-255.

A header row (``label,pixel0,...``) is recognised by a first cell that is not a number and
skipped. Values must be whole numbers: pixels 0-255, labels 0-9. A file of pixels already
scaled to [0, 1] is refused rather than silently divided by 255 again.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from ..data import N_PIXELS, DataError
from .checks import checked_split, describe, printable
from .sniff import read_bytes

N_COLUMNS = 1 + N_PIXELS


def read_csv(path: Path, part: str):
    """One CSV file as a checked :class:`~nnback.data.Split` (``part`` names it in errors)."""
    where = f"{path} ({part})"
    text = _text(path, where)
    body, first_line = _without_header(text, where)
    table = _parse(body, first_line, where)
    _check_values(table, body, first_line, where)
    return checked_split(table[:, 1:].astype(np.uint8), table[:, 0].astype(np.int64), where)


def _text(path: Path, where: str) -> str:
    raw = read_bytes(path)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DataError(f"{where}: not a text CSV file (byte {error.start} is not UTF-8 text)") from None
    if not text.strip():
        raise DataError(f"{where}: the file is empty; expected lines of a label and 784 pixels")
    return text


def _without_header(text: str, where: str) -> tuple[str, int]:
    """The data lines and the line number of the first of them; checks the first line's width."""
    start, number = 0, 1
    while not text[start:_line_end(text, start)].strip():  # the text holds a non-blank line
        start, number = _line_end(text, start) + 1, number + 1
    end = _line_end(text, start)
    cells = text[start:end].split(",")
    header = not _is_number(cells[0]) or _counts_columns(cells)
    if len(cells) != N_COLUMNS:
        name = "the header" if header else f"line {number}"
        hint = (" with no label column (an unlabelled test file, such as Kaggle's test.csv?)"
                if len(cells) == N_PIXELS else "")
        raise DataError(f"{where}: {name} has {len(cells)} columns{hint}; expected {N_COLUMNS} "
                        "(the label, then 784 pixels)")
    if not header:
        return text[start:], number
    body = text[end + 1:]
    if not body.strip():
        raise DataError(f"{where}: has a header but no data lines (empty dataset)")
    return body, number + 1


def _line_end(text: str, start: int) -> int:
    end = text.find("\n", start)
    return len(text) if end < 0 else end


def _parse(body: str, first_line: int, where: str) -> np.ndarray:
    """Whole numbers parse fast as int32; anything else (``7.0``, ``nan``) is read as float64,
    exactly enough that no fraction or overflow is rounded away before it is checked."""
    for dtype in (np.int32, np.float64):
        try:
            return np.loadtxt(io.StringIO(body), delimiter=",", dtype=dtype, comments=None, ndmin=2)
        except (ValueError, OverflowError) as error:
            failure = error
    _diagnose(body, first_line, where)  # raises the precise message when it can name the line
    raise DataError(f"{where}: cannot read as CSV ({describe(failure)})") from None


def _diagnose(body: str, first_line: int, where: str) -> None:
    """Find the first line with the wrong width or a cell that is not a number."""
    for number, line in enumerate(body.split("\n"), start=first_line):
        if not line.strip():
            continue
        cells = line.split(",")
        if len(cells) != N_COLUMNS:
            raise DataError(f"{where}: line {number} has {len(cells)} columns; expected {N_COLUMNS} "
                            "(the label, then 784 pixels)")
        for column, cell in enumerate(cells, start=1):
            if not _is_number(cell):
                raise DataError(f"{where}: line {number}, column {column}: {printable(repr(cell.strip()), 24)} "
                                "is not a number")


def _check_values(table: np.ndarray, body: str, first_line: int, where: str) -> None:
    """Whole numbers only: labels 0-9 in column 1, pixels 0-255 after it."""
    labels, pixels = table[:, :1], table[:, 1:]
    problems = (
        (~np.isfinite(table), 0, "is NaN or infinite; every value must be a number"),
        (table != np.round(table), 0, "is not a whole number; pixels are intensities 0-255, labels 0-9"),
        ((labels < 0) | (labels > 9), 0, "is not a label 0-9"),
        ((pixels < 0) | (pixels > 255), 1, "is outside 0-255"),
    )
    for mask, offset, what in problems:
        if mask.any():
            row, column = (int(i[0]) for i in np.nonzero(mask))
            _fail_at(table[row, column + offset], row, column + offset, body, first_line, where, what)


def _fail_at(value, row: int, column: int, body: str, first_line: int, where: str, what: str):
    line = _line_number(body, row, first_line)
    kind = "label" if column == 0 else "pixel"
    raise DataError(f"{where}: line {line}, column {column + 1}: {kind} {value:g} {what}")


def _line_number(body: str, row: int, first_line: int) -> int:
    """The file line of data row ``row`` (blank lines do not count as rows)."""
    seen = -1
    for number, line in enumerate(body.split("\n"), start=first_line):
        seen += bool(line.strip())
        if seen == row:
            return number
    return first_line + row


def _counts_columns(cells: list[str]) -> bool:
    """A header of column numbers (pandas writes 0,1,...,784); no image has a pixel above 255."""
    try:
        numbers = [float(cell) for cell in cells]
    except ValueError:
        return False
    return numbers in (list(range(N_COLUMNS)), list(range(1, N_COLUMNS + 1)))


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True
