"""Each optimizer's update against the formula computed by hand on the host."""

from __future__ import annotations

import numpy as np
import pytest

from nnback import to_numpy
from nnback.model import MLP, Dense
from nnback.activations import get_activation
from nnback.optimizers import SGD, Adam, make_optimizer
from conftest import assert_close


def one_layer(backend, w, b, dw, db):
    # Copies: on NumPy an upload shares memory with its host array, and the updates are in place.
    layer = Dense(backend.asarray(w.copy()), backend.asarray(b.copy()))
    layer.dw, layer.db = backend.asarray(dw), backend.asarray(db)
    return MLP([layer], [], get_activation("softmax"))


@pytest.fixture
def arrays(rng):
    return rng.standard_normal((3, 2)), rng.standard_normal(2), rng.standard_normal((3, 2)), rng.standard_normal(2)


def test_sgd_step_with_weight_decay(backend, arrays):
    w, b, dw, db = arrays
    model = one_layer(backend, w, b, dw, db)
    SGD(lr=0.1, weight_decay=0.01).step(model)
    assert_close(model.layers[0].w, w - 0.1 * (dw + 0.01 * w))
    assert_close(model.layers[0].b, b - 0.1 * db)  # biases are not decayed


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_two_steps(backend, arrays, nesterov):
    w, b, dw, db = arrays
    model = one_layer(backend, w, b, dw, db)
    optimizer = SGD(lr=0.1, momentum=0.9, nesterov=nesterov)
    optimizer.step(model)
    optimizer.step(model)  # same gradient twice: v1 = g, v2 = 1.9 g
    v1, v2 = dw, 1.9 * dw
    if nesterov:
        expected = w - 0.1 * (dw + 0.9 * v1) - 0.1 * (dw + 0.9 * v2)
    else:
        expected = w - 0.1 * v1 - 0.1 * v2
    assert_close(model.layers[0].w, expected)


def test_adam_two_steps(backend, arrays):
    w, b, dw, db = arrays
    model = one_layer(backend, w, b, dw, db)
    optimizer = Adam(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8)
    expected, m, v = w.copy(), np.zeros_like(w), np.zeros_like(w)
    for t in (1, 2):
        optimizer.step(model)
        m = 0.9 * m + 0.1 * dw
        v = 0.999 * v + 0.001 * dw**2
        m_hat, v_hat = m / (1 - 0.9**t), v / (1 - 0.999**t)
        expected = expected - 0.01 * m_hat / (np.sqrt(v_hat) + 1e-8)
    assert_close(model.layers[0].w, expected, rtol=1e-12)
    assert optimizer.t == 2


def test_updates_keep_float32(backend32, arrays):
    model = one_layer(backend32, *arrays)
    for name in ("sgd", "momentum", "nesterov", "adam"):
        optimizer = make_optimizer(name, 0.1)
        optimizer.step(model)
        state = [a for value in optimizer.state().values() if isinstance(value, list) for a in value]
        for array in [model.layers[0].w, model.layers[0].b, *state]:
            assert array.dtype == backend32.xp.float32


def test_unknown_optimizer_lists_the_valid_names():
    with pytest.raises(ValueError, match="sgd, momentum, nesterov, adam"):
        make_optimizer("rmsprop", 0.1)


def test_adam_first_step_moves_each_weight_by_about_lr(backend, arrays):
    # A property of Adam worth pinning: the first step is lr·sign(g) (up to eps).
    w, b, dw, db = arrays
    model = one_layer(backend, w, b, dw, db)
    Adam(lr=0.01).step(model)
    assert_close(model.layers[0].w, w - 0.01 * np.sign(dw), rtol=1e-6)


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adam"])
def test_state_exists_before_the_first_step_and_is_only_updated_in_place(backend32, rng, name):
    """What a captured step (a CUDA graph) relies on: the arrays it reads never get replaced."""
    model = MLP.create([5, 4, 3], backend32, rng, "relu", "softmax", "he")
    optimizer = make_optimizer(name, 0.1, weight_decay=0.01)
    optimizer.prepare(model.parameters())
    state = [a for value in optimizer.state().values() if isinstance(value, list) for a in value]
    assert [tuple(a.shape) for a in state] == [tuple(p.shape) for p in model.parameters()] * (len(state) // 4)
    assert not any(np.any(to_numpy(a)) for a in state)
    held = [id(a) for a in [*model.parameters(), *state, *optimizer._scalars.values()]]
    for step in range(3):
        optimizer.lr = 0.1 / (step + 1)
        for layer in model.layers:
            layer.dw, layer.db = (backend32.asarray(rng.standard_normal(p.shape)) for p in (layer.w, layer.b))
        optimizer.step(model)
    state = [a for value in optimizer.state().values() if isinstance(value, list) for a in value]
    assert [id(a) for a in [*model.parameters(), *state, *optimizer._scalars.values()]] == held


def test_the_learning_rate_reaches_the_update_through_a_device_scalar(backend32, arrays):
    w, b, dw, db = arrays
    model = one_layer(backend32, w, b, dw, db)
    optimizer = SGD(lr=0.1)
    optimizer.step(model)
    optimizer.lr = 0.5  # as the training loop's schedule sets it
    optimizer.step(model)
    lr = optimizer._scalars["lr"]
    assert lr.shape == () and lr.dtype == backend32.xp.float32
    assert float(to_numpy(lr)) == 0.5
    assert_close(model.layers[0].w, (w - 0.1 * dw) - 0.5 * dw, rtol=1e-6)


def test_loaded_state_gets_fresh_device_scalars(backend, arrays):
    """A checkpoint or a moved estimator loads state that may live elsewhere: scalars follow it."""
    model = one_layer(backend, *arrays)
    optimizer = Adam(lr=0.01)
    optimizer.step(model)
    before = optimizer._scalars
    optimizer.load_state(optimizer.state())
    assert optimizer._scalars is None
    optimizer.step(model)
    assert optimizer._scalars is not before and optimizer.t == 2
