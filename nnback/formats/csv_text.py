"""CSV files of numeric features and one label column, with or without a header row.

Cells are split at commas, or at semicolons or tabs where every one of the first lines has the same
number of those (as spreadsheets in many locales write them); a cell's surrounding double quotes are
dropped (R and spreadsheets quote names and sometimes numbers), but a separator inside quotes is not
supported. Row names (a first column with an empty header name, quoted as R writes them or counting
from 0 or 1 as pandas' index) are left out, with a note.
A header is a first line that is not all numbers, unless most of its cells are numbers where the
other lines hold numbers: then it is a damaged data row and the error names line 1. The label
column is ``label_column`` (a header name, or a 0-based index; -1 is the last), else a column
named label, class, target or y (any case), else the only column of names (no number in its first
50 lines), else the first column. Features must be finite numbers; labels are whole numbers or
names. Blank and whitespace-only lines are skipped but still counted, so every error names the
file's own line.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data import DataError
from .checks import Part, describe, printable
from .sniff import read_bytes

LABEL_NAMES = ("label", "class", "target", "y")
DELIMITERS = {";": "semicolons", "\t": "tabs"}  # besides commas, tried in this order
SAMPLE_LINES = 50  # lines looked at to tell a header from data and names from numbers


@dataclass(frozen=True)
class Table:
    """A CSV file split into lines and cells, its header and width known, nothing parsed yet."""

    where: str
    numbers: np.ndarray  # the file's own 1-based line numbers of ``lines``
    lines: list[str]  # the data lines (no header, no blank lines)
    rows: list[list[str]]  # the first SAMPLE_LINES data lines, split
    names: list[str] | None  # the header's names, None without a header
    width: int
    delimiter: str
    note: str = ""  # what reading the table decided beyond the labels (R's row names left out)
    skipped: int = 0  # columns left out before ``lines`` (row names), so errors count the file's own

    def unlabelled(self, n_features: int, label_names=LABEL_NAMES) -> bool:
        """Whether these rows are features alone: ``n_features`` columns under a header that names
        none of ``label_names`` and no column of names. Without a header nothing tells a label
        column from a feature, so a headerless file is never taken for unlabelled."""
        if self.width != n_features or self.names is None or any(self.has_column(name) for name in label_names):
            return False
        return not any(_text_columns(self.rows, self.width))

    def has_column(self, name: str) -> bool:
        """Whether the header names a column ``name`` (in any case, as label columns are found)."""
        return self.names is not None and name.casefold() in (column.casefold() for column in self.names)


def read_table(path: Path, part: str) -> Table:
    """The file's lines and cells, its header and width, checked for ragged rows."""
    where = f"{path} ({part})"
    numbers, lines = _lines(_text(path, where))
    if not lines:
        raise DataError(f"{where}: the file is empty; expected lines of numbers and a label")
    all_numbers, all_lines = numbers, lines
    delimiter = _delimiter(lines[:SAMPLE_LINES + 1])
    rows = [line.split(delimiter) for line in lines[:SAMPLE_LINES + 1]]
    numeric = _numeric_columns(rows[1:], len(rows[0]))
    header = _is_header(rows[0], numeric)
    names = [_unquote(cell) for cell in rows[0]] if header else None
    if header:
        numbers, lines, rows = numbers[1:], lines[1:], rows[1:]
        if not lines:
            raise DataError(f"{where}: has a header but no data lines (empty dataset)")
    width = len(names) if names else len(rows[0])
    try:
        _check_widths(lines, numbers, width, where, names is not None, delimiter)
        if width < 2:
            raise DataError(f"{where}: rows have {width} column; expected features and a label column, "
                            "separated by commas, semicolons or tabs")
    except DataError as error:
        hint = _separator_hint(all_lines[:SAMPLE_LINES + 1], all_numbers) if delimiter == "," else ""
        raise DataError(f"{error}{hint}") from None
    if names is not None and names[0] == "" and width > 2 and _row_names([row[0] for row in rows]):
        return Table(where, numbers, [line.split(delimiter, 1)[1] for line in lines], [row[1:] for row in rows],
                     names[1:], width - 1, delimiter, "column 0 (no name) left out as the rows' names", skipped=1)
    return Table(where, numbers, lines, rows, names, width, delimiter)


def _row_names(cells: list[str]) -> bool:
    """Whether an unnamed first column holds the rows' names: quoted, as R's write.csv writes them
    (1, 2, 3, ... or the names a subset kept), or counting from 0 or 1, as pandas' index."""
    if all(len(cell.strip()) >= 2 and cell.strip()[0] == cell.strip()[-1] == '"' for cell in cells):
        return True
    plain = [cell.strip() for cell in cells]
    return plain in ([str(k) for k in range(len(cells))], [str(k) for k in range(1, len(cells) + 1)])


def table_part(table: Table, label_column=None, unlabelled: bool = False) -> tuple[Part, str, int]:
    """The table as a :class:`Part`, a note on its labels and the label column's index: features
    and the label column (``label_column`` or the one found), or with ``unlabelled`` every column
    a feature (the index is then the width)."""
    where, width, delimiter = table.where, table.width, table.delimiter
    if unlabelled:
        label, how = width, f"none: all {width} columns are features (the header names no label)"
    else:
        label, how = _label_column(label_column, table.names, _text_columns(table.rows, width), width, where)
    if delimiter != ",":
        how += f"; cells separated by {DELIMITERS[delimiter]}"
    if table.note:
        how += f"; {table.note}"
    locate = _locator(table.numbers, label, table.skipped)
    features = _parse(table.lines, table.numbers, label, width, where, delimiter, table.skipped)
    labels = None if unlabelled else _labels([_cell(line, label, delimiter) for line in table.lines])
    names = None if table.names is None else tuple(name for j, name in enumerate(table.names) if j != label)
    return Part(features, labels, where, locate, text=True, names=names), how, label


def _delimiter(lines: list[str]) -> str:
    """A semicolon or a tab where each sampled line has the same number (at least one) of it and
    the first line two cells or more, else a comma: "5,1;3,5;setosa" is a semicolon file with
    decimal commas, not a comma file; "a,b,c<tab>" is a comma file with a stray tab at the end."""
    for delimiter in DELIMITERS:
        counts = {line.count(delimiter) for line in lines}
        if len(counts) == 1 and counts.pop() > 0 and sum(bool(cell.strip()) for cell in lines[0].split(delimiter)) > 1:
            return delimiter
    return ","


def _separator_hint(lines: list[str], numbers) -> str:
    """Why a file that looks separated by semicolons or tabs was split at commas: the first line
    whose count differs from the first line's ("" when there is no such line)."""
    for delimiter, name in DELIMITERS.items():
        first = lines[0].count(delimiter)
        if first == 0:
            continue
        for number, line in zip(numbers, lines):
            if line.count(delimiter) != first:
                return (f" (line {int(numbers[0])} has {first} {name} but line {int(number)} has "
                        f"{line.count(delimiter)}: cells are split at {name} only where every line has as many)")
    return ""


def _text(path: Path, where: str) -> str:
    raw = read_bytes(path)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DataError(f"{where}: not a text CSV file (byte {error.start} is not UTF-8 text)") from None


def _lines(text: str) -> tuple[np.ndarray, list[str]]:
    """The 1-based numbers and the text of the non-blank lines."""
    numbers, lines = [], []
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            numbers.append(number)
            lines.append(line)
    return np.array(numbers, dtype=np.int64), lines


def _is_number(cell: str) -> bool:
    try:
        float(_unquote(cell))
    except ValueError:
        return False
    return True


def _unquote(cell: str) -> str:
    cell = cell.strip()
    return cell[1:-1].strip() if len(cell) >= 2 and cell[0] == cell[-1] and cell[0] in "\"'" else cell


def _numeric_columns(rows: list[list[str]], width: int) -> list[bool]:
    """Per column: every sampled row of the right width holds a number there (no rows: unknown)."""
    rows = [row for row in rows if len(row) == width]
    return [bool(rows) and all(_is_number(row[j]) for row in rows) for j in range(width)]


def _text_columns(rows: list[list[str]], width: int) -> list[bool]:
    """Per column: no sampled row holds a number there (a column of names; one typo is not that).
    A number with a decimal comma counts as a number here, so that its column is not taken for the
    labels before the error about it can be given."""
    rows = [row for row in rows if len(row) == width]
    return [bool(rows) and not any(_is_number(row[j].replace(",", ".", 1)) for row in rows) for j in range(width)]


def _is_header(cells: list[str], numeric: list[bool]) -> bool:
    if all(_is_number(cell) for cell in cells):  # pandas writes a header of column numbers 0,1,...
        # ... but "0,1" or "1,2" is as likely a first row of two columns: only three or more count.
        return len(cells) >= 3 and [float(_unquote(cell)) for cell in cells] in (list(range(len(cells))),
                                                                        list(range(1, len(cells) + 1)))
    if len(numeric) != len(cells) or not any(numeric):
        return True
    numbers_where_numbers = sum(_is_number(cell) for cell, is_numeric in zip(cells, numeric) if is_numeric)
    return numbers_where_numbers * 2 <= sum(numeric)


def _check_widths(lines: list[str], numbers, width: int, where: str, header: bool, delimiter: str) -> None:
    for number, line in zip(numbers, lines):
        count = line.count(delimiter) + 1
        if count != width:
            expected = "the header" if header else "the first line"
            raise DataError(f"{where}: line {number} has {count} columns; expected {width} (as {expected})")


def _label_column(chosen, names, text, width: int, where: str) -> tuple[int, str]:
    if isinstance(chosen, str) and chosen.strip().removeprefix("-").isdigit():
        index = int(chosen.strip())
        # A header may name a column "7": that name, where no column 7 exists.
        named_so = names is not None and chosen.strip() in names and not -width <= index < width
        chosen = chosen.strip() if named_so else index
    if isinstance(chosen, (int, np.integer)) and not isinstance(chosen, bool):
        if not -width <= chosen < width:
            raise DataError(f"{where}: no label column {chosen}; the rows have columns 0 to {width - 1} "
                            f"(-1 to -{width} from the end)")
        index = int(chosen) % width
        return index, f"column {index}{_named(names, index)} (as asked)"
    folded = [name.casefold() for name in names] if names else []
    if chosen is not None:
        if names is None:
            raise DataError(f"{where}: has no header row to find a column named {printable(repr(chosen), 40)} in; "
                            "give the label column's 0-based index")
        if str(chosen).strip().casefold() not in folded:
            shown = printable(", ".join(names), 200)
            raise DataError(f"{where}: no column named {printable(repr(chosen), 40)}; the header names {shown}")
        index = _only(folded, str(chosen).strip().casefold(), where)
        return index, f"column {index}{_named(names, index)} (as asked)"
    for wanted in LABEL_NAMES:
        if wanted in folded:
            index = _only(folded, wanted, where)
            return index, f"column {index}{_named(names, index)} (named like a label)"
    text_columns = [j for j, is_text in enumerate(text) if is_text]
    if len(text_columns) == 1:
        index = text_columns[0]
        return index, f"column {index}{_named(names, index)} (the only column that is not numbers)"
    return 0, f"column 0{_named(names, 0)} (the first column; no column is named label, class, target or y)"


def _only(folded: list[str], name: str, where: str) -> int:
    """The index of the one header column named ``name`` (in any case); two such columns give no
    way to tell which holds the labels."""
    found = [j for j, column in enumerate(folded) if column == name]
    if len(found) > 1:
        raise DataError(f"{where}: the header names {printable(repr(name), 40)} {len(found)} times (columns "
                        f"{', '.join(map(str, found))}); give the label column's 0-based index")
    return found[0]


def _named(names, index: int) -> str:
    return f" {printable(repr(names[index]), 40)}" if names else ""


def _locator(numbers: np.ndarray, label: int, skipped: int = 0):
    def locate(row: int, column: int) -> str:
        file_column = label if column < 0 else column + (column >= label)
        return f"line {int(numbers[row])}, column {file_column + skipped + 1}"
    return locate


def _cell(line: str, index: int, delimiter: str) -> str:
    if index == 0:
        return line.split(delimiter, 1)[0]
    return line.split(delimiter)[index]


def _labels(cells: list[str]) -> np.ndarray:
    """Labels as int64 where every cell is a whole number (exactly, beyond float64's 2**53 too),
    else float64 where every cell is a number (checked later: 7.0 is a class, 7.5 is not), else
    the names."""
    names = np.array([_unquote(cell) for cell in cells], dtype=str)
    try:
        return names.astype(np.int64)
    except (ValueError, OverflowError):
        pass
    try:
        numbers = names.astype(np.float64)
    except (ValueError, OverflowError):
        return names
    if np.all(numbers == np.round(numbers)) and np.all(np.abs(numbers) < 2**63):
        # Whole numbers, some written as 3.0: each read exactly (2**53 + 1 beside 3.0 stays itself).
        return np.array([int(name) if _is_integer(name) else int(value) for name, value in zip(names, numbers)],
                        dtype=np.int64)
    return numbers


def _is_integer(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def _parse(lines: list[str], numbers, label: int, width: int, where: str, delimiter: str,
           skipped: int = 0) -> np.ndarray:
    """Whole numbers parse fast as int32; anything else (``7.0``, ``nan``) as float64, exactly
    enough that no fraction or overflow is rounded away before it is checked."""
    columns = [j for j in range(width) if j != label]
    body = "\n".join(lines)
    for dtype in (np.int32, np.float64):
        try:
            table = np.loadtxt(io.StringIO(body), delimiter=delimiter, dtype=dtype, comments=None, ndmin=2,
                               usecols=columns, quotechar='"')
            break
        except (ValueError, OverflowError) as error:
            failure = error
    else:
        _diagnose(lines, numbers, columns, where, delimiter, skipped)
        raise DataError(f"{where}: cannot read as CSV ({describe(failure)})") from None
    if table.shape != (len(lines), len(columns)):
        raise DataError(f"{where}: cannot read as CSV (found {table.shape[0]} rows of {table.shape[1]} numbers, "
                        f"expected {len(lines)} of {len(columns)})")
    bad = ~np.isfinite(table) if table.dtype.kind == "f" else None
    if bad is not None and bad.any():
        row, column = (int(i[0]) for i in np.nonzero(bad))
        file_column = columns[column] + skipped
        raise DataError(f"{where}: line {int(numbers[row])}, column {file_column + 1}: value {table[row, column]:g} "
                        "is NaN or infinite; every feature must be a number")
    return table


def _diagnose(lines: list[str], numbers, columns: list[int], where: str, delimiter: str, skipped: int = 0) -> None:
    """Name the first cell that is not a number."""
    for number, line in zip(numbers, lines):
        cells = line.split(delimiter)
        for column in columns:
            if not _is_number(cells[column]):
                cell = cells[column].strip()
                hint = (f" (a decimal comma? write {cell.replace(',', '.')})"
                        if delimiter != "," and _is_number(cell.replace(",", ".", 1)) else "")
                raise DataError(f"{where}: line {int(number)}, column {column + skipped + 1}: "
                                f"{printable(repr(cell), 24)} is not a number{hint}")
