"""npz files in Keras' style: x_train, y_train, x_test, y_test, or one part as x, y (or only the
train keys), in which case a test set is held out. Samples of any shape: (n, d) rows or
(n, h, w[, c]) images. Labels are integers, whole floats or names (a unicode array).

Read with ``allow_pickle=False``, so an npz file can hold only plain arrays, never code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..data import DataError
from .checks import Part, Parts, describe, printable
from .sniff import inflate_cap, regular

KEYS = ("x_train", "y_train", "x_test", "y_test")


def read_npz(path: Path) -> Parts:
    """The parts of a Keras-style npz file (test None when it holds only one part)."""
    regular(path)
    try:
        with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as archive:
            files = set(archive.files)
            if {"x_train", "y_train"} <= files:
                present = {"x_test", "y_test"} & files
                if len(present) == 1:
                    raise DataError(f"{path}: holds {present.pop()} without its partner; "
                                    "a test part needs x_test and y_test")
                keys: tuple[str, ...] = KEYS if present else KEYS[:2]
            elif "x" in files:  # without y: rows to predict on, which cannot train
                keys = ("x", "y") if "y" in files else ("x",)
            else:
                held = ", ".join(printable(name) for name in archive.files) or "nothing"
                missing = ", ".join(key for key in KEYS[:2] if key not in files)
                raise DataError(f"{path}: missing {missing} (it holds {held}); an npz file holds "
                                f"{', '.join(KEYS)}, or just x and y")
            arrays = {key: _array(archive, key, path) for key in keys}
    except DataError:
        raise
    except Exception as error:  # zipfile and numpy raise many types for a damaged archive
        raise DataError(f"{path}: damaged npz archive ({describe(error)})") from None
    if "x" in arrays:
        return Parts(train=Part(arrays["x"], arrays.get("y"), f"{path} (x, y)" if "y" in arrays else f"{path} (x)"))
    train = Part(arrays["x_train"], arrays["y_train"], f"{path} (x_train, y_train)")
    if "x_test" not in arrays:
        return Parts(train=train)
    test = Part(arrays["x_test"], arrays["y_test"], f"{path} (x_test, y_test)")
    if train.x.shape[1:] != test.x.shape[1:]:
        raise DataError(f"{path}: x_train samples have shape {train.x.shape[1:]} but x_test samples "
                        f"{test.x.shape[1:]}; they must match")
    return Parts(train=train, test=test)


def _check_member(archive, key: str, path: Path) -> None:
    """Refuse a member that would inflate past the gzip bounds, or whose .npy header promises more
    bytes than the member holds (NumPy allocates the whole promised array before reading it)."""
    info = archive.zip.getinfo(key + ".npy") if key + ".npy" in archive.zip.namelist() else archive.zip.getinfo(key)
    cap = inflate_cap(info.compress_size)
    if info.file_size > cap:
        raise DataError(f"{path}: {key} inflates from {info.compress_size:,} to {info.file_size:,} bytes "
                        f"(over {cap:,}); refused as a zip bomb")
    with archive.zip.open(info) as member:
        version = np.lib.format.read_magic(member)
        if version not in ((1, 0), (2, 0)):
            return  # NumPy itself refuses what it cannot read
        reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = reader(member)
        promised = int(np.prod(shape, dtype=object)) * dtype.itemsize
        if not dtype.hasobject and promised > info.file_size:
            raise DataError(f"{path}: {key} promises {promised:,} bytes of {dtype} {shape} but holds "
                            f"{info.file_size:,}; damaged or forged")


def _array(archive, key: str, path: Path) -> np.ndarray:
    _check_member(archive, key, path)
    try:
        array = archive[key]
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise DataError(f"{path}: {key} is an array of Python objects; nnback reads only numeric "
                            "or text arrays (object arrays would need pickle, which can run code)") from None
        raise
    if array.ndim == 0:
        raise DataError(f"{path}: {key} is a single value, not an array of samples")
    return array
