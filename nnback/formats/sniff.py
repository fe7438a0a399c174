"""Tell a data file's format from its first bytes, never from its name.

gzip is looked through: ``mnist.pkl.gz`` is a pickle and ``mnist_train.csv.gz`` a CSV file.
"""

from __future__ import annotations

import gzip
import io
import zlib
from pathlib import Path

from ..data import DataError
from .checks import printable

IDX, NPZ, PICKLE, CSV = "IDX", "npz", "pickle", "CSV"
GZIP_MAGIC = b"\x1f\x8b"
MAX_BYTES = 2**31  # decompressed; the whole of MNIST as Nielsen's float32 pickle is about 220 MB
_IDX_MAGICS = (b"\x00\x00\x08\x01", b"\x00\x00\x08\x03")
_GZIP_ERRORS = (OSError, EOFError, zlib.error)


def sniff(path: Path) -> str:
    """One of IDX, npz, pickle or CSV, or a DataError naming what the file starts with."""
    head = _head(path)
    if head[:4] in _IDX_MAGICS:
        return IDX
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return NPZ
    if head[:1] == b"\x80" or head[:1] == b"(":  # protocol 2+ opcode, or a protocol 0/1 tuple
        return PICKLE
    if _looks_like_text(head):
        return CSV
    raise DataError(f"{path}: not a recognised MNIST format (it starts with {head[:8]!r}); give a "
                    "CSV file, Keras' mnist.npz, Nielsen's mnist.pkl.gz or a directory of IDX files")


def _head(path: Path, size: int = 512) -> bytes:
    try:
        with open(path, "rb") as handle:
            head = handle.read(size)
        if head[:2] == GZIP_MAGIC:
            with gzip.open(path, "rb") as handle:
                head = handle.read(size)
    except _GZIP_ERRORS as error:
        raise DataError(f"{path}: cannot read ({_reason(error)})") from None
    if not head.strip():
        raise DataError(f"{path}: is empty; expected MNIST data")
    return head


def _looks_like_text(head: bytes) -> bool:
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as error:  # a multi-byte character cut at the end of the head
        if error.start < len(head) - 3:
            return False
        text = head[: error.start].decode("utf-8-sig")
    return all(char.isprintable() or char in "\r\n\t" for char in text)


def read_bytes(path: Path) -> bytes:
    """The file's bytes, decompressed if gzipped, refusing more than MAX_BYTES (a gzip bomb)."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
        if raw[:2] == GZIP_MAGIC:
            with gzip.GzipFile(fileobj=io.BytesIO(raw), mode="rb") as handle:
                raw = handle.read(MAX_BYTES + 1)
    except _GZIP_ERRORS as error:
        raise DataError(f"{path}: damaged or unreadable ({_reason(error)})") from None
    if len(raw) > MAX_BYTES:
        raise DataError(f"{path}: holds more than {MAX_BYTES >> 20} MiB of data; that is not MNIST")
    return raw


def _reason(error: Exception) -> str:
    return printable(getattr(error, "strerror", None) or str(error) or type(error).__name__)
