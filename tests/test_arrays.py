"""nnback's namespace lookup, remembered per array type, answers as array_api_compat does."""

from __future__ import annotations

import array_api_compat
import numpy as np
import pytest

from conftest import make_backend
from nnback.arrays import array_namespace


def test_the_remembered_namespace_is_array_api_compat_s(backend_name):
    backend = make_backend(backend_name)
    x = backend.asarray(np.ones((2, 3)))
    y = backend.xp.asarray([0, 1], device=backend.device)
    for arrays in ((x,), (x, y), (x[0, 0],)):
        for _ in range(2):  # looked up, then remembered
            assert array_namespace(*arrays) is array_api_compat.array_namespace(*arrays)


def test_arrays_of_two_libraries_are_refused_every_time():
    strict = make_backend("array_api_strict")
    mixed = (np.ones(2), strict.asarray(np.ones(2)))
    for _ in range(2):
        with pytest.raises(TypeError):
            array_namespace(*mixed)
