"""Keras' ``mnist.npz``: arrays x_train, y_train, x_test, y_test (uint8 images 28x28).

Read with ``allow_pickle=False``, so an npz file can hold only plain arrays, never code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..data import DataError
from .checks import Parts, checked_split

KEYS = ("x_train", "y_train", "x_test", "y_test")


def read_npz(path: Path) -> Parts:
    """The training and test splits of a Keras-style npz file."""
    arrays = {}
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in KEYS if key not in archive.files]
            if missing:
                raise DataError(f"{path}: missing {', '.join(missing)} (it holds {', '.join(archive.files) or 'nothing'}); "
                                f"Keras' mnist.npz holds {', '.join(KEYS)}")
            for key in KEYS:
                arrays[key] = _array(archive, key, path)
    except DataError:
        raise
    except Exception as error:  # zipfile and numpy raise many types for a damaged archive
        raise DataError(f"{path}: damaged npz archive ({_reason(error)})") from None
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


def _reason(error: Exception) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
