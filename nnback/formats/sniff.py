"""Tell a data file's format from its first bytes, never from its name; read files within bounds.

gzip is looked through: ``mnist.pkl.gz`` is a pickle and ``mnist_train.csv.gz`` a CSV file. Every
path is checked to be a regular file before it is opened (a FIFO would block the read forever),
and gzip is inflated as a stream with a cap, so a small bomb is refused before it takes memory.
"""

from __future__ import annotations

import gzip
import io
import os
import zlib
from pathlib import Path

from ..data import DataError
from ..files import NotRegularFile, require_regular_file
from .checks import printable

IDX, NPZ, PICKLE, CSV = "IDX", "npz", "pickle", "CSV"
GZIP_MAGIC = b"\x1f\x8b"
MAX_BYTES = 2**31  # decompressed; the whole of MNIST as Nielsen's float32 pickle is about 220 MB
# Measured on MNIST (10,000 rows, gzip -6/-9): CSV inflates 8.2-8.6x, Nielsen's float32 pickle about
# 12x (17x for the original file). 100x leaves room for sparse data; the floor lets tiny files be.
MAX_RATIO, MIN_CAP = 100, 32 * 2**20
IDX_TYPES = (0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E)
GZIP_ERRORS = (OSError, EOFError, zlib.error)
CHUNK = 2**20


def regular(path: Path, what: str = "data file") -> Path:
    """``path`` if it is a regular file; a FIFO, socket or device is refused before any open."""
    try:
        return require_regular_file(path, what)
    except NotRegularFile as error:
        raise DataError(str(error)) from None


def sniff(path: Path) -> str:
    """One of IDX, npz, pickle or CSV, or a DataError naming what the file starts with."""
    head = _head(path)
    if head[:2] == b"\x00\x00" and len(head) >= 4 and head[2] in IDX_TYPES and 1 <= head[3] <= 4:
        return IDX
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return NPZ
    if head[:1] == b"\x80" or head[:1] == b"(":  # protocol 2+ opcode, or a protocol 0/1 tuple
        return PICKLE
    if _looks_like_text(head):
        return CSV
    raise DataError(f"{path}: not a recognised data format (it starts with {head[:8]!r}); give a "
                    "CSV file, an npz file, IDX files, or Nielsen's mnist.pkl.gz")


def _head(path: Path, size: int = 512) -> bytes:
    regular(path)
    try:
        with open(path, "rb") as handle:
            head = handle.read(size)
        if head[:2] == GZIP_MAGIC:
            with gzip.open(path, "rb") as handle:
                head = handle.read(size)
    except GZIP_ERRORS as error:
        raise DataError(f"{path}: cannot read ({reason(error)})") from None
    if not head.strip():
        raise DataError(f"{path}: is empty; expected data")
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
    """The file's bytes, decompressed if gzipped. A raw file may hold MAX_BYTES; a gzip stream may
    inflate to MAX_RATIO times its size (at least MIN_CAP), at most MAX_BYTES: a bomb stops there."""
    regular(path)
    try:
        with open(path, "rb") as handle:
            if os.fstat(handle.fileno()).st_size > MAX_BYTES:
                raise DataError(f"{path}: holds more than {MAX_BYTES >> 20} MiB; too large to read")
            raw = handle.read()
            if raw[:2] != GZIP_MAGIC:
                return raw
        cap = inflate_cap(len(raw))
        with gzip.GzipFile(fileobj=io.BytesIO(raw), mode="rb") as stream:
            chunks, total = [], 0
            while chunk := stream.read(min(CHUNK, cap + 1 - total)):
                chunks.append(chunk)
                total += len(chunk)
                if total > cap:
                    raise DataError(f"{path}: its {len(raw):,} gzip bytes inflate to more than {cap:,} bytes "
                                    f"(over {cap // max(len(raw), 1)}x); refused as a gzip bomb")
    except GZIP_ERRORS as error:
        raise DataError(f"{path}: damaged or unreadable ({reason(error)})") from None
    return b"".join(chunks)


def inflate_cap(compressed: int) -> int:
    """The most bytes ``compressed`` bytes of gzip or zip data may inflate to before it is a bomb."""
    return min(MAX_BYTES, max(MAX_RATIO * compressed, MIN_CAP))


def reason(error: Exception) -> str:
    return printable(getattr(error, "strerror", None) or str(error) or type(error).__name__)
