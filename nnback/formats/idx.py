"""IDX files of any size and type (MNIST, EMNIST, QMNIST, Fashion-MNIST...), found by name.

An IDX file is a 4-byte magic (0, 0, type code, number of dimensions), big-endian int32 sizes,
then the data, big-endian. The header is checked against the file before the data is read, and a
gzip stream is inflated only as far as the header promises (plus one byte to catch a longer one),
so a lying header or a gzip bomb is refused without allocating what it claims.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data import DataError
from .sniff import CHUNK, GZIP_ERRORS, GZIP_MAGIC, reason, regular

DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
MAX_DATA = 4 * 2**30  # bytes a header may promise; all of EMNIST byclass is under 600 MB


def read_idx_array(path: Path, expected_sha256: str | None = None) -> np.ndarray:
    """One IDX file (gzip or raw) as the array its header describes, native byte order."""
    path = regular(Path(path), "IDX file")
    try:
        with open(path, "rb") as handle:
            gzipped = handle.read(2) == GZIP_MAGIC
            handle.seek(0)
            stream = gzip.GzipFile(fileobj=handle, mode="rb") if gzipped else handle
            dtype, shape, header = _header(stream, path)
            expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            if not gzipped and os.fstat(handle.fileno()).st_size != len(header) + expected:
                size = os.fstat(handle.fileno()).st_size - len(header)
                raise DataError(f"{path}: holds {size} data bytes, the header promises {expected} (truncated?)")
            body = _read_exactly(stream, expected, path)
    except GZIP_ERRORS as error:
        raise DataError(f"{path}: damaged gzip data ({reason(error)})") from None
    if expected_sha256 is not None and hashlib.sha256(header + body).hexdigest() != expected_sha256:
        raise DataError(f"{path}: SHA-256 checksum mismatch; the bundled file is damaged, reinstall nnback")
    return np.frombuffer(body, dtype=dtype).astype(dtype.newbyteorder("="), copy=False).reshape(shape)


def _header(stream, path: Path):
    magic = stream.read(4)
    if len(magic) < 4:
        raise DataError(f"{path}: too short to be an IDX file ({len(magic)} bytes)")
    if magic[:2] != b"\x00\x00" or magic[2] not in DTYPES or not 1 <= magic[3] <= 4:
        found = struct.unpack(">i", magic)[0]
        raise DataError(f"{path}: bad magic number {found}; an IDX file starts 0, 0, a type code "
                        f"({', '.join(f'0x{t:02X}' for t in DTYPES)}) and 1-4 dimensions")
    sizes = stream.read(4 * magic[3])
    if len(sizes) < 4 * magic[3]:
        raise DataError(f"{path}: too short to be an IDX file (the header is cut)")
    shape = struct.unpack(f">{magic[3]}i", sizes)
    dtype = np.dtype(DTYPES[magic[2]])
    if min(shape) < 0 or int(np.prod(shape, dtype=object)) * dtype.itemsize > MAX_DATA:
        raise DataError(f"{path}: the header promises {'x'.join(map(str, shape))} {dtype.name} values; "
                        f"refused (negative, or over {MAX_DATA >> 30} GiB)")
    return dtype, shape, magic + sizes


def _read_exactly(stream, expected: int, path: Path) -> bytes:
    chunks, total = [], 0
    while total <= expected and (chunk := stream.read(min(CHUNK, expected + 1 - total))):
        chunks.append(chunk)
        total += len(chunk)
    if total > expected:
        raise DataError(f"{path}: holds more than the {expected} data bytes the header promises "
                        "(trailing data, or a gzip bomb); refused")
    if total < expected:
        raise DataError(f"{path}: holds {total} data bytes, the header promises {expected} (truncated?)")
    return b"".join(chunks)


# --- finding the files of one set by name -------------------------------------------------------

_PART = re.compile(r"train|test|t10k", re.IGNORECASE)
_KIND = re.compile(r"images|labels", re.IGNORECASE)


@dataclass(frozen=True)
class IdxSet:
    """The four files of one IDX data set."""

    name: str
    train_images: Path
    train_labels: Path
    test_images: Path
    test_labels: Path


def _role(path: Path) -> tuple[str, str, str] | None:
    """(set name, part, kind) for a file named like an IDX set member, else None."""
    name = path.name[:-3] if path.name.lower().endswith(".gz") else path.name
    if not re.search(r"idx\d", name, re.IGNORECASE):
        return None
    parts, kinds = list(_PART.finditer(name)), list(_KIND.finditer(name))
    if len(parts) != 1 or len(kinds) != 1:
        return None
    part = "train" if parts[0].group().lower() == "train" else "test"
    key = _KIND.sub("{kind}", _PART.sub("{part}", name)).lower()
    key = re.sub(r"idx\d.*$", "", key)
    return key, part, kinds[0].group().lower()


def idx_sets(directory: Path) -> dict[str, dict[tuple[str, str], Path]]:
    """Files of ``directory`` named like IDX set members, grouped by set (gzip preferred)."""
    sets: dict[str, dict[tuple[str, str], Path]] = {}
    for path in sorted(directory.iterdir()):
        role = _role(path)
        if role is None or path.is_dir():  # a FIFO stays, to be refused by name when it is read
            continue
        key, part, kind = role
        members = sets.setdefault(key, {})
        if (part, kind) not in members or path.name.lower().endswith(".gz"):
            members[(part, kind)] = path
    return sets


def find_set(directory: Path, chosen: Path | None = None) -> IdxSet:
    """The one IDX set of ``directory`` (or the set ``chosen`` belongs to), all four files present."""
    sets = idx_sets(directory)
    if chosen is not None:
        role = _role(chosen)
        if role is None:
            raise DataError(f"{chosen}: an IDX file whose name does not say train or test and images or labels; "
                            "name the files like train-images-idx3-ubyte, t10k-labels-idx1-ubyte")
        sets = {role[0]: sets.get(role[0], {})}
    if not sets:
        raise DataError(f"{directory}: no IDX files named like *train*images*, *train*labels*, *test*images*, "
                        "*test*labels* found")
    if len(sets) > 1:
        names = ", ".join(_display(members) for members in sets.values())
        raise DataError(f"{directory}: holds {len(sets)} IDX data sets ({names}); give one of their files")
    (key, members), = sets.items()
    missing = [f"{part} {kind}" for part in ("train", "test") for kind in ("images", "labels")
               if (part, kind) not in members]
    if missing:
        raise DataError(f"{directory}: the IDX set {_display(members)} has no {', '.join(missing)} file; "
                        "a set holds training and test images and labels")
    return IdxSet(_display(members), members[("train", "images")], members[("train", "labels")],
                  members[("test", "images")], members[("test", "labels")])


def _display(members: dict) -> str:
    first = sorted(members.values())[0].name
    return first[:-3] if first.lower().endswith(".gz") else first
