"""Keras' ``mnist.npz``: arrays x_train, y_train, x_test, y_test (uint8 images 28x28).

Read with ``allow_pickle=False``, so an npz file can hold only plain arrays, never code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..data import DataError
from .checks import Parts, checked_split, describe, printable

KEYS = ("x_train", "y_train", "x_test", "y_test")


def read_npz(path: Path) -> Parts:
    """The training and test splits of a Keras-style npz file."""
    arrays = {}
    try:
        with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as archive:
            missing = [key for key in KEYS if key not in archive.files]
            if missing:
                held = ", ".join(printable(name) for name in archive.files) or "nothing"
                raise DataError(f"{path}: missing {', '.join(missing)} (it holds {held}); "
                                f"Keras' mnist.npz holds {', '.join(KEYS)}")
            for key in KEYS:
                arrays[key] = _array(archive, key, path)
    except DataError:
        raise
    except Exception as error:  # zipfile and numpy raise many types for a damaged archive
        raise DataError(f"{path}: damaged npz archive ({describe(error)})") from None
    return Parts(
        train=checked_split(arrays["x_train"], arrays["y_train"], f"{path} (x_train, y_train)"),
        test=checked_split(arrays["x_test"], arrays["y_test"], f"{path} (x_test, y_test)"),
    )


def _array(archive, key: str, path: Path) -> np.ndarray:
    try:
        return archive[key]
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise DataError(f"{path}: {key} is an array of Python objects; nnback reads only numeric "
                            "arrays (object arrays would need pickle, which can run code)") from None
        raise

