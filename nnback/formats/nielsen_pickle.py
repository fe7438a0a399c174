"""Nielsen's ``mnist.pkl.gz``: a pickled tuple (training, validation, test) of (images, labels)
pairs, images float in [0, 1] of shape (n, 784), labels integers; 50,000 / 10,000 / 10,000.

Unpickling can call any function a file names, so this reader admits only the few globals NumPy
needs to rebuild an array and refuses the file on the first other name, before calling anything.
The original file is a Python 2 pickle, hence ``encoding="latin1"``.
"""

from __future__ import annotations

import io
import pickle
import pickletools
import warnings
from pathlib import Path

import numpy as np

from ..data import DataError
from .checks import Part, Parts, describe, printable
from .sniff import read_bytes

PARTS = ("training", "validation", "test")


def _latin1_encode(text, encoding="latin1"):
    """``_codecs.encode`` as protocol-2 pickles use it for bytes, limited to that one use."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("_codecs.encode is admitted only to rebuild bytes from latin1 text")
    return text.encode("latin1")


def _from_buffer(buffer, dtype, shape, order="C"):
    """NumPy's protocol-5 ``_frombuffer``, on a private copy of the bytes."""
    if not isinstance(buffer, (bytes, bytearray)) or not isinstance(dtype, np.dtype):
        raise pickle.UnpicklingError("_frombuffer is admitted only with bytes and a dtype")
    return np.frombuffer(bytes(buffer), dtype=dtype).reshape(shape, order=order)


def _dtype(spec, align=False, copy=False):
    """``numpy.dtype`` as pickles call it; NumPy 1.x wrote the flags as ints 0 and 1, which
    NumPy 2.4 deprecates, so they are passed on as booleans."""
    return np.dtype(spec, bool(align), bool(copy))


def _reconstructors() -> dict:
    """The globals NumPy's own pickles name; the array rebuilder is taken from NumPy itself."""
    reconstruct = np.zeros(0).__reduce__()[0]  # numpy(._)core.multiarray._reconstruct
    allowed: dict[tuple[str, str], object] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): _dtype,
               ("_codecs", "encode"): _latin1_encode}
    for core in ("numpy.core", "numpy._core"):
        allowed[(f"{core}.multiarray", "_reconstruct")] = reconstruct
        allowed[(f"{core}.numeric", "_frombuffer")] = _from_buffer
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
        _check_opcodes(raw)
        return ArraysOnlyUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except ForbiddenObject as refused:
        raise DataError(f"{where}: refused: the pickle asks for {printable(str(refused))}, which a NumPy array never "
                        "needs; only arrays, tuples and numbers are loaded (a pickle can run code)") from None
    except Exception as error:  # a damaged pickle fails in many ways; nothing it names can run
        raise DataError(f"{where}: damaged pickle ({describe(error)})") from None


def _check_opcodes(raw: bytes) -> None:
    """Read the opcodes once without running them. CPython grows its memo table up to the largest
    index a PUT names, so one forged index could make it allocate and zero gigabytes."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pickletools warns about odd escapes in protocol-0 text
        for count, (opcode, argument, _) in enumerate(pickletools.genops(raw)):
            if opcode.name in ("PUT", "BINPUT", "LONG_BINPUT") and isinstance(argument, int) and argument > count:
                raise pickle.UnpicklingError(f"memo index {argument} at opcode {count} is out of sequence")


def read_pickle(path: Path) -> Parts:
    """Nielsen's three splits; his validation split is kept (``val_size`` does not apply)."""
    content = load_arrays_only(read_bytes(path), str(path))
    if not _is_pairs(content):
        raise DataError(f"{path}: expected a tuple of three (images, labels) pairs as in Nielsen's "
                        f"mnist.pkl.gz; found {_describe(content)}")
    parts = [Part(images, labels, f"{path} ({part})") for (images, labels), part in zip(content, PARTS)]
    shape = (28, 28) if parts[0].x.ndim == 2 and parts[0].x.shape[1] == 784 else "auto"
    return Parts(train=parts[0], val=parts[1], test=parts[2], image_shape=shape)


def _is_pairs(content) -> bool:
    return (isinstance(content, (tuple, list)) and len(content) == 3
            and all(isinstance(pair, (tuple, list)) and len(pair) == 2 for pair in content)
            and all(isinstance(array, np.ndarray) for pair in content for array in pair))


def _describe(content) -> str:
    if isinstance(content, (tuple, list)):
        inner = ", ".join(type(item).__name__ for item in content[:4])
        return f"a {type(content).__name__} of {len(content)} ({inner}{', ...' if len(content) > 4 else ''})"
    return f"a {type(content).__name__}"
