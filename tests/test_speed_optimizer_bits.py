"""Optimizer updates are bit-identical to the values stored in ``data/optimizer_bits.npz``.

Those values were computed with the optimizers as they were at commit 3a366d9, before the update
moved its per-step scalars (lr, Adam's bias corrections) into device arrays and ran its blocks on a
thread pool: a speed change must not move a single bit. Every optimizer, with and without weight
decay, float32 and float64, on NumPy and array-api-strict, through 40 steps (one subnormal flush)
and two learning-rate changes made the way the training loop makes them (``optimizer.lr = …``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nnback import to_numpy
from nnback.model import MLP
from nnback.optimizers import make_optimizer

from conftest import make_backend

STORED = Path(__file__).parent / "data" / "optimizer_bits.npz"
STEPS, LR_CHANGES = 40, {10: 0.03, 25: 0.02}
CASES = [(name, decay) for name in ("sgd", "momentum", "nesterov", "adam") for decay in (0.0, 0.01)]


def trajectory(backend, name: str, weight_decay: float, block=None) -> list[np.ndarray]:
    """The parameters (host copies) after STEPS updates with seeded gradients, some rows zero."""
    model = MLP.create([7, 6, 3], backend, np.random.default_rng(5), "relu", "softmax", "he")
    optimizer = make_optimizer(name, 0.05, momentum=0.9, weight_decay=weight_decay)
    if block is not None:
        optimizer.block = block
    grads = np.random.default_rng(6)
    for step in range(STEPS):
        if step in LR_CHANGES:
            optimizer.lr = LR_CHANGES[step]
        for layer in model.layers:
            dw, db = grads.standard_normal(layer.shape), grads.standard_normal(layer.shape[1])
            dw[0] = 0.0  # a row that never gets a gradient, as MNIST's blank border pixels
            layer.dw, layer.db = backend.asarray(dw), backend.asarray(db)
        optimizer.step(model)
    return [to_numpy(p).copy() for p in model.parameters()]


def key(backend_name: str, dtype: str, name: str, decay: float, i: int) -> str:
    return f"{backend_name}.{dtype}.{name}.{decay}.{i}"


def compute_all() -> dict[str, np.ndarray]:
    """Every stored array, keyed by backend, dtype, optimizer, weight decay and parameter index."""
    out = {}
    for backend_name in ("numpy", "array_api_strict"):
        for dtype in ("float32", "float64"):
            backend = make_backend(backend_name, dtype)
            for name, decay in CASES:
                for i, p in enumerate(trajectory(backend, name, decay)):
                    out[key(backend_name, dtype, name, decay, i)] = p
    return out


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name, decay", CASES)
def test_updates_are_bit_identical_to_the_stored_values(backend_name, dtype, name, decay):
    if backend_name == "cupy":
        pytest.skip("stored values are for NumPy and array-api-strict")
    backend = make_backend(backend_name, dtype)
    stored = np.load(STORED)
    # PyTorch's elementwise kernels round like NumPy's: it reproduces NumPy's values (Adam to ulps).
    reference = "numpy" if backend_name == "torch" else backend_name
    for i, p in enumerate(trajectory(backend, name, decay)):
        expected = stored[key(reference, dtype, name, decay, i)]
        assert p.dtype == expected.dtype
        if backend_name == "torch" and name == "adam":  # torch's vectorised sqrt/divide: a few ulps apart
            np.testing.assert_allclose(p, expected, rtol=2e-5 if dtype == "float32" else 1e-13, atol=1e-12)
            continue
        np.testing.assert_array_equal(p.view(np.uint8), expected.view(np.uint8), err_msg=f"parameter {i}")


if __name__ == "__main__":  # regenerate only on purpose: these values pin today's arithmetic
    np.savez(STORED, **compute_all())
