"""Dense layers pick product layouts for speed (the weight gradient by batch length); the results must not depend on it."""

from __future__ import annotations

import pytest

from nnback import to_numpy
from nnback.model import Dense

from conftest import assert_close


@pytest.mark.parametrize("batch", [3, 8, 40])  # shorter than, equal to and longer than n_in
def test_dense_forward_and_backward_equal_the_plain_products(backend, rng, batch):
    w, b = rng.standard_normal((8, 5)), rng.standard_normal(5)
    x, dz = rng.standard_normal((batch, 8)), rng.standard_normal((batch, 5))
    layer = Dense(backend.asarray(w), backend.asarray(b))
    z = layer.forward(backend.asarray(x))
    dx = layer.backward(backend.asarray(x), backend.asarray(dz))
    assert tuple(z.shape) == (batch, 5) and tuple(dx.shape) == (batch, 8)
    assert_close(z, x @ w + b, rtol=1e-12)
    assert_close(dx, dz @ w.T, rtol=1e-12)
    assert_close(layer.dw, x.T @ dz, rtol=1e-12)
    assert_close(layer.db, dz.sum(axis=0), rtol=1e-12)
    if batch < 8:  # mini-batches: the update walks dw in row blocks, so it must stay row-major
        assert to_numpy(layer.dw).flags.c_contiguous
