"""Optimizer updates against the textbook formulas, written out in NumPy float64, on every backend.

The optimizers fold scalars and work in place for speed; this pins the arithmetic they must equal.
"""

from __future__ import annotations

import numpy as np
import pytest

from nnback import to_numpy
from nnback.model import MLP
from nnback.optimizers import make_optimizer

from conftest import assert_close

STEPS = 4


def reference(name, params, grads, lr, momentum=0.9, weight_decay=0.0, b1=0.9, b2=0.999, eps=1e-8):
    """The plain formulas: SGD, heavy-ball momentum (v ← μv + g), Nesterov, Adam with bias correction."""
    params = [p.copy() for p in params]
    state = [np.zeros_like(p) for p in params]
    second = [np.zeros_like(p) for p in params]
    for t, step_grads in enumerate(grads, start=1):
        for i, (p, g) in enumerate(zip(params, step_grads)):
            g = g + weight_decay * p if i % 2 == 0 else g  # weights decay, biases do not
            if name == "sgd":
                p -= lr * g
            elif name in ("momentum", "nesterov"):
                state[i] = momentum * state[i] + g
                p -= lr * (g + momentum * state[i] if name == "nesterov" else state[i])
            else:
                state[i] = b1 * state[i] + (1 - b1) * g
                second[i] = b2 * second[i] + (1 - b2) * g * g
                m_hat, v_hat = state[i] / (1 - b1**t), second[i] / (1 - b2**t)
                p -= lr * m_hat / (np.sqrt(v_hat) + eps)
    return params


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adam"])
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_updates_match_the_textbook_formulas(backend, rng, name, weight_decay):
    model = MLP.create([5, 4, 3], backend, rng, "relu", "softmax", "he")
    initial = [to_numpy(p).copy() for p in model.parameters()]
    grads = [[rng.standard_normal(p.shape) for p in initial] for _ in range(STEPS)]
    optimizer = make_optimizer(name, 0.05, momentum=0.9, weight_decay=weight_decay)
    for step_grads in grads:
        for layer, (dw, db) in zip(model.layers, zip(step_grads[0::2], step_grads[1::2])):
            layer.dw, layer.db = backend.asarray(dw), backend.asarray(db)
        optimizer.step(model)
    for actual, expected in zip(model.parameters(), reference(name, initial, grads, 0.05, weight_decay=weight_decay)):
        assert_close(actual, expected, rtol=1e-10, atol=1e-12)


def test_step_leaves_the_gradients_untouched(backend, rng):
    model = MLP.create([5, 4, 3], backend, rng, "relu", "softmax", "he")
    grads = [rng.standard_normal(p.shape) for p in model.parameters()]
    for layer, dw, db in zip(model.layers, grads[0::2], grads[1::2]):
        layer.dw, layer.db = backend.asarray(dw), backend.asarray(db)
    for name in ("sgd", "momentum", "adam"):
        make_optimizer(name, 0.1).step(model)
    for layer, dw, db in zip(model.layers, grads[0::2], grads[1::2]):
        assert_close(layer.dw, dw)
        assert_close(layer.db, db)


@pytest.mark.parametrize("name", ["momentum", "nesterov", "adam"])
def test_blocked_updates_equal_whole_array_updates(backend, rng, name):
    """Small row blocks (as on the CPU) give the same parameters as one block per array."""
    results = []
    for block in (5, 10**9):
        model = MLP.create([7, 6, 3], backend, np.random.default_rng(0), "relu", "softmax", "he")
        optimizer = make_optimizer(name, 0.05)
        optimizer.block = block
        for step in range(STEPS):
            step_rng = np.random.default_rng(step)
            for layer in model.layers:
                layer.dw, layer.db = (backend.asarray(step_rng.standard_normal(p.shape)) for p in (layer.w, layer.b))
            optimizer.step(model)
        results.append([to_numpy(p) for p in model.parameters()])
    for blocked, whole in zip(*results):
        np.testing.assert_allclose(blocked, whole, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["momentum", "adam"])
def test_state_stuck_in_subnormals_is_flushed_to_zero(backend32, rng, name):
    """Decaying state under zero gradients must reach 0, not stick at float32's smallest subnormal."""
    from nnback.optimizers import FLUSH_EVERY

    model = MLP.create([5, 4, 3], backend32, rng, "relu", "softmax", "he")
    optimizer = make_optimizer(name, 0.05)
    for layer in model.layers:
        layer.dw, layer.db = (backend32.asarray(np.zeros(p.shape)) for p in (layer.w, layer.b))
    optimizer.step(model)
    state = optimizer.velocity if name == "momentum" else optimizer.m
    smallest = backend32.asarray(np.full(state[0].shape, np.finfo(np.float32).smallest_subnormal))
    state[0][...] = smallest
    for _ in range(FLUSH_EVERY):
        optimizer.step(model)
    assert not np.any(to_numpy(state[0]))
