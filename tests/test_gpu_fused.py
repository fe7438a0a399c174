"""The fused CuPy optimizer kernels (``cuda_kernels.py``, experimental) update as the Array API
reference does, bit for bit: every optimizer, with and without weight decay, float32 and float64,
40 steps with learning-rate changes and a subnormal flush. Skipped cleanly without CuPy and a GPU."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import make_backend
from test_speed_optimizer_bits import CASES, trajectory

pytestmark = pytest.mark.cuda


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name, weight_decay", CASES)
def test_fused_kernels_update_as_the_reference_does(monkeypatch, name, weight_decay, dtype):
    backend = make_backend("cupy", dtype)
    monkeypatch.delenv("NNBACK_CUDA_FUSED", raising=False)  # the reference, whatever the caller's environment
    reference = trajectory(backend, name, weight_decay)
    from nnback import cuda_kernels

    built = {}
    monkeypatch.setattr(cuda_kernels, "_kernels", built)  # an empty cache: it fills only if the fused path runs
    monkeypatch.setenv("NNBACK_CUDA_FUSED", "1")
    fused = trajectory(backend, name, weight_decay)
    assert built
    for a, b in zip(fused, reference):
        np.testing.assert_array_equal(a, b)
