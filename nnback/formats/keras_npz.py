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
from .sniff import regular

KEYS = ("x_train", "y_train", "x_test", "y_test")


def read_npz(path: Path) -> Parts:
    """The parts of a Keras-style npz file (test None when it holds only one part)."""
    regular(path)
    try:
        with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as archive:
            files = set(archive.files)
            if {"x_train", "y_train"} <= files:
                test = {"x_test", "y_test"} & files
                if len(test) == 1:
                    raise DataError(f"{path}: holds {test.pop()} without its partner; a test part needs x_test and y_test")
                keys = KEYS if test else KEYS[:2]
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


def _array(archive, key: str, path: Path) -> np.ndarray:
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
