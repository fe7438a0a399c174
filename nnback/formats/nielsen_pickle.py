"""Nielsen's ``mnist.pkl.gz``: a pickled tuple (training, validation, test) of (images, labels)
pairs, images float in [0, 1] of shape (n, 784), labels integers; 50,000 / 10,000 / 10,000.

Unpickling can call any function a file names, so this reader admits only the few globals NumPy
needs to rebuild an array and refuses the file on the first other name, before calling anything.
The original file is a Python 2 pickle, hence ``encoding="latin1"``.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np

from ..data import DataError
from .checks import Parts, checked_split
from .sniff import read_bytes

PARTS = ("training", "validation", "test")


def _latin1_encode(text, encoding="latin1"):
    """``_codecs.encode`` as protocol-2 pickles use it for bytes, limited to that one use."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("_codecs.encode is admitted only to rebuild bytes from latin1 text")
    return text.encode("latin1")


def _reconstructors() -> dict:
    """The functions NumPy's own pickles name, taken from NumPy itself, not imported by name."""
    reconstruct = np.zeros(0).__reduce__()[0]  # numpy(._)core.multiarray._reconstruct
    frombuffer = np.zeros(1).__reduce_ex__(5)[0]  # numpy(._)core.numeric._frombuffer (protocol 5)
    allowed = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
               ("_codecs", "encode"): _latin1_encode}
    for core in ("numpy.core", "numpy._core"):
        allowed[(f"{core}.multiarray", "_reconstruct")] = reconstruct
        allowed[(f"{core}.numeric", "_frombuffer")] = frombuffer
    return allowed


class ForbiddenObject(pickle.UnpicklingError):
    """The pickle names something beyond NumPy array reconstruction."""


class ArraysOnlyUnpickler(pickle.Unpickler):
    """An unpickler that can build NumPy arrays, tuples, lists and numbers, and nothing else."""

    allowed = _reconstructors()

    def find_class(self, module: str, name: str):
        try:
            return self.allowed[(module, name)]
        except KeyError:
            raise ForbiddenObject(f"{module}.{name}") from None

    def persistent_load(self, pid):
        raise ForbiddenObject("a persistent object reference")


def load_arrays_only(raw: bytes, where: str):
    """Unpickle ``raw`` with :class:`ArraysOnlyUnpickler`; every failure is a DataError."""
    try:
        return ArraysOnlyUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except ForbiddenObject as refused:
        raise DataError(f"{where}: refused: the pickle asks for {refused}, which a NumPy array never "
                        "needs; only arrays, tuples and numbers are loaded (a pickle can run code)") from None
    except Exception as error:  # a damaged pickle fails in many ways; nothing it names can run
        text = str(error).strip().splitlines()[0][:120] if str(error).strip() else ""
        raise DataError(f"{where}: damaged pickle ({type(error).__name__}{': ' + text if text else ''})") from None


def read_pickle(path: Path) -> Parts:
    """Nielsen's three splits; his validation split is kept (``--val-size`` does not apply)."""
    content = load_arrays_only(read_bytes(path), str(path))
    if not _is_pairs(content):
        raise DataError(f"{path}: expected a tuple of three (images, labels) pairs as in Nielsen's "
                        f"mnist.pkl.gz; found {_describe(content)}")
    splits = [checked_split(images, labels, f"{path} ({part})")
              for (images, labels), part in zip(content, PARTS)]
    return Parts(train=splits[0], val=splits[1], test=splits[2])


def _is_pairs(content) -> bool:
    return (isinstance(content, (tuple, list)) and len(content) == 3
            and all(isinstance(pair, (tuple, list)) and len(pair) == 2 for pair in content)
            and all(isinstance(array, np.ndarray) for pair in content for array in pair))


def _describe(content) -> str:
    if isinstance(content, (tuple, list)):
        inner = ", ".join(type(item).__name__ for item in content[:4])
        return f"a {type(content).__name__} of {len(content)} ({inner}{', ...' if len(content) > 4 else ''})"
    return f"a {type(content).__name__}"
